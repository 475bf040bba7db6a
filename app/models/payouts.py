"""Aid payouts: the merchant transfers (商家转账) that pay a claim's collected aid to the claimant."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

# pending: intent recorded, WeChat's answer unknown (retry with the same out_bill_no);
# wait_user_confirm: WeChat accepted it, the claimant confirms receipt in the mini-program;
# succeeded: WeChat says SUCCESS (the aid is paid); failed: WeChat says FAIL/CANCELLED (nothing moved).
TRANSFER_STATUSES = ("pending", "wait_user_confirm", "succeeded", "failed")

_live_transfer_sql = "status IN ('pending', 'wait_user_confirm')"


class PayoutTransfer(Base):
    """One merchant transfer (商家转账) of a claim's collected aid, idempotent by our out_bill_no."""

    __tablename__ = "payout_transfers"
    __table_args__ = (
        CheckConstraint("status IN ('pending','wait_user_confirm','succeeded','failed')", name="status_valid"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        # At most one transfer per claim that may still pay: a new number only after a definite failure
        # or success (a later run may make up a shortfall: payouts.approve pays only what is left).
        Index("uq_payout_transfers_live_per_claim", "claim_id", unique=True,
              postgresql_where=text(_live_transfer_sql), sqlite_where=text(_live_transfer_sql)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(BigId, ForeignKey("claims.id"), index=True)
    out_bill_no: Mapped[str] = mapped_column(String(32), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    transfer_bill_no: Mapped[str | None] = mapped_column(String(64))
    package_info: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(String(200))
    approved_by_operator_id: Mapped[int] = mapped_column(BigId, ForeignKey("operators.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
