"""Benchmark: what one apportionment run costs the database server — WAL written, postings and ledger
growth on disk, time — on the members bench/api_load.py loaded (1,000,000 by default). The figures
docs/scaling.md multiplies out to 10M and 100M members and to a year of runs.

    .venv/bin/python bench/run_footprint.py [--url postgresql://…/bench_scale]
The run is real: it debits the synthetic members (the ledger audit passes after it).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_scale")
PLAN = "adult_789"
SIZES = """SELECT pg_current_wal_lsn() AS lsn,
                  pg_total_relation_size('postings') AS postings, pg_total_relation_size('ledger_transactions') AS txns,
                  pg_total_relation_size('accounts') AS accounts, pg_total_relation_size('memberships') AS memberships,
                  (SELECT count(*) FROM postings) AS posting_rows"""


def main() -> None:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from app.services import apportionment
    from app.services.audit import audit_ledger
    from bench.synthetic import add_case

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    engine = sa.create_engine(args.url)
    with Session(engine) as s:
        latest = s.execute(sa.text("SELECT COALESCE(MAX(executed_at), TIMESTAMPTZ '2026-06-01 02:00+00') "
                                   "FROM apportionment_runs")).scalar_one()
        now = max(latest, dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc)) + dt.timedelta(days=15)
        s.commit()
        with s.begin():
            add_case(s, PLAN, 30_000_000, now)
        before = s.execute(sa.text(SIZES)).one()._mapping
        s.commit()
        t = time.perf_counter()
        run = apportionment.prepare(s, PLAN, now)
        apportionment.publish(s, run.id, now)
        run = apportionment.execute(s, run.id, now)
        elapsed = time.perf_counter() - t
        payers, suspended = run.debited_count, run.suspended_count
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("CHECKPOINT"))  # sizes after the dirty pages reach the files
        after = s.execute(sa.text(SIZES)).one()._mapping
        wal = s.execute(sa.text("SELECT pg_wal_lsn_diff(:a, :b)"), {"a": after["lsn"], "b": before["lsn"]}).scalar_one()
        wal = int(wal)  # numeric
        s.commit()
        audit_ok = audit_ledger(s).ok
    growth = {k: after[k] - before[k] for k in ("postings", "txns", "accounts", "memberships")}
    print(json.dumps({
        "payers": payers, "suspended": suspended, "prepare_publish_execute_s": round(elapsed, 1),
        "payers_per_s": int(payers / elapsed), "wal_mb": round(wal / 2**20, 1),
        "wal_bytes_per_payer": round(wal / payers), "posting_rows_added": after["posting_rows"] - before["posting_rows"],
        "growth_mb": {k: round(v / 2**20, 1) for k, v in growth.items()},
        "postings_bytes_per_row_on_disk": round(after["postings"] / after["posting_rows"]),
        "audit_ok": audit_ok, "load_1m": round(os.getloadavg()[0], 2),
    }, indent=1))
    engine.dispose()


if __name__ == "__main__":
    main()
