"""Reconciling a day of N bill lines: time and peak RSS (the parse and staging stream: RSS stays flat).

    .venv/bin/python -m bench.reconcile [--lines 1000000]

Each size runs in its own process (peak RSS is per process): the baseline is the same code at a tenth
of the lines, in the same run. A real-format gzip'd trade bill (the emulator's row format) is written
first; a stand-in gateway serves it the way PayClient.download_bill does (decompress while hashing,
1 MiB at a time). Our side holds an order for every payment line but one in 1,000, and one in 1,000
amounts differ, so the matching SQL does real work. The database is a temporary SQLite file (schema
from the models; orders inserted without their members, foreign keys off for the set-up only)."""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAY = dt.date(2026, 3, 1)


def write_bill(path: Path, lines: int) -> str:
    """A trade bill of `lines` payments in WeChat's format (gzip), streamed to disk; returns its SHA-1."""
    from wechat.emulator.bills import TRADE_HEADER, TRADE_SUMMARY_HEADER, _row, fee_of, yuan

    digest, total, fees = hashlib.sha1(), 0, 0
    with gzip.open(path, "wb", compresslevel=1) as out:
        def put(text: str) -> None:
            data = (text + "\r\n").encode()
            digest.update(data)
            out.write(data)

        put(TRADE_HEADER)
        for i in range(lines):
            amount = 300 + i % 5000 + (1 if i % 1000 == 7 else 0)  # one in 1,000 differs from our order
            total, fees = total + amount, fees + fee_of(amount)
            put(_row("2026-03-01 12:00:00", "wxbench", "1900000001", 0, "", f"4200{i:024d}", f"T{i:020d}", "o-bench",
                     "JSAPI", "SUCCESS", "OTHERS", "CNY", yuan(amount), "0.00", 0, 0, "0.00", "0.00", "", "", "top-up",
                     "", yuan(fee_of(amount)), "0.60%", yuan(amount), "0.00", ""))
        put(TRADE_SUMMARY_HEADER)
        put(_row(lines, yuan(total), "0.00", "0.00", yuan(fees), yuan(total), "0.00"))
    return digest.hexdigest()


class FileGateway:
    """Serves the pre-built bills as WeChat would, checked like PayClient.download_bill."""

    def __init__(self, trade: Path, trade_sha1: str, fundflow: Path, fundflow_sha1: str):
        self.files = {"trade": (trade, trade_sha1), "fundflow": (fundflow, fundflow_sha1)}

    def download_bill(self, kind, bill_date, destination):
        path, expected = self.files[kind]
        digest = hashlib.sha1()
        with gzip.open(path, "rb") as unzipped:
            for piece in iter(lambda: unzipped.read(1 << 20), b""):
                digest.update(piece)
                destination.write(piece)
        assert digest.hexdigest() == expected
        return expected


def child(lines: int) -> dict:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from app.models import Base
    from app.services import bills
    from wechat.emulator.bills import FUND_HEADER, FUND_SUMMARY_HEADER, _row

    work = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    trade, fundflow = work / "trade.csv.gz", work / "fundflow.csv.gz"
    trade_sha1 = write_bill(trade, lines)
    text = f"{FUND_HEADER}\r\n{FUND_SUMMARY_HEADER}\r\n{_row(0, 0, '0.00', 0, '0.00')}\r\n".encode()
    fundflow.write_bytes(gzip.compress(text))
    url = f"sqlite:///{work / 'bench.sqlite3'}"
    engine = sa.create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:  # our orders: all but one in 1,000 of the bill's payments, set-based
        conn.execute(sa.text("PRAGMA foreign_keys=OFF"))  # orders without their members: only matching is timed
        conn.execute(sa.text(
            "WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < :n) "
            "INSERT INTO orders (out_trade_no, membership_id, payer_user_id, amount_fen, status, created_at, "
            "expires_at, paid_at) SELECT 'T' || substr('00000000000000000000' || i, -20, 20), 1, 1, 300 + i % 5000, "
            "'paid', :at, :at, :at FROM g WHERE i % 1000 <> 3"),
            {"n": lines, "at": "2026-03-01 04:00:00.000000"})
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with Session(engine) as session:
        rec = bills.reconcile_day(session, FileGateway(trade, trade_sha1, fundflow, hashlib.sha1(text).hexdigest()),
                                  DAY, dt.datetime(2026, 3, 2, 3, tzinfo=dt.timezone.utc))
        result = {"status": rec.status, "lines": rec.lines, "matched": rec.matched, "mismatched": rec.mismatched}
    seconds = time.perf_counter() - started
    engine.dispose()
    return {**result, "seconds": round(seconds, 1), "lines_per_second": int(lines / seconds),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_before_reconcile_mib": round(rss_before / 1024, 1),
            "bill_gzip_mib": round(trade.stat().st_size / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.lines)))
        return
    for lines in (args.lines // 10, args.lines):
        command = [sys.executable, "-m", "bench.reconcile", "--child", "--lines", str(lines)]
        out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=Path(__file__).parent.parent,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
        print(f"{lines:>9,} lines: {out.stdout.strip().splitlines()[-1]}", flush=True)


if __name__ == "__main__":
    main()
