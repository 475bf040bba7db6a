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
                                            [--chunk-size N] [--workers 1,2] [--execute-workers N]

With --workers, each size is generated afresh for each worker count and executed by that many
worker processes at once (each `apportionment.execute`: claim pending chunks, FOR UPDATE SKIP
LOCKED, until none is left; the last settles), timed from the moment all have imported the app
and are released together until the last exits (`whole s`; `execute s` stops before the notice
parts the workers write last); no baseline. The table gives the speed-up of execute over the first
worker count. With --same-data, each size is generated once and the worker counts execute
one run each on it, in order, a day apart (a new case each): the second run's payers are the first's
minus those its share suspended; each worker's peak RSS is printed (its own VmHWM).
    env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/bench; the database is
    wiped: its public schema is dropped and re-created)

The third column is the lean limit: in the same process and minute, schema `lean` holds the same
members (id, plan_id, state, balance_fen copied from memberships + accounts: same count, same
balances) and a ledger table with a primary key only; ONE statement (a CTE) debits the payers,
writes one ledger row each and suspends the rest, committed. It is what PostgreSQL does on this box
with no double entry, no audit trail beyond one row per debit, no integrity checks: the floor.
The engine's execute is split into its chunks (debits, postings, suspensions, each chunk's Merkle leaf
hashes), its settlement (ledger, claims, the Merkle root of the stored leaves) and its announcement
(run.executed, the suspended and balance-low notices, the share-deducted notices cut into parts), timed
separately: the run is executed and announced when that commits (`execute s`, exec/lean). The members'
share-deducted notices are then written in parts by the workers still there (`notices s`): the push
outbox, which the delivery worker drains at WeChat's pace (bench/fanout.py: ~500 messages/s), so
nothing about the run waits for them; `whole s` and whole/lean include them. The lean limit writes no
notices.
With --execute-workers N the engine's execute is done by N worker processes released together (as
--workers does), after the baseline and the lean limit on the same data.

Members are generated in transactions of at most 1,000,000 (set-based, memory bounded), so the
10,000,000 size runs in the same way (about 1.1 GB of database per million members), in families: a
user per MEMBERS_PER_USER memberships, so the per-user notices are as many rows as in life.
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
GENERATE_BATCH = 1_000_000
# Families: a user per two memberships (themselves and a child or parent), so the run's per-user notices
# are as many rows as they would be (with one user for everyone, share_deducted was a single row).
MEMBERS_PER_USER = 2

# The lean limit: the same members and balances in a minimal schema, one statement.
LEAN_SETUP = [
    "DROP SCHEMA IF EXISTS lean CASCADE",
    "CREATE SCHEMA lean",
    """CREATE TABLE lean.members AS
       SELECT m.id, m.plan_id, m.state, a.balance_fen FROM memberships m JOIN accounts a ON a.membership_id = m.id""",
    "ALTER TABLE lean.members ADD PRIMARY KEY (id)",
    "CREATE TABLE lean.ledger (id BIGSERIAL PRIMARY KEY, member_id BIGINT NOT NULL, amount_fen BIGINT NOT NULL)",
]
LEAN = """
WITH paid AS (
    UPDATE lean.members SET balance_fen = balance_fen - :share
     WHERE plan_id = :plan AND state IN ('observing','protected') AND balance_fen >= :share
    RETURNING id
), written AS (
    INSERT INTO lean.ledger (member_id, amount_fen) SELECT id, -CAST(:share AS BIGINT) FROM paid RETURNING 1
), suspended AS (
    UPDATE lean.members SET state = 'suspended'
     WHERE plan_id = :plan AND state IN ('observing','protected') AND balance_fen < :share
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM written), (SELECT COUNT(*) FROM suspended)
"""

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
settle_if_done, announce_executed, write_notices = (run_engine.settle_if_done, run_engine.announce_executed,
                                                    run_engine.write_notices)


def timed_settle(*args, **kwargs):  # the serial tail: settlement, then the announcement
    t = time.perf_counter()
    out = settle_if_done(*args, **kwargs)
    print("settle_s", round(time.perf_counter() - t, 3), flush=True)
    return out


def timed_announce(*args, **kwargs):  # run.executed, its notices, the parts cut (inside settle_if_done)
    t = time.perf_counter()
    out = announce_executed(*args, **kwargs)
    print("announce_s", round(time.perf_counter() - t, 3), flush=True)
    return out


