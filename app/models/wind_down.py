"""Closing a plan (docs/wind-down.md): the wind-down itself, one balance return per membership and
the merchant transfers that return money WeChat can no longer refund (payments over a year old)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

# proposed: one operator asked; announced: finance confirmed (joins closed, claims only for incidents up
# to the closing date); final_run: the closing date has passed, the cases in the pipeline finish;
# refunding: every balance is being returned; closed: the last fen is back, the closing report published.
WIND_DOWN_STATUSES = ("proposed", "announced", "final_run", "refunding", "closed")
CLOSING_STATUSES = ("announced", "final_run", "refunding")
RETURN_REASONS = ("wind_down", "leave")
RETURN_STATUSES = ("pending", "returning", "done", "failed")
RETURN_TRANSFER_STATUSES = ("pending", "wait_user_confirm", "succeeded", "failed")


class PlanWindDown(Base):
    __tablename__ = "plan_wind_downs"
    __table_args__ = (
        CheckConstraint("status IN ('proposed','announced','final_run','refunding','closed')", name="status_valid"),
        CheckConstraint("confirmed_by_operator_id IS NULL OR confirmed_by_operator_id <> proposed_by_operator_id",
                        name="two_operators"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12))
    closing_date: Mapped[dt.date] = mapped_column(Date)
    proposed_by_operator_id: Mapped[int] = mapped_column(BigId, ForeignKey("operators.id"))
    confirmed_by_operator_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"))
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    announced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refunding_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    surplus_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # the plan's surplus shared at refunding
    closing_report_sha256: Mapped[str | None] = mapped_column(String(64))


class BalanceReturn(Base):
    """One membership's balance going back (a wind-down's, or a leave with money over a year old).
    `amount_fen` = balance + surplus share, fixed when the return is processed; the parts go back by
    refund (PaymentRefund rows) and by merchant transfer (ReturnTransfer rows)."""
    __tablename__ = "balance_returns"
    __table_args__ = (
        UniqueConstraint("membership_id", "reason", name="uq_balance_returns_membership_id_reason"),
        CheckConstraint("status IN ('pending','returning','done','failed')", name="status_valid"),
        Index("ix_balance_returns_plan_id_status_id", "plan_id", "status", "id"),  # dispatch's keyset
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    membership_id: Mapped[int] = mapped_column(BigId, ForeignKey("memberships.id"))
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"))
    reason: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    surplus_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    by_refund_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    by_transfer_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # When a chunk job last took it (a pending return not taken for a lease is handed out again).
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class BalanceReturnRefund(Base):
    """Which refunds carry a return's money (a refund's completion adds to the return's returned_fen)."""
    __tablename__ = "balance_return_refunds"

    refund_id: Mapped[int] = mapped_column(BigId, ForeignKey("refunds.id"), primary_key=True)
    balance_return_id: Mapped[int] = mapped_column(BigId, ForeignKey("balance_returns.id"), index=True)


class ReturnTransfer(Base):
    """A merchant transfer (商家转账) of returned balance to the payer's openid, idempotent by our
    out_bill_no (derived from the return: one number per return, reused on every retry)."""
    __tablename__ = "return_transfers"
    __table_args__ = (
        CheckConstraint("status IN ('pending','wait_user_confirm','succeeded','failed')", name="status_valid"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_return_transfers_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    balance_return_id: Mapped[int] = mapped_column(BigId, ForeignKey("balance_returns.id"), index=True)
    membership_id: Mapped[int] = mapped_column(BigId, ForeignKey("memberships.id"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    out_bill_no: Mapped[str] = mapped_column(String(32), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    transfer_bill_no: Mapped[str | None] = mapped_column(String(64))
    package_info: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
