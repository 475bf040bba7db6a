"""Resolving the mismatches of the daily reconciliation with WeChat Pay's bills (app/services/bills.py).

Finance resolves a mismatch with an outcome and the reason, once; the resolution records who and
when, and goes into the audit chain with the reason. It is keyed by the day and the line, so running
the day again keeps it (and a line that no longer mismatches simply has no open mismatch any more)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import BillMismatch, BillMismatchResolution, BillReconciliation, Operator

from .errors import Conflict, InvalidRequest, NotFound
from .operators import record_audit, require_role
from .unit_of_work import atomic

OUTCOME_WORDS = {"corrected": "已更正账务", "explained": "已查明，无需更正", "escalated": "已提交微信支付核查"}
CATEGORY_WORDS = {"wechat_only": "微信有、我方无", "ours_only": "我方有、微信无", "amount_differs": "金额不一致",
                  "state_differs": "状态不一致", "settled_missed": "漏记的充值（已补记）"}
KIND_WORDS = {"payment": "充值", "refund": "退款", "transfer": "互助金转账"}
NOTE_MIN, NOTE_MAX = 5, 500

_SAME_LINE = and_(BillMismatchResolution.bill_date == BillReconciliation.bill_date,
                  BillMismatchResolution.category == BillMismatch.category,
                  BillMismatchResolution.kind == BillMismatch.kind,
                  BillMismatchResolution.reference == BillMismatch.reference)


@dataclass(frozen=True)
class DayLine:
    mismatch: BillMismatch
    resolution: BillMismatchResolution | None


def _day(session: Session, day: dt.date) -> BillReconciliation:
    found = session.execute(select(BillReconciliation).where(BillReconciliation.bill_date == day)).scalar_one_or_none()
    if found is None:
        raise NotFound("这一天还没有对账", code="reconciliation_not_found", details={"bill_date": day.isoformat()})
    return found


def day_lines(session: Session, day: dt.date, *, open_only: bool = False) -> tuple[BillReconciliation, list[DayLine]]:
    """A day's reconciliation and its mismatches, each with its resolution (or None), open ones first."""
    rec = _day(session, day)
    query = (select(BillMismatch, BillMismatchResolution)
             .join(BillReconciliation, BillReconciliation.id == BillMismatch.reconciliation_id)
             .outerjoin(BillMismatchResolution, _SAME_LINE)
             .where(BillMismatch.reconciliation_id == rec.id)
             .order_by(BillMismatchResolution.id.is_not(None), BillMismatch.category, BillMismatch.kind,
                       BillMismatch.reference))
    if open_only:
        query = query.where(BillMismatchResolution.id.is_(None))
    return rec, [DayLine(m, r) for m, r in session.execute(query).all()]


def open_counts(session: Session, reconciliation_ids: list[int]) -> dict[int, int]:
    """Unresolved mismatches per reconciliation (one grouped query)."""
    if not reconciliation_ids:
        return {}
    rows = session.execute(
        select(BillMismatch.reconciliation_id, func.count())
        .join(BillReconciliation, BillReconciliation.id == BillMismatch.reconciliation_id)
        .outerjoin(BillMismatchResolution, _SAME_LINE)
        .where(BillMismatch.reconciliation_id.in_(reconciliation_ids), BillMismatchResolution.id.is_(None))
        .group_by(BillMismatch.reconciliation_id)).all()
    return {rec_id: count for rec_id, count in rows}


def resolve(session: Session, operator: Operator, day: dt.date, mismatch_id: int, *, outcome: str, note: str,
            now: dt.datetime) -> BillMismatchResolution:
    """Finance closes one mismatch of the day with an outcome and why; audited with the reason."""
    require_role(operator, "finance")
    note = (note or "").strip()
    if outcome not in OUTCOME_WORDS:
        raise InvalidRequest("请选择处理结果", code="outcome_invalid", details={"allowed": list(OUTCOME_WORDS)})
    if not NOTE_MIN <= len(note) <= NOTE_MAX:
        raise InvalidRequest(f"请写明处理说明（{NOTE_MIN}至{NOTE_MAX}个字）", code="note_invalid")
    try:
        with atomic(session):
            rec = _day(session, day)
            mismatch = session.execute(select(BillMismatch).where(
                BillMismatch.id == mismatch_id, BillMismatch.reconciliation_id == rec.id)).scalar_one_or_none()
            if mismatch is None:
                raise NotFound("这一天没有这条差异", code="mismatch_not_found", details={"mismatch_id": mismatch_id})
            resolution = BillMismatchResolution(
                bill_date=day, category=mismatch.category, kind=mismatch.kind, reference=mismatch.reference,
                outcome=outcome, note=note, operator_id=operator.id, resolved_at=now)
            session.add(resolution)
            session.flush()
            record_audit(session, operator_id=operator.id, action="reconciliation.mismatch_resolved",
                         target_type="bill_reconciliation", target_id=rec.id, now=now,
                         before={"category": mismatch.category, "kind": mismatch.kind,
                                 "reference": mismatch.reference, "wechat_amount_fen": mismatch.wechat_amount_fen,
                                 "our_amount_fen": mismatch.our_amount_fen},
                         after={"bill_date": day.isoformat(), "resolution_id": resolution.id, "outcome": outcome,
                                "reason": note})
    except IntegrityError:
        raise Conflict("这条差异已经处理过了", code="mismatch_already_resolved") from None
    return resolution


def mismatch_counts(session: Session, reconciliation_id: int) -> dict[tuple[str, str], int]:
    """(category, kind) → how many mismatches a reconciliation found (the metrics count them)."""
    rows = session.execute(select(BillMismatch.category, BillMismatch.kind, func.count())
                           .where(BillMismatch.reconciliation_id == reconciliation_id)
                           .group_by(BillMismatch.category, BillMismatch.kind)).all()
    return {(category, kind): count for category, kind, count in rows}


def open_total(session: Session) -> int:
    """Mismatches of every day still to resolve (the console's home tile)."""
    return session.execute(select(func.count()).select_from(BillMismatch)
                           .join(BillReconciliation, BillReconciliation.id == BillMismatch.reconciliation_id)
                           .outerjoin(BillMismatchResolution, _SAME_LINE)
                           .where(BillMismatchResolution.id.is_(None))).scalar_one()


def resolution_out(resolution: BillMismatchResolution | None) -> dict | None:
    if resolution is None:
        return None
    return {"id": resolution.id, "outcome": resolution.outcome, "note": resolution.note,
            "operator_id": resolution.operator_id, "resolved_at": resolution.resolved_at}
