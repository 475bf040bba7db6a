"""Daily reconciliation with WeChat Pay's bills (trade bill ALL + fund-flow bill BASIC).

A day (China time) is downloaded through the pay gateway (SHA-1 checked; a mismatch refuses the
day), parsed streaming with the csv module into integer fen (never a float), staged in
`bill_lines` a chunk at a time, and matched set-based against our orders, refunds and aid
transfers by out_trade_no / out_refund_no / out_bill_no:
- matched;
- wechat_only: at WeChat, not ours;
- ours_only: ours (paid / succeeded that day), not at WeChat;
- amount_differs, state_differs;
- settled_missed: a top-up WeChat says was paid while our order was still open: settled through
  the payments' idempotent path (query + settle_transaction), then listed for operators.
A day can be run again: its previous result is replaced."""
from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import tempfile
from dataclasses import dataclass, field
from typing import Iterator

from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy.orm import Session

from app.models import BillLine, BillMismatch, BillReconciliation, UTCDateTime

from . import payments
from .clock import CHINA_TZ
from .errors import InvalidRequest, NotFound
from .ports import BillHashMismatch, PayFailure
from .unit_of_work import atomic, outside_transaction, reading

log = logging.getLogger(__name__)
STAGE_CHUNK = 5_000
_YUAN = re.compile(r"^(-?)([0-9]+)\.([0-9]{2})$")  # ASCII digits only
TRADE_SUMMARY_FIRST = "总交易单数"
FUND_SUMMARY_FIRST = "资金流水总笔数"


class BillFormatError(ValueError):
    pass


def yuan_to_fen(value: str) -> int:
    """'12.34' → 1234, '-0.05' → -5; anything else is refused (no float on the way)."""
    match = _YUAN.match(value.strip())
    if not match:
        raise BillFormatError(f"not an amount in yuan with two decimals: {value!r}")
    fen = int(match[2]) * 100 + int(match[3])
    return -fen if match[1] else fen


def _clean(field_: str) -> str:
    return field_[1:] if field_.startswith("`") else field_


@dataclass
class ParsedBill:
    """Detail rows (dicts keyed by the header) streamed by `rows()`; `summary` once they are read."""

    stream: io.TextIOBase
    summary_first: str
    header: list[str] = field(default_factory=list)
    summary: dict[str, str] | None = None
    count: int = 0

    def rows(self) -> Iterator[dict[str, str]]:
        reader = csv.reader(self.stream)
        self.header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
        if not self.header:
            raise BillFormatError("empty bill")
        for row in reader:
            if not row:
                continue
            if row[0].strip() == self.summary_first:
                summary_header = [h.strip() for h in row]
                values = next(reader, None)
                if values is None:
                    raise BillFormatError("summary header without its row")
                self.summary = dict(zip(summary_header, (_clean(v) for v in values)))
                return
            if len(row) != len(self.header):
                raise BillFormatError(f"line {self.count + 2}: {len(row)} fields, header has {len(self.header)}")
            self.count += 1
            yield dict(zip(self.header, (_clean(v) for v in row)))
        raise BillFormatError("no summary section")


@dataclass(frozen=True)
class Line:
    kind: str  # payment | refund | transfer
    reference: str
    wechat_id: str
    amount_fen: int
    state: str


def trade_lines(bill: ParsedBill) -> Iterator[Line]:
    """Payments and refunds of a trade bill (ALL); checks the totals against its summary row."""
    count = settled = refunded = 0
    for row in bill.rows():
        count += 1
        if row["交易状态"] == "REFUND":
            amount = yuan_to_fen(row["退款金额"])
            refunded += amount
            yield Line("refund", row["商户退款单号"], row["微信退款单号"], amount, row["退款状态"])
        else:
            amount = yuan_to_fen(row["应结订单金额"])
            settled += amount
            yield Line("payment", row["商户订单号"], row["微信订单号"], amount, row["交易状态"])
    _check_summary(bill, {"总交易单数": count, "应结订单总金额": settled, "退款总金额": refunded})


