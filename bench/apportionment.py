"""Benchmark: prepare and execute an apportionment run over 100,000 and 1,000,000 synthetic
members on PostgreSQL (database `bench`), against a hand-written baseline measured in the same
run on an identical copy of the data.

The baseline is the fewest plain SQL statements that do the same debits, ledger rows and
suspensions in ONE transaction (ledger transaction, postings INSERT … SELECT, suspension UPDATE,
debit UPDATE, pool UPDATE). It is rolled back and the tables vacuumed, so the engine then runs
on the same data. Each size runs in its own process, so the peak RSS is per size.

The baseline's time EXCLUDES its COMMIT (it is rolled back, never committed), while the
engine's execute time includes every chunk's commit: the ratio slightly favours the baseline.

    .venv/bin/python bench/apportionment.py [--sizes 100000,1000000] [--url postgresql://…/bench]
                                            [--chunk-size N] [--workers 1,2]

With --workers, each size is generated afresh for each worker count and executed by that many
worker processes at once (each `apportionment.execute`: claim pending chunks, FOR UPDATE SKIP
LOCKED, until none is left; the last settles), timed from the moment all have imported the app
and are released together until the last exits; no baseline. The table gives the speed-up over
the first worker count.
    env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/bench; the database is
    wiped: its public schema is dropped and re-created)
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench")
NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc)
PLAN = "adult_789"

BASELINE = [
    """INSERT INTO ledger_transactions (idempotency_key, request_hash, reason, reference_type, reference_id, created_at)
       VALUES ('baseline', 'x', 'deduction', 'baseline', NULL, :now) RETURNING id""",
    """INSERT INTO postings (transaction_id, account_id, amount_fen)
       SELECT :txn, a.id, -CAST(:share AS BIGINT) FROM accounts a JOIN memberships m ON m.id = a.membership_id
        WHERE a.plan_id = :plan AND m.state IN ('observing','protected') AND a.balance_fen >= :share
       UNION ALL
       SELECT :txn, :pool, CAST(:share AS BIGINT) * COUNT(*) FROM accounts a JOIN memberships m ON m.id = a.membership_id
        WHERE a.plan_id = :plan AND m.state IN ('observing','protected') AND a.balance_fen >= :share""",
    """UPDATE memberships m SET state = 'suspended', state_before_suspension = m.state, suspended_at = :now,
              grace_ends_at = :now, state_changed_at = :now
         FROM accounts a WHERE a.membership_id = m.id AND m.plan_id = :plan
          AND m.state IN ('observing','protected') AND a.balance_fen < :share""",
    """UPDATE accounts a SET balance_fen = a.balance_fen - :share FROM memberships m
        WHERE m.id = a.membership_id AND a.plan_id = :plan AND m.state IN ('observing','protected')
          AND a.balance_fen >= :share""",
    """UPDATE accounts SET balance_fen = balance_fen + CAST(:share AS BIGINT) *
              (SELECT COUNT(*) FROM postings WHERE transaction_id = :txn AND account_id <> :pool) WHERE id = :pool""",
]


_WORKER = """
import sys, time, datetime as dt, sqlalchemy as sa
from sqlalchemy.orm import Session
from app.services import apportionment
from app.services.apportionment import engine as run_engine
engine = sa.create_engine(sys.argv[1])
settle_if_done = run_engine.settle_if_done


def timed_settle(*args, **kwargs):  # the serial tail: settlement (ledger, claims, Merkle root of the debits)
    t = time.perf_counter()
    out = settle_if_done(*args, **kwargs)
    print("settle_s", round(time.perf_counter() - t, 2), flush=True)
    return out


run_engine.settle_if_done = timed_settle
print("ready", flush=True)
run_id, now = sys.stdin.readline().split()
with Session(engine) as s:
    print("done", apportionment.execute(s, int(run_id), dt.datetime.fromisoformat(now)).status, flush=True)
