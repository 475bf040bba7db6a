"""Daily reconciliation with WeChat Pay's bills: one row per bill date (re-runnable), the lines
that did not match, and a staging table the day's bill lines pass through for set-based matching."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

MISMATCH_CATEGORIES = ("wechat_only", "ours_only", "amount_differs", "state_differs", "settled_missed")
RESOLUTION_OUTCOMES = ("corrected", "explained", "escalated")


class BillReconciliation(Base):
    __tablename__ = "bill_reconciliations"
    __table_args__ = (CheckConstraint("status IN ('running','done','refused')", name="status_valid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bill_date: Mapped[dt.date] = mapped_column(Date, unique=True)  # China time
    status: Mapped[str] = mapped_column(String(8))
    trade_sha1: Mapped[str | None] = mapped_column(String(40))
    fundflow_sha1: Mapped[str | None] = mapped_column(String(40))
    lines: Mapped[int] = mapped_column(BigInteger, default=0)
    matched: Mapped[int] = mapped_column(BigInteger, default=0)
    mismatched: Mapped[int] = mapped_column(BigInteger, default=0)
    settled: Mapped[int] = mapped_column(BigInteger, default=0)  # paid top-ups we had missed, settled now
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class BillMismatch(Base):
    __tablename__ = "bill_mismatches"
    __table_args__ = (
        CheckConstraint("category IN ('wechat_only','ours_only','amount_differs','state_differs','settled_missed')",
                        name="category_valid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reconciliation_id: Mapped[int] = mapped_column(BigId, ForeignKey("bill_reconciliations.id"), index=True)
    category: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(10))  # payment | refund | transfer
    reference: Mapped[str] = mapped_column(String(64))  # out_trade_no / out_refund_no / out_bill_no
    wechat_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    our_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    our_state: Mapped[str | None] = mapped_column(String(20))


class BillLine(Base):
    """A parsed bill line while its day is being matched (deleted when the day is done)."""

    __tablename__ = "bill_lines"
    __table_args__ = (Index("ix_bill_lines_reconciliation_kind_reference", "reconciliation_id", "kind", "reference"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reconciliation_id: Mapped[int] = mapped_column(BigId, ForeignKey("bill_reconciliations.id"))
    kind: Mapped[str] = mapped_column(String(10))
    reference: Mapped[str] = mapped_column(String(64))
    wechat_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20))


class BillMismatchResolution(Base):
    """An operator's resolution of one mismatch: who, when, the outcome and why. Keyed by the day and
    the line, not by the mismatch row (a re-run of the day replaces those), so a re-run keeps it."""

    __tablename__ = "bill_mismatch_resolutions"
    __table_args__ = (
        UniqueConstraint("bill_date", "category", "kind", "reference"),
        CheckConstraint("outcome IN ('corrected','explained','escalated')", name="outcome_valid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bill_date: Mapped[dt.date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(10))
    reference: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text)
    operator_id: Mapped[int] = mapped_column(BigId, ForeignKey("operators.id"))
    resolved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