def fundflow_lines(bill: ParsedBill) -> Iterator[Line]:
    """Merchant transfers (支出, 商家转账) of a fund-flow bill; other lines are not ours to match here."""
    count = out_total = 0
    for row in bill.rows():
        count += 1
        amount = yuan_to_fen(row["收支金额（元）"])
        if row["收支类型"] == "支出":
            out_total += amount
        if row["业务名称"] == "商家转账":
            yield Line("transfer", row["业务凭证号"], row["微信支付业务单号"], amount, "SUCCESS")
    _check_summary(bill, {"资金流水总笔数": count, "支出金额": out_total})


def _check_summary(bill: ParsedBill, computed: dict[str, int]) -> None:
    """The summary row's count and totals must equal what the detail lines add up to."""
    summary = bill.summary or {}
    for name, value in computed.items():
        raw = summary.get(name)
        stated = None if raw is None else (int(raw) if name.endswith(("单数", "笔数")) else yuan_to_fen(raw))
        if stated != value:
            raise BillFormatError(f"summary {name} = {raw!r}, the lines add up to {value}")


# --- matching (set-based) -----------------------------------------------------------------
_DT = UTCDateTime()


def _mismatch_sql(kind: str, table: str, reference: str, done: str, done_at: str) -> str:
    """(category, kind, reference, WeChat's amount, ours, our state) of every line of `kind` that does
    not match, and of our records done that day that the bill lacks."""
    line = f"l.reconciliation_id = :rec AND l.kind = '{kind}'"
    differs = f"x.status <> '{done}' OR l.state <> 'SUCCESS'"
    return f"""
      SELECT 'wechat_only', '{kind}', l.reference, l.amount_fen, NULL, NULL FROM bill_lines l
       WHERE {line} AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.{reference} = l.reference)
      UNION ALL
      SELECT CASE WHEN {differs} THEN 'state_differs' ELSE 'amount_differs' END, '{kind}', l.reference,
             l.amount_fen, x.amount_fen, x.status
        FROM bill_lines l JOIN {table} x ON x.{reference} = l.reference
       WHERE {line} AND ({differs} OR x.amount_fen <> l.amount_fen)
      UNION ALL
      SELECT 'ours_only', '{kind}', x.{reference}, NULL, x.amount_fen, x.status FROM {table} x
       WHERE x.status = '{done}' AND x.{done_at} >= :start AND x.{done_at} < :end
         AND NOT EXISTS (SELECT 1 FROM bill_lines l WHERE {line} AND l.reference = x.{reference})"""


_MISMATCHES = [
    _mismatch_sql("payment", "orders", "out_trade_no", "paid", "paid_at"),
    _mismatch_sql("refund", "refunds", "out_refund_no", "succeeded", "completed_at"),
    # Aid payouts and balance returns (a closing plan's, an old balance's) are both merchant transfers.
    _mismatch_sql("transfer", "(SELECT out_bill_no, amount_fen, status, paid_at FROM payout_transfers UNION ALL "
                              "SELECT out_bill_no, amount_fen, status, paid_at FROM return_transfers)",
                  "out_bill_no", "succeeded", "paid_at"),
]


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ).astimezone(dt.timezone.utc)
    return start, start + dt.timedelta(days=1)


def _stage(session: Session, reconciliation_id: int, lines: Iterator[Line]) -> int:
    """Bill lines into the staging table, a chunk per transaction (memory stays flat)."""
    staged, chunk = 0, []
    for line in lines:
        chunk.append({"reconciliation_id": reconciliation_id, "kind": line.kind, "reference": line.reference,
                      "wechat_id": line.wechat_id, "amount_fen": line.amount_fen, "state": line.state})
        if len(chunk) == STAGE_CHUNK:
            with atomic(session):
                session.execute(insert(BillLine), chunk)
            staged, chunk = staged + len(chunk), []
    if chunk:
        with atomic(session):
            session.execute(insert(BillLine), chunk)
        staged += len(chunk)
    return staged


