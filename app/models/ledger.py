"""Double-entry ledger. Postings are append-only and sum to zero per transaction;
balances are cached columns changed only by atomic SQL next to the postings that justify them."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

# Internal accounts hold money the platform keeps for members; external ones mirror the
# outside world (money in from WeChat Pay, money out as refunds, aid and fees) and may go
# negative, which is what makes every transaction sum to zero.
ACCOUNT_KINDS = (
    "member",          # a membership's prepaid balance
    "plan_pool",       # a plan's collections during a run, before they are settled
    "plan_surplus",    # over-collected fen kept for the plan's next run
    "aid_payable",     # a plan's approved aid collected and owed to claimants
    "refund_pending",  # balances of members who left, on their way back to WeChat Pay
    "wechat_pay_in",   # external: money received through WeChat Pay
    "refunds_out",     # external: refunds completed
    "aid_paid_out",    # external: aid transferred to claimants
    "fees_out",        # external: management fees (0% by default)
)
EXTERNAL_KINDS = ("wechat_pay_in", "refunds_out", "aid_paid_out", "fees_out")


# PostgreSQL: fillfactor 50 (migration 0020): room on each page for a run to update every balance HOT.
class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("allow_negative OR balance_fen >= 0", name="balance_non_negative"),
        Index("ix_accounts_plan_id_kind", "plan_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    plan_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("plans.id"))
    membership_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("memberships.id"), unique=True)
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # sha256 of the canonical request: a replay with other content is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32), index=True)
    reference_type: Mapped[str | None] = mapped_column(String(32))
    reference_id: Mapped[str | None] = mapped_column(String(64))
    initiated_by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# Postings reference accounts and ledger transactions without row-level foreign keys (migration
# 0020): a run writes 100,000 postings per statement, and two RI triggers per row cost more than the
# rest of the statement. PostgreSQL checks the references once per statement (ledger_check_zero_sum,
# an anti-join of the statement's new postings), SQLite per row (trigger postings_references), and
# what they reference never disappears: ledger transactions are append-only, accounts refuse DELETE
# and a change of id. `flask ledger audit` checks the references of every posting.
class Posting(Base):
    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("amount_fen <> 0", name="amount_non_zero"),
        Index("ix_postings_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Looked up by ix_postings_transaction_id_id (app/models/transparency.py): transaction_id leads it.
    transaction_id: Mapped[int] = mapped_column(BigId)
    account_id: Mapped[int] = mapped_column(BigId)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
