"""Benchmark: the session-settable lines of deploy/postgresql.conf (work_mem, jit, parallel workers,
planner costs) against the server's defaults, on the statements that scan every member: the plan_stats
refresh (one set-based INSERT … SELECT, what the scheduler runs every minute) and the ledger audit.

The settings that need a restart (shared_buffers, wal_*, checkpoints) cannot be switched per session
and the shared development cluster is not restarted for a benchmark: docs/scaling.md reasons about them.

    .venv/bin/python bench/pg_settings.py [--url postgresql://…/bench_scale] [--repeat 3]
    (run bench/api_load.py first: it loads the 1,000,000 members this reads)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_scale")
SESSION_SETTABLE = ("work_mem", "jit", "max_parallel_workers_per_gather", "random_page_cost",
                    "effective_cache_size", "effective_io_concurrency")
NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc)


def tuned_options() -> dict[str, str]:
    """The session-settable settings of deploy/postgresql.conf."""
    found = {}
    for line in (ROOT / "deploy" / "postgresql.conf").read_text().splitlines():
        match = re.match(r"^\s*(\w+)\s*=\s*'?([^'#\s]+)'?", line)
        if match and match.group(1) in SESSION_SETTABLE:
            found[match.group(1)] = match.group(2)
    return found


def timed(url: str, options: dict[str, str], repeat: int) -> dict[str, float]:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from app.services import plan_stats
    from app.services.audit import audit_ledger

    engine = sa.create_engine(url, connect_args={"options": " ".join(f"-c {k}={v}" for k, v in options.items())})
    figures = {}
    with Session(engine) as s:
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            plan_stats.refresh(s, NOW, 24)
            runs.append(time.perf_counter() - t)
        figures["plan_stats refresh s (median)"] = round(statistics.median(runs), 3)
        t = time.perf_counter()
        ok = audit_ledger(s).ok
        figures["ledger audit s"] = round(time.perf_counter() - t, 2)
        figures["audit ok"] = ok
    engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tuned = tuned_options()
    print("session-settable lines of deploy/postgresql.conf:", tuned)
    for name, options in (("server defaults", {}), ("deploy/postgresql.conf", tuned), ("server defaults", {})):
        load = os.getloadavg()[0]
        print(f"{name:24} {timed(args.url, options, args.repeat)}  load avg {load:.2f}", flush=True)


if __name__ == "__main__":
    main()