def timed_notices(*args, **kwargs):  # the notice parts this worker wrote (after settle_if_done)
    t = time.perf_counter()
    out = write_notices(*args, **kwargs)
    print("notices_s", round(time.perf_counter() - t, 3), flush=True)
    return out


run_engine.settle_if_done, run_engine.announce_executed, run_engine.write_notices = (
    timed_settle, timed_announce, timed_notices)
print("ready", flush=True)
run_id, now = sys.stdin.readline().split()
with Session(engine) as s:
    print("done", apportionment.execute(s, int(run_id), dt.datetime.fromisoformat(now)).status, flush=True)
# This process's own peak (VmHWM: ru_maxrss would carry the parent's across exec).
print("peak_rss_kb", next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")), flush=True)
"""


def _execute_with_workers(url: str, run_id: int, workers: int, now: dt.datetime = NOW) -> dict:
    """`workers` processes, released together, execute the run. Returns the wall seconds until the
    last exits (`whole_s`) and, each the longest worker's: `settle_s` (settlement with the announcement
    inside it), `announce_s`, `notices_s` (the notice parts, each worker's last work); `peaks`: each
    worker's peak RSS in MB."""
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, url], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    t = time.perf_counter()
    for p in procs:
        p.stdin.write(f"{run_id} {now.isoformat()}\n")
        p.stdin.flush()
    out = {"settle_s": 0.0, "announce_s": 0.0, "notices_s": 0.0, "peaks": []}
    for p in procs:
        times = {"settle_s": 0.0, "announce_s": 0.0, "notices_s": 0.0}
        for line in p.stdout.read().splitlines():
            name, *value = line.split() or [""]
            if name in times:
                times[name] += float(value[0])
            if line.startswith("peak_rss_kb"):
                out["peaks"].append(round(int(line.split()[1]) / 1024, 1))
        for name, value in times.items():
            out[name] = max(out[name], value)
        p.wait()
    out["whole_s"] = time.perf_counter() - t
    assert all(p.returncode == 0 for p in procs), [p.returncode for p in procs]
    return out


def _phases(whole_s: float, settle_s: float, announce_s: float, notices_s: float) -> dict:
    """The run's phases from the timings: executed and announced = whole minus the notice parts that
    follow; chunks = that minus settlement (the announcement is inside settlement's call)."""
    execute_s = whole_s - notices_s
    return {"whole_s": round(whole_s, 2), "execute_s": round(execute_s, 2), "chunks_s": round(execute_s - settle_s, 2),
            "settle_s": round(settle_s - announce_s, 2), "announce_s": round(announce_s, 2),
            "notices_s": round(notices_s, 2)}