"""


def _execute_with_workers(url: str, run_id: int, workers: int) -> tuple[float, float]:
    """Seconds for `workers` processes, released together, to execute the run, and of its settlement."""
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, url], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    t = time.perf_counter()
    for p in procs:
        p.stdin.write(f"{run_id} {NOW.isoformat()}\n")
        p.stdin.flush()
    settle_s = 0.0
    for p in procs:
        for line in p.stdout.read().splitlines():
            if line.startswith("settle_s"):
                settle_s = max(settle_s, float(line.split()[1]))
        p.wait()
    elapsed = time.perf_counter() - t
    assert all(p.returncode == 0 for p in procs), [p.returncode for p in procs]
    return elapsed, settle_s


def one_size(url: str, members: int, chunk_size: int, workers: int = 0) -> dict:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from app import create_app
    from bench.synthetic import add_case, generate_members
    from config import TestingConfig

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    cfg = TestingConfig().as_dict()
    cfg.update(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={}, WECHAT_KEYS_DIR=str(ROOT / "instance" / "wechat-keys"))
    app = create_app(cfg)
    with app.app_context():
        from flask_migrate import upgrade

        from app.extensions import db
        from app.services.plans import load_catalogue

        upgrade()
        load_catalogue(db.session, app.config["PLANS_FILE"], NOW)
        db.session.remove()
        db.engine.dispose()

    from app.services import apportionment, ledger

    started = time.perf_counter()
    with Session(engine) as s, s.begin():
        generate_members(s, PLAN, members, NOW)
        add_case(s, PLAN, 30_000_000, NOW)
    generate_s = time.perf_counter() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))

    with Session(engine) as s:
        t = time.perf_counter()
        run = apportionment.prepare(s, PLAN, NOW, chunk_size=chunk_size)
        prepare_s = time.perf_counter() - t
        run_id, share, payers = run.id, run.share_fen, run.payer_count
        apportionment.publish(s, run_id, NOW)
        plan_id = run.plan_id
        pool = ledger.account_id(s, ledger.plan_account_code(PLAN, "plan_pool"))

    if workers:
        execute_s, settle_s = _execute_with_workers(url, run_id, workers)
        with Session(engine) as s:
            run = apportionment.get_run(s, run_id)
            from app.services.audit import audit_ledger

            out = {"members": members, "workers": workers, "payers": run.debited_count, "status": run.status,
                   "chunks": apportionment.progress(s, run)["chunks_total"], "execute_s": round(execute_s, 2),
                   "settle_s": settle_s,
                   "payers_per_s": int(run.debited_count / execute_s), "audit_ok": audit_ledger(s).ok}
        engine.dispose()
        assert out["payers"] == payers and out["status"] == "executed", out
        return out

    # Baseline, one transaction, timed WITHOUT a commit, then rolled back: the data stays identical for the engine.
    with engine.connect() as conn:
        trans = conn.begin()
        params = {"now": NOW, "share": share, "plan": plan_id, "pool": pool}
        t = time.perf_counter()
        params["txn"] = conn.execute(sa.text(BASELINE[0]), params).scalar_one()
        for statement in BASELINE[1:]:
            conn.execute(sa.text(statement), params)
        baseline_s = time.perf_counter() - t
        baseline_payers = conn.execute(sa.text("SELECT COUNT(*) - 1 FROM postings WHERE transaction_id = :txn"),
                                       params).scalar_one()
        trans.rollback()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE accounts, memberships, postings, ledger_transactions"))

    with Session(engine) as s:
        t = time.perf_counter()
        run = apportionment.execute(s, run_id, NOW)
        execute_s = time.perf_counter() - t
        paid, suspended, status = run.debited_count, run.suspended_count, run.status
        from app.services.audit import audit_ledger

        t = time.perf_counter()
        audit_ok = audit_ledger(s).ok
        audit_s = time.perf_counter() - t
    engine.dispose()
    assert paid == baseline_payers == payers, (paid, baseline_payers, payers)
    return {
        "members": members, "payers": paid, "suspended": suspended, "share_fen": share, "status": status,
        "generate_s": round(generate_s, 2), "prepare_s": round(prepare_s, 3), "execute_s": round(execute_s, 2),
        "baseline_s": round(baseline_s, 2), "ratio": round(execute_s / baseline_s, 2),
        "payers_per_s": int(paid / execute_s), "baseline_payers_per_s": int(paid / baseline_s),
        "audit_ok": audit_ok, "audit_s": round(audit_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--chunk-size", type=int, default=None, help="default: the app's APPORTIONMENT_CHUNK_SIZE")
    parser.add_argument("--workers", default=None, help="e.g. 1,2: parallel worker processes, no baseline")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--one-workers", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chunk_size is None:
        from config import BaseConfig

        args.chunk_size = BaseConfig.APPORTIONMENT_CHUNK_SIZE
    if args.one:
        print(json.dumps(one_size(args.url, args.one, args.chunk_size, args.one_workers)))
        return
    print(f"chunk size {args.chunk_size}")
    if args.workers:
        _workers_table(args)
        return
    print(f"{'members':>9} {'payers':>9} {'share':>5} {'prepare s':>9} {'execute s':>9} {'baseline s':>10} "
          f"{'ratio':>5} {'payers/s':>9} {'base/s':>9} {'peak RSS MB':>11} audit")
    for size in (int(x) for x in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--url", args.url, "--one", str(size),
                              "--chunk-size", str(args.chunk_size)],
                             capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            sys.exit(f"size {size} failed:\n{out.stderr[-3000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['members']:>9} {r['payers']:>9} {r['share_fen']:>5} {r['prepare_s']:>9} {r['execute_s']:>9} "
              f"{r['baseline_s']:>10} {r['ratio']:>5} {r['payers_per_s']:>9} {r['baseline_payers_per_s']:>9} "
              f"{r['peak_rss_mb']:>11} {'ok' if r['audit_ok'] else 'FAILED'}", flush=True)


def _workers_table(args) -> None:
    print(f"{'members':>9} {'workers':>7} {'chunks':>6} {'payers':>9} {'execute s':>9} {'settle s':>8} "
          f"{'payers/s':>9} {'speed-up':>8} audit")
    for size in (int(x) for x in args.sizes.split(",")):
        first = None
        for workers in (int(x) for x in args.workers.split(",")):
            out = subprocess.run([sys.executable, __file__, "--url", args.url, "--one", str(size),
                                  "--chunk-size", str(args.chunk_size), "--one-workers", str(workers)],
                                 capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                sys.exit(f"size {size} × {workers} workers failed:\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            first = first or r["execute_s"]
            print(f"{r['members']:>9} {r['workers']:>7} {r['chunks']:>6} {r['payers']:>9} {r['execute_s']:>9} "
                  f"{r['settle_s']:>8} {r['payers_per_s']:>9} {first / r['execute_s']:>8.2f} {'ok' if r['audit_ok'] else 'FAILED'}",
                  flush=True)


if __name__ == "__main__":
    main()
