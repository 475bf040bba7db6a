"""Read queries behind the operators' console: work queues, paged lists filterable by plan, member
look-up, the audit log. Reads only; every action goes through the same service functions as the API."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.models import (Account, ApportionmentRun, Claim, ClaimObjection, LedgerTransaction, Membership,
                        OperatorAuditEntry, PaymentRefund, PayoutTransfer, Plan, Posting)
from app.models.operators import Operator

from .claims import visible_to
from .memberships import MembershipView, views_where
from .pii import PiiProtector

PER_PAGE = 20
MAX_LOOKUP_RESULTS = 20


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def paginate(session: Session, query, page: int, per_page: int = PER_PAGE, *, scalars: bool = True) -> Page:
    """One page of `query` (already ordered) and the total count; a page past the end shows the last one."""
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    result = session.execute(query.limit(per_page).offset((page - 1) * per_page))
    return Page(list(result.scalars() if scalars else result.all()), page, per_page, total)


def plans(session: Session) -> list[Plan]:
    return list(session.execute(select(Plan).order_by(Plan.code)).scalars())


# A queue: the role that works it and the condition on the visible cases.
_PENDING_OBJECTION = exists().where(ClaimObjection.claim_id == Claim.id, ClaimObjection.status == "pending")
QUEUES: dict[str, tuple[str, Any]] = {
    "review": ("reviewer", Claim.status.in_(("submitted", "under_review"))),
    "investigate": ("investigator", Claim.status == "investigating"),
    "objections": ("reviewer", (Claim.status == "publicity") & _PENDING_OBJECTION),
    "payout": ("finance", Claim.status == "collected"),
}


def queues_for(operator: Operator) -> list[str]:
    return [name for name, (role, _) in QUEUES.items() if role in operator.role_set]


def _queue_select(operator: Operator, queue: str, plan_id: int | None):
    query = visible_to(operator).where(QUEUES[queue][1])
    return query.where(Claim.plan_id == plan_id) if plan_id else query


def queue_counts(session: Session, operator: Operator) -> dict[str, int]:
    return {name: session.execute(select(func.count()).select_from(
        _queue_select(operator, name, None).order_by(None).subquery())).scalar_one() for name in queues_for(operator)}


def queue_page(session: Session, operator: Operator, queue: str, *, plan_id: int | None, page: int) -> Page:
    return paginate(session, _queue_select(operator, queue, plan_id), page)


def claims_page(session: Session, operator: Operator, *, status: str | None, plan_id: int | None, page: int) -> Page:
    query = visible_to(operator)
    if status:
        query = query.where(Claim.status == status)
    if plan_id:
        query = query.where(Claim.plan_id == plan_id)
    return paginate(session, query.order_by(None).order_by(Claim.id.desc()), page)


def runs_page(session: Session, *, plan_id: int | None, page: int) -> Page:
    query = select(ApportionmentRun).order_by(ApportionmentRun.id.desc())
    if plan_id:
        query = query.where(ApportionmentRun.plan_id == plan_id)
    return paginate(session, query, page)


def refunds_page(session: Session, *, statuses: tuple[str, ...], plan_id: int | None, page: int) -> Page:
    query = select(PaymentRefund).where(PaymentRefund.status.in_(statuses)).order_by(PaymentRefund.id.desc())
    if plan_id:
        query = query.join(Membership, Membership.id == PaymentRefund.membership_id).where(Membership.plan_id == plan_id)
    return paginate(session, query, page)


def payouts_page(session: Session, *, plan_id: int | None, page: int) -> Page:
    query = select(PayoutTransfer).order_by(PayoutTransfer.id.desc())
    if plan_id:
        query = query.join(Claim, Claim.id == PayoutTransfer.claim_id).where(Claim.plan_id == plan_id)
    return paginate(session, query, page)


def find_members(session: Session, pii: PiiProtector, *, membership_id: int | None = None, id_number: str | None = None,
                 masked_name: str | None = None, id_last4: str | None = None,
                 plan_id: int | None = None) -> list[MembershipView]:
    """Look-up, never browsing: by membership id, by a full ID number (matched by its keyed hash), or by
    the masked name together with the ID number's last four characters. Nothing given finds nothing."""
    conditions = []
    if membership_id:
        conditions.append(Membership.id == membership_id)
    elif id_number:
        conditions.append(Membership.person_id_hash == pii.lookup_hash(id_number.strip().upper()))
    elif masked_name and id_last4:
        conditions += [Membership.person_name_masked == masked_name.strip(),
                       Membership.person_id_masked.endswith(id_last4.strip().upper())]
    else:
        return []
    if plan_id:
        conditions.append(Membership.plan_id == plan_id)
    return views_where(session, *conditions, limit=MAX_LOOKUP_RESULTS)


def member_ledger_page(session: Session, membership_id: int, *, page: int) -> Page:
    """The member account's postings, newest first: amount, reason, reference, when."""
    query = (select(Posting.amount_fen, LedgerTransaction.reason, LedgerTransaction.reference_type,
                    LedgerTransaction.reference_id, LedgerTransaction.created_at)
             .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
             .join(Account, Account.id == Posting.account_id)
             .where(Account.membership_id == membership_id).order_by(Posting.id.desc()))
    return paginate(session, query, page, scalars=False)


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    operator_id: int | None = None
    target_type: str | None = None
    target_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _audit_select(f: AuditFilter):
    query = select(OperatorAuditEntry).order_by(OperatorAuditEntry.id.desc())
    if f.action:
        query = query.where(OperatorAuditEntry.action.startswith(f.action))
    if f.operator_id:
        query = query.where(OperatorAuditEntry.operator_id == f.operator_id)
    if f.target_type:
        query = query.where(OperatorAuditEntry.target_type == f.target_type)
    if f.target_id:
        query = query.where(OperatorAuditEntry.target_id == f.target_id)
    if f.since:
        query = query.where(OperatorAuditEntry.created_at >= f.since)
    if f.until:
        query = query.where(OperatorAuditEntry.created_at < f.until)
    return query


def audit_page(session: Session, f: AuditFilter, *, page: int) -> Page:
    return paginate(session, _audit_select(f), page, per_page=50)


def audit_rows(session: Session, f: AuditFilter, batch: int = 1000) -> Iterator[OperatorAuditEntry]:
    """Every matching entry, streamed in batches (the CSV export)."""
    last_id = None
    while True:
        query = _audit_select(f).limit(batch)
        if last_id is not None:
            query = query.where(OperatorAuditEntry.id < last_id)
        rows = list(session.execute(query).scalars())
        yield from rows
        if len(rows) < batch:
            return
        last_id = rows[-1].id


def operator_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Operator.id, Operator.username)).all())