def one_size(url: str, members: int, chunk_size: int, workers: int = 0, sequence: list[int] | None = None,
             execute_workers: int = 0) -> dict:
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
    for batch, first in enumerate(range(0, members, GENERATE_BATCH)):
        with Session(engine) as s, s.begin():  # one transaction per batch: bounded memory, bounded WAL
            generate_members(s, PLAN, min(GENERATE_BATCH, members - first), NOW, tag=f"syn{batch}",
                             members_per_user=MEMBERS_PER_USER)
    with Session(engine) as s, s.begin():
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

    if sequence:  # one generation, then one run per worker count on the same members, a day apart
        runs = []
        for k, count in enumerate(sequence):
            now = NOW + dt.timedelta(days=k)
            if k:
                with Session(engine) as s, s.begin():
                    add_case(s, PLAN, 30_000_000, now)
                with Session(engine) as s:
                    run = apportionment.prepare(s, PLAN, now, chunk_size=chunk_size)
                    run_id, payers = run.id, run.payer_count
                    apportionment.publish(s, run_id, now)
            timed = _execute_with_workers(url, run_id, count, now)
            phases = _phases(timed["whole_s"], timed["settle_s"], timed["announce_s"], timed["notices_s"])
            with Session(engine) as s:
                run = apportionment.get_run(s, run_id)
                assert run.debited_count == payers and run.status == "executed", (run.debited_count, payers)
                runs.append({"workers": count, "payers": payers, "chunks": apportionment.progress(s, run)["chunks_total"],
                             **phases, "payers_per_s": int(payers / phases["execute_s"]),
                             "worker_peak_rss_mb": timed["peaks"]})
        with Session(engine) as s:
            from app.services.audit import audit_ledger

            t = time.perf_counter()
            audit_ok = audit_ledger(s).ok
            audit_s = time.perf_counter() - t
        engine.dispose()
        return {"members": members, "generate_s": round(generate_s, 2), "prepare_s": round(prepare_s, 3),
                "runs": runs, "audit_ok": audit_ok, "audit_s": round(audit_s, 2),
                "bench_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}

    if workers:
        timed = _execute_with_workers(url, run_id, workers)
        phases = _phases(timed["whole_s"], timed["settle_s"], timed["announce_s"], timed["notices_s"])
        with Session(engine) as s:
            run = apportionment.get_run(s, run_id)
            from app.services.audit import audit_ledger

            out = {"members": members, "workers": workers, "payers": run.debited_count, "status": run.status,
                   "chunks": apportionment.progress(s, run)["chunks_total"], **phases,
                   "worker_peak_rss_mb": timed["peaks"],
                   "payers_per_s": int(run.debited_count / phases["execute_s"]), "audit_ok": audit_ledger(s).ok}
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

    # The lean limit, committed (like the engine's chunks), then dropped: the disk is the engine's again.
    with engine.begin() as conn:
        for statement in LEAN_SETUP:
            conn.execute(sa.text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE lean.members, lean.ledger"))
    with engine.connect() as conn:
        t = time.perf_counter()
        with conn.begin():
            lean_payers, lean_suspended = conn.execute(sa.text(LEAN), params).one()
        lean_s = time.perf_counter() - t
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA lean CASCADE"))

    from app.services.apportionment import engine as run_engine

    settle_if_done, announce_executed = run_engine.settle_if_done, run_engine.announce_executed
    write_notices = run_engine.write_notices
    spent = {"settle_s": 0.0, "announce_s": 0.0, "notices_s": 0.0}

    def timing(work, name):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return work(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t
        return timed

    # settlement (the announcement inside it), the announcement, the notice parts after settle_if_done
    run_engine.settle_if_done = timing(settle_if_done, "settle_s")
    run_engine.announce_executed = timing(announce_executed, "announce_s")
    run_engine.write_notices = timing(write_notices, "notices_s")
    peak_rss_mb = None
    if execute_workers:  # the engine's run by that many worker processes, after the lean limit as above
        timed = _execute_with_workers(url, run_id, execute_workers)
        whole_s = timed["whole_s"]
        spent.update({name: timed[name] for name in spent})
        peak_rss_mb = max(timed["peaks"])
    with Session(engine) as s:
        if not execute_workers:
            t = time.perf_counter()
            run = apportionment.execute(s, run_id, NOW)
            whole_s = time.perf_counter() - t
        else:
            run = apportionment.get_run(s, run_id)
        paid, suspended, status = run.debited_count, run.suspended_count, run.status
        from app.services.audit import audit_ledger

        t = time.perf_counter()
        audit_ok = audit_ledger(s).ok
        audit_s = time.perf_counter() - t
    engine.dispose()
    assert paid == baseline_payers == payers == lean_payers, (paid, baseline_payers, payers, lean_payers)
    assert suspended == lean_suspended, (suspended, lean_suspended)
    phases = _phases(whole_s, spent["settle_s"], spent["announce_s"], spent["notices_s"])
    return {
        "members": members, "payers": paid, "suspended": suspended, "share_fen": share, "status": status,
        "generate_s": round(generate_s, 2), "prepare_s": round(prepare_s, 3), **phases, "lean_s": round(lean_s, 2),
        "lean_ratio": round(phases["execute_s"] / lean_s, 2), "whole_lean_ratio": round(whole_s / lean_s, 2),
        "chunks_lean_ratio": round(phases["chunks_s"] / lean_s, 2),
        "baseline_s": round(baseline_s, 2), "ratio": round(phases["execute_s"] / baseline_s, 2),
        "payers_per_s": int(paid / phases["execute_s"]), "baseline_payers_per_s": int(paid / baseline_s),
        "audit_ok": audit_ok, "audit_s": round(audit_s, 2),
        "peak_rss_mb": peak_rss_mb or round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "execute_workers": execute_workers,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--chunk-size", type=int, default=None, help="default: the app's APPORTIONMENT_CHUNK_SIZE")
    parser.add_argument("--workers", default=None, help="e.g. 1,2: parallel worker processes, no baseline")
    parser.add_argument("--same-data", action="store_true",
                        help="with --workers: generate each size once and execute one run per worker count on it, "
                             "in order (for 10,000,000 members: one generation instead of one per count)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--one-sequence", default="", help=argparse.SUPPRESS)
    parser.add_argument("--one-workers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--execute-workers", type=int, default=0,
                        help="with the baseline and lean limit: the engine's execute by this many worker processes "
                             "(default 0: in the bench's process); peak RSS is then the largest worker's")
    args = parser.parse_args()
    if args.chunk_size is None:
        from config import BaseConfig

        args.chunk_size = BaseConfig.APPORTIONMENT_CHUNK_SIZE
    if args.one:
        sequence = [int(x) for x in args.one_sequence.split(",") if x]
        print(json.dumps(one_size(args.url, args.one, args.chunk_size, args.one_workers, sequence,
                                  args.execute_workers)))
        return
    print(f"chunk size {args.chunk_size}" + (f", execute by {args.execute_workers} worker processes"
                                             if args.execute_workers else ""))
    if args.workers and args.same_data:
        _same_data_table(args)
        return
    if args.workers:
        _workers_table(args)
        return
    print(f"{'members':>9} {'payers':>9} {'share':>5} {'generate s':>10} {'prepare s':>9} {'execute s':>9} "
          f"{'chunks s':>8} {'settle s':>8} {'announce s':>10} {'notices s':>9} {'whole s':>7} {'baseline s':>10} "
          f"{'lean s':>7} {'exec/base':>9} {'exec/lean':>9} {'whole/lean':>10} {'chunks/lean':>11} {'payers/s':>9} "
          f"{'peak RSS MB':>11} audit")
    for size in (int(x) for x in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--url", args.url, "--one", str(size),
                              "--chunk-size", str(args.chunk_size), "--execute-workers", str(args.execute_workers)],
                             capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            sys.exit(f"size {size} failed:\n{out.stderr[-3000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['members']:>9} {r['payers']:>9} {r['share_fen']:>5} {r['generate_s']:>10} {r['prepare_s']:>9} "
              f"{r['execute_s']:>9} {r['chunks_s']:>8} {r['settle_s']:>8} {r['announce_s']:>10} {r['notices_s']:>9} "
              f"{r['whole_s']:>7} {r['baseline_s']:>10} {r['lean_s']:>7} {r['ratio']:>9} {r['lean_ratio']:>9} "
              f"{r['whole_lean_ratio']:>10} "
              f"{r['chunks_lean_ratio']:>11} {r['payers_per_s']:>9} "
              f"{r['peak_rss_mb']:>11} {'ok' if r['audit_ok'] else 'FAILED'}", flush=True)


def _workers_table(args) -> None:
    print(f"{'members':>9} {'workers':>7} {'chunks':>6} {'payers':>9} {'execute s':>9} {'settle s':>8} "
          f"{'notices s':>9} {'whole s':>7} {'payers/s':>9} {'speed-up':>8} audit")
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
                  f"{r['settle_s']:>8} {r['notices_s']:>9} {r['whole_s']:>7} {r['payers_per_s']:>9} {first / r['execute_s']:>8.2f} {'ok' if r['audit_ok'] else 'FAILED'}",
                  flush=True)


def _same_data_table(args) -> None:
    print(f"{'members':>10} {'generate s':>10} {'workers':>7} {'chunks':>6} {'payers':>10} {'execute s':>9} "
          f"{'chunks s':>8} {'settle s':>8} {'announce s':>10} {'notices s':>9} {'whole s':>7} {'payers/s':>9} "
          f"{'speed-up':>8} {'worker peak RSS MB':>18} audit")
    for size in (int(x) for x in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--url", args.url, "--one", str(size),
                              "--chunk-size", str(args.chunk_size), "--one-sequence", args.workers],
                             capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            sys.exit(f"size {size} failed:\n{out.stderr[-3000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        first = r["runs"][0]["execute_s"]
        for run in r["runs"]:
            print(f"{r['members']:>10} {r['generate_s']:>10} {run['workers']:>7} {run['chunks']:>6} {run['payers']:>10} "
                  f"{run['execute_s']:>9} {run['chunks_s']:>8} {run['settle_s']:>8} {run['announce_s']:>10} "
                  f"{run['notices_s']:>9} {run['whole_s']:>7} {run['payers_per_s']:>9} "
                  f"{first / run['execute_s']:>8.2f} {'/'.join(map(str, run['worker_peak_rss_mb'])):>18} "
                  f"{'ok' if r['audit_ok'] else 'FAILED'}", flush=True)
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