def _begin(session: Session, day: dt.date, now: dt.datetime) -> int:
    with atomic(session):
        found = session.execute(select(BillReconciliation).where(BillReconciliation.bill_date == day)
                                .with_for_update()).scalar_one_or_none()
        if found is None:
            found = BillReconciliation(bill_date=day, status="running", started_at=now, lines=0, matched=0, mismatched=0,
                                      settled=0)
            session.add(found)
            session.flush()
        session.execute(delete(BillMismatch).where(BillMismatch.reconciliation_id == found.id))
        session.execute(delete(BillLine).where(BillLine.reconciliation_id == found.id))
        found.status, found.started_at, found.finished_at, found.error = "running", now, None, None
        found.trade_sha1 = found.fundflow_sha1 = None
        found.lines = found.matched = found.mismatched = found.settled = 0
        return found.id


def _finish(session: Session, reconciliation_id: int, now: dt.datetime, **values) -> BillReconciliation:
    with atomic(session):
        session.execute(delete(BillLine).where(BillLine.reconciliation_id == reconciliation_id))
        found = session.get(BillReconciliation, reconciliation_id)
        for key, value in values.items():
            setattr(found, key, value)
        found.finished_at = now
    return found


def _settle_missed(session: Session, pay, reconciliation_id: int, now: dt.datetime) -> int:
    """Top-ups WeChat billed as paid whose order we still hold open: the payments' reconcile path
    (query WeChat, settle_transaction: idempotent), each outside any transaction of ours."""
    with reading(session):
        open_orders = session.execute(text(
            "SELECT o.id, o.out_trade_no, o.amount_fen, l.amount_fen FROM bill_lines l "
            "JOIN orders o ON o.out_trade_no = l.reference WHERE l.reconciliation_id = :rec AND l.kind = 'payment' "
            "AND l.state = 'SUCCESS' AND o.status IN ('created', 'paying', 'closed') ORDER BY o.id"),
            {"rec": reconciliation_id}).all()
    settled = 0
    for order_id, out_trade_no, ours, theirs in open_orders:
        report = payments.ReconcileReport()
        payments.reconcile_order(session, pay, order_id, now, report)
        if report.orders_settled:
            settled += 1
            with atomic(session):
                session.add(BillMismatch(reconciliation_id=reconciliation_id, category="settled_missed",
                                         kind="payment", reference=out_trade_no, wechat_amount_fen=theirs,
                                         our_amount_fen=ours, our_state="paid"))
    return settled


