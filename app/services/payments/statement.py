"""The member's statement: the movements of a membership's balance, in plain words."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import LedgerTransaction, Posting

from .. import memberships
from .topups import member_user_id


@dataclass(frozen=True)
class Movement:
    transaction_id: int
    created_at: dt.datetime
    amount_fen: int  # + credited to the balance, − taken from it
    reason: str
    reference_type: str | None
    reference_id: str | None
    sponsored: bool
    description: str = ""


def describe_movement(reason: str, reference_id: str | None, key: str, sponsored: bool) -> str:
    """A movement of a member's balance in plain words."""
    if reason == "deduction":
        if ":withheld:" in key:
            return f"第{reference_id}期分摊：结束互助时扣留您应付的份额（准备分摊时您在付款人之列）"
        return f"第{reference_id}期分摊"
    return {
        memberships.TOPUP_REASON: "他人资助充值" if sponsored else "充值",
        "leave": "退出互助，余额原路退回",
        "withheld_returned": f"第{reference_id}期分摊取消，退还结束互助时扣留的份额",
    }.get(reason, reason)


def member_movements(session: Session, membership_id: int, *, page: int, per_page: int) -> tuple[list[Movement], int]:
    """Postings on the membership's balance, newest first: (one page, total count)."""
    account_id = memberships.member_account_id(session, membership_id)
    payer_id = member_user_id(session, membership_id)
    total = session.execute(select(func.count()).select_from(Posting)
                            .where(Posting.account_id == account_id)).scalar_one()
    rows = session.execute(
        select(LedgerTransaction.id, LedgerTransaction.created_at, Posting.amount_fen, LedgerTransaction.reason,
               LedgerTransaction.reference_type, LedgerTransaction.reference_id,
               LedgerTransaction.initiated_by_user_id, LedgerTransaction.idempotency_key)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(Posting.account_id == account_id)
        .order_by(Posting.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    items = []
    for r in rows:
        sponsored = (r.initiated_by_user_id is not None and r.initiated_by_user_id != payer_id
                     and r.reason == memberships.TOPUP_REASON)
        items.append(Movement(r.id, r.created_at, r.amount_fen, r.reason, r.reference_type, r.reference_id,
                              sponsored=sponsored,
                              description=describe_movement(r.reason, r.reference_id, r.idempotency_key, sponsored)))
    return items, total
