"""WeChat Pay top-up orders and refunds. Our numbers (out_trade_no, out_refund_no) are written
before WeChat is called, so every retry reuses them and WeChat's idempotency applies."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

ORDER_STATUSES = ("created", "paying", "paid", "closed")
# created: our row exists, WeChat not (yet) asked; paying: WeChat gave a prepay_id;
# paid: credited (exactly once, keyed by WeChat's transaction_id); closed: expired or never ordered.
OPEN_ORDER_STATUSES = ("created", "paying")
REFUND_STATUSES = ("pending", "succeeded", "failed")


class PaymentOrder(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("status IN ('created','paying','paid','closed')", name="status_valid"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_orders_status_created_at", "status", "created_at"),
        Index("ix_orders_membership_id_status", "membership_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    membership_id: Mapped[int] = mapped_column(BigId, ForeignKey("memberships.id"))
    # Who pays: the membership's own payer, or a sponsor holding its sponsor link.
    payer_user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8), default="created")
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    transaction_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PaymentRefund(Base):
    """One refund of (part of) one paid order. Retried with the same out_refund_no until WeChat
    says it succeeded or failed; the ledger moves refund_pending → refunds_out on success."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("status IN ('pending','succeeded','failed')", name="status_valid"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_refunds_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"), index=True)
    membership_id: Mapped[int] = mapped_column(BigId, ForeignKey("memberships.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    refund_id: Mapped[str | None] = mapped_column(String(64))  # WeChat's, once it accepted the refund
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
