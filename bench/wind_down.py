"""Benchmark: winding down a plan of N synthetic members on PostgreSQL with the WeChat emulator over HTTP.

Measured in one run:
  - enqueue time: final_run → refunding (one set-based INSERT of the balance returns with their surplus
    shares) and the chunks handed to RQ (Redis);
  - returns/s: 2 RQ worker processes (`app.jobs.wind_down.work`, burst) returning every balance by refund
    through the emulator (each return: its ledger transaction, refund row, WeChat call, answer recorded);
  - the baseline, in the same run: a bare loop of the same refund calls (same amounts, fresh orders at
    the emulator), also in 2 processes, nothing else — no database, no queue;
  - ratio = bare calls/s ÷ workers' returns/s (target ≤ 1.4); with --baseline-sample N the baseline makes
    a uniform sample of the calls (every k-th order's), so a million-member run needs not wait for a
    million bare calls as well — the bench prints that it did; the workers always return every balance;
  - each worker's own peak RSS (VmHWM) and its RSS over time (sampled every --progress-seconds / 4).

The baseline runs first, then the workers (a progress line every --progress-seconds on stderr).
Peak RSS is read from /proc/self/status, not from getrusage(): Linux carries ru_maxrss across exec from
the forking parent, i.e. this bench process, which holds the emulator's orders and grows with --members.

Every member paid its whole balance within the year (one order), so every return is one refund call,
as in the baseline. Pacing is set out of the way (WIND_DOWN_CALLS_PER_SECOND = 1,000,000): the bench
measures our overhead per call, not WeChat's limit. The emulator runs in this process (threaded HTTP
server); its refund settlement timers are switched off (refunds stay PROCESSING; nothing here waits
for them). The database is wiped (public schema dropped).

    nice -n 19 .venv/bin/python bench/wind_down.py [--members 1000000] [--chunk-size 500] [--baseline-sample N]
    env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/bench),
         BENCH_REDIS_URL (default redis://127.0.0.1:6379/15; the db is flushed)
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench")
DEFAULT_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc)
PLAN = "adult_789"
DISCARD_URL = "http://127.0.0.1:9/notify"

# A process's own memory, from /proc/self/status: VmHWM is the peak of this process's address space.
# Not getrusage's ru_maxrss: Linux carries it across exec from the forking parent (this bench, which
# holds the emulator's orders and grows with --members), so a child's ru_maxrss starts at the parent's
# size — that is what the first measurements (167 → 183 → 214 MB) were, not the workers' memory.
_MEMORY = """
import threading, time
def _status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
class RssSampler(threading.Thread):
    def __init__(self, every):
        super().__init__(daemon=True)
        self.every, self.samples, self.t0 = every, [], time.perf_counter()
        self.start()
    def run(self):
        while True:
            self.samples.append((round(time.perf_counter() - self.t0), _status_mb("VmRSS")))
            time.sleep(self.every)
    def series(self, points=12):
        step = max(1, len(self.samples) // points)
        return self.samples[::step] + ([self.samples[-1]] if (len(self.samples) - 1) % step else [])
"""

_WORKER = _MEMORY + """
import json, sys
from bench.wind_down import make_app
from app.jobs.wind_down import work
app = make_app(json.loads(sys.argv[1]))
with app.app_context():
    sampler = RssSampler(float(sys.argv[2]))
    work(app, burst=True)
print(json.dumps({"peak_rss_mb": _status_mb("VmHWM"), "rss_mb": sampler.series()}), flush=True)
"""

_BARE = _MEMORY + """
import json, sys, time
from app.container import container_of
from bench.wind_down import make_app
app = make_app(json.loads(sys.argv[1]))
calls = json.loads(sys.stdin.read())
with app.app_context():
    pay = container_of(app).pay
    start = time.perf_counter()
    for number, trade, fen in calls:
        pay.refund(number, out_trade_no=trade, refund_fen=fen, total_fen=fen, reason="bench")
    seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_rss_mb": _status_mb("VmHWM")}), flush=True)
"""


def config(url: str, redis_url: str, keys_dir: str, emulator_url: str, chunk_size: int) -> dict:
    from config import TestingConfig

    cfg = TestingConfig().as_dict()
    cfg.update(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={}, REDIS_URL=redis_url,
               WECHAT_KEYS_DIR=keys_dir, WECHAT_API_BASE=emulator_url, WECHAT_PAY_GATEWAY=emulator_url.rstrip("/"),
               WECHAT_PAY_NOTIFY_URL=DISCARD_URL, WECHAT_PAY_REFUND_NOTIFY_URL=DISCARD_URL,
               WIND_DOWN_CHUNK_SIZE=chunk_size, WIND_DOWN_CALLS_PER_SECOND=1_000_000)
    return cfg


def log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def make_app(cfg: dict):
    from app import create_app

    return create_app(cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    parser.add_argument("--baseline-sample", type=int, default=0,
                        help="bare-loop baseline on a uniform sample of this many of the calls (every k-th order) "
                             "instead of all; its rate is compared (the workers always return every balance)")
    parser.add_argument("--progress-seconds", type=float, default=60,
                        help="a progress line (returns accepted so far, rate) on stderr this often")
    args = parser.parse_args()

    import redis
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app.extensions import db
    from app.models import PlanWindDown
    from app.services import wind_down
    from app.services.audit import audit_ledger
    from app.services.plans import load_catalogue
    from bench.synthetic import generate_members
    from wechat.emulator.pay import Order
    from wechat.emulator.server import EmulatorServer
    from wechat.keys import generate_dev_keys

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no log line per emulator request
    redis.Redis.from_url(args.redis).flushdb()
    keys_dir = tempfile.mkdtemp(prefix="wd-bench-keys-")
    generate_dev_keys(keys_dir)
    emulator = EmulatorServer.from_keys_dir(keys_dir, notify_time_scale=1.0)
    emulator.start()
    pay_state = emulator.state.pay
    pay_state._after = lambda *a, **k: None  # no settlement timer per refund: the bench measures the calls
    cfg = config(args.url, args.redis, keys_dir, emulator.url, args.chunk_size)

    engine = sa.create_engine(args.url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    app = make_app(cfg)
    with app.app_context():
        upgrade()
        load_catalogue(db.session, app.config["PLANS_FILE"], NOW)
        s = db.session
        t0 = time.perf_counter()
        generate_members(s, PLAN, args.members, NOW, tag="wd")
        s.execute(sa.text(
            "INSERT INTO orders (out_trade_no, membership_id, payer_user_id, amount_fen, status, transaction_id, "
            "created_at, expires_at, paid_at) SELECT 'W' || m.id, m.id, m.user_id, a.balance_fen, 'paid', 'TW' || m.id, "
            ":now, :now, :now FROM memberships m JOIN accounts a ON a.membership_id = m.id WHERE a.balance_fen > 0"),
            {"now": NOW})
        orders = s.execute(sa.text("SELECT out_trade_no, amount_fen FROM orders ORDER BY id")).all()
        plan_id = s.execute(sa.text("SELECT id FROM plans WHERE code = :p"), {"p": PLAN}).scalar_one()
        s.execute(sa.text("INSERT INTO operators (username, password_hash, roles, active, created_at) "
                          "VALUES ('p', 'x', 'reviewer', true, :now), ('f', 'x', 'finance', true, :now)"), {"now": NOW})
        found = PlanWindDown(plan_id=plan_id, status="final_run", closing_date=NOW.date() - dt.timedelta(days=1),
                             proposed_by_operator_id=1, confirmed_by_operator_id=2, proposed_at=NOW,
                             announced_at=NOW, surplus_fen=0)
        s.add(found)
        s.commit()
        wind_down_id = found.id
        # Statistics, as autovacuum keeps them on a live database: without them the planner takes a
        # million freshly inserted rows for a thousand (at 1,000,000 members start_returns ran > 18 min).
        s.execute(sa.text("ANALYZE"))
        s.commit()
        seed_seconds = time.perf_counter() - t0
        now_ts = pay_state.now()
        for prefix in ("", "B"):  # the engine's orders, and the baseline's identical fresh ones
            for number, fen in orders:
                pay_state.orders[prefix + number] = Order(
                    appid=pay_state.config.appid, mchid=pay_state.keys.mchid, out_trade_no=prefix + number,
                    description="充值", notify_url=DISCARD_URL, total=fen, openid="o-wd", prepay_id="p" + number,
                    create_time=now_ts, trade_state="SUCCESS", transaction_id="T" + prefix + number,
                    success_time=now_ts)

        from app.jobs.wind_down import enqueuer

        t0 = time.perf_counter()
        wind_down.start_returns(s, wind_down_id, NOW)
        chunks = wind_down.dispatch(s, plan_id, NOW, enqueuer(app), chunk_size=args.chunk_size)
        enqueue_seconds = time.perf_counter() - t0

        n = len(orders)
        # The baseline first (a long run stopped during the workers still has it): the same refund calls
        # (same amounts) on the emulator's fresh "B" orders, in 2 processes, nothing else.
        step = max(1, n // args.baseline_sample) if 0 < args.baseline_sample < n else 1
        calls = [(f"RB{i:020d}", "B" + number, fen) for i, (number, fen) in enumerate(orders)][::step]
        halves = [calls[0::2], calls[1::2]]
        t0 = time.perf_counter()
        bares = [subprocess.Popen([sys.executable, "-c", _BARE, json.dumps(cfg)], cwd=ROOT, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True) for _ in halves]
        for proc, half in zip(bares, halves):
            proc.stdin.write(json.dumps(half))
            proc.stdin.close()
        bare_stats = [json.loads(p.stdout.read().strip().splitlines()[-1]) for p in bares]
        for p in bares:
            p.wait()
        bare_seconds = time.perf_counter() - t0
        bare_calls = len(calls)
        bare_rate = bare_calls / bare_seconds
        del calls, halves
        log(f"baseline: {bare_calls} calls in {round(bare_seconds, 1)} s, {round(bare_rate, 1)}/s")

        refunds_before = len(pay_state.refunds)
        t0 = time.perf_counter()
        workers = [subprocess.Popen([sys.executable, "-c", _WORKER, json.dumps(cfg), str(args.progress_seconds / 4)],
                                    cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        while any(w.poll() is None for w in workers):
            try:
                next(w for w in workers if w.poll() is None).wait(timeout=args.progress_seconds)
            except subprocess.TimeoutExpired:
                pass
            done, elapsed = len(pay_state.refunds) - refunds_before, time.perf_counter() - t0
            log(f"workers: {done} of {n} refunds accepted in {round(elapsed)} s, {round(done / elapsed, 1)}/s")
        worker_stats = [json.loads(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
        worker_seconds = time.perf_counter() - t0
        statuses = dict(s.execute(sa.text("SELECT status, COUNT(*) FROM balance_returns GROUP BY status")).all())
        refunds = s.execute(sa.text("SELECT COUNT(*) FROM refunds WHERE refund_id IS NOT NULL")).scalar_one()
        left = s.execute(sa.text("SELECT COUNT(*) FROM accounts WHERE membership_id IS NOT NULL "
                                 "AND balance_fen <> 0")).scalar_one()
        audit_ok = audit_ledger(s).ok
        s.rollback()
    emulator.stop()

    rate = n / worker_seconds
    figures = {
        "members": args.members, "returns": n, "chunks": chunks, "chunk_size": args.chunk_size,
        "seed_seconds": round(seed_seconds, 1), "enqueue_seconds": round(enqueue_seconds, 2),
        "workers_seconds": round(worker_seconds, 1), "returns_per_second": round(rate, 1),
        "baseline_calls": bare_calls,
        "baseline": "all the calls" if step == 1 else
                    f"a uniform sample (--baseline-sample): every {step}th order's call, {bare_calls} of {n}; "
                    "ratio = bare calls/s ÷ workers' returns/s",
        "bare_seconds": round(bare_seconds, 1), "bare_calls_per_second": round(bare_rate, 1),
        "ratio": round(bare_rate / rate, 2),
        "worker_peak_rss_mb": [w["peak_rss_mb"] for w in worker_stats],
        "worker_rss_mb_over_time": [" ".join(f"{t}s:{mb}" for t, mb in w["rss_mb"]) for w in worker_stats],
        "bare_peak_rss_mb": [b["peak_rss_mb"] for b in bare_stats],
        "statuses": statuses, "refunds_accepted": refunds, "member_balances_left": left, "ledger_audit_ok": audit_ok,
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