def reconcile_day(session: Session, pay, day: dt.date, now: dt.datetime) -> BillReconciliation:
    """Reconcile one China-time day; safe to run again (the day's previous result is replaced)."""
    if day >= now.astimezone(CHINA_TZ).date():
        raise InvalidRequest("只能对账已经结束的日期", code="bill_date_not_over", details={"bill_date": day.isoformat()})
    rec = _begin(session, day, now)
    hashes, staged = {}, 0
    try:
        for kind, to_lines, summary_first in (("trade", trade_lines, TRADE_SUMMARY_FIRST),
                                              ("fundflow", fundflow_lines, FUND_SUMMARY_FIRST)):
            with tempfile.TemporaryFile() as raw:
                with outside_transaction(session):
                    hashes[kind] = pay.download_bill(kind, day.isoformat(), raw)
                raw.seek(0)
                text_stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                staged += _stage(session, rec, to_lines(ParsedBill(text_stream, summary_first)))
    except BillHashMismatch as exc:
        log.error("bill refused: %s", exc)
        return _finish(session, rec, now, status="refused", error=str(exc))
    except PayFailure as exc:  # e.g. the bill is not ready yet: the scheduler tries again
        return _finish(session, rec, now, status="refused", error=f"WeChat: {exc}")
    except BillFormatError as exc:  # raised while parsing, between the staging transactions
        return _finish(session, rec, now, status="refused", error=f"bill format: {exc}")
    settled = _settle_missed(session, pay, rec, now)
    start, end = day_bounds(day)
    with atomic(session):
        for statement in _MISMATCHES:
            session.execute(text(
                "INSERT INTO bill_mismatches (reconciliation_id, category, kind, reference, wechat_amount_fen, "
                "our_amount_fen, our_state) SELECT :rec, found.* FROM (" + statement + ") found"
            ).bindparams(bindparam("start", start, type_=_DT), bindparam("end", end, type_=_DT)), {"rec": rec})
        flagged_lines = session.execute(text(
            "SELECT COUNT(*) FROM bill_mismatches WHERE reconciliation_id = :rec AND category <> 'ours_only' "
            "AND category <> 'settled_missed'"), {"rec": rec}).scalar_one()
        mismatched = session.execute(text(
            "SELECT COUNT(*) FROM bill_mismatches WHERE reconciliation_id = :rec AND category <> 'settled_missed'"),
            {"rec": rec}).scalar_one()
    return _finish(session, rec, now, status="done", trade_sha1=hashes["trade"], fundflow_sha1=hashes["fundflow"],
                   lines=staged, matched=staged - flagged_lines, mismatched=mismatched, settled=settled)


def due_day(now: dt.datetime, *, after_hour: int = 10) -> dt.date | None:
    """Yesterday (China time) once it is past 10:00 in China: WeChat's bills are ready by then."""
    local = now.astimezone(CHINA_TZ)
    return local.date() - dt.timedelta(days=1) if local.hour >= after_hour else None


def reconcile_due(session: Session, pay, now: dt.datetime) -> BillReconciliation | None:
    """The scheduler's hourly call: yesterday, unless it is already done."""
    day = due_day(now)
    if day is None:
        return None
    with reading(session):
        done = session.execute(select(BillReconciliation.status)
                               .where(BillReconciliation.bill_date == day)).scalar_one_or_none()
    if done == "done":
        return None
    return reconcile_day(session, pay, day, now)


def reconciliation_out(rec: BillReconciliation, mismatches: list[BillMismatch] | None = None) -> dict:
    body = {"bill_date": rec.bill_date.isoformat(), "status": rec.status, "lines": rec.lines, "matched": rec.matched,
            "mismatched": rec.mismatched, "settled": rec.settled, "trade_sha1": rec.trade_sha1,
            "fundflow_sha1": rec.fundflow_sha1, "error": rec.error, "started_at": rec.started_at,
            "finished_at": rec.finished_at}
    if mismatches is not None:
        body["mismatches"] = [{"category": m.category, "kind": m.kind, "reference": m.reference,
                               "wechat_amount_fen": m.wechat_amount_fen, "our_amount_fen": m.our_amount_fen,
                               "our_state": m.our_state} for m in mismatches]
    return body


def list_days(session: Session, limit: int = 60) -> list[dict]:
    rows = session.execute(select(BillReconciliation).order_by(BillReconciliation.bill_date.desc()).limit(limit)).scalars()
    return [reconciliation_out(r) for r in rows]


def get_day(session: Session, day: dt.date) -> dict:
    rec = session.execute(select(BillReconciliation).where(BillReconciliation.bill_date == day)).scalar_one_or_none()
    if rec is None:
        raise NotFound("这一天还没有对账", code="reconciliation_not_found", details={"bill_date": day.isoformat()})
    mismatches = session.execute(select(BillMismatch).where(BillMismatch.reconciliation_id == rec.id)
                                 .order_by(BillMismatch.category, BillMismatch.kind, BillMismatch.reference)).scalars()
    return reconciliation_out(rec, list(mismatches))

