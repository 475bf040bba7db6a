"""Transparency: per-membership secrets (pseudonyms in run trees), the plans' hash chains of
published records (runs, monthly reports), and the frozen reports themselves."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

RECORD_KINDS = ("run", "monthly_report")


class MembershipSecret(Base):
    """A random secret shown only to the membership's payer: the member's pseudonym in a run's
    tree is HMAC-SHA256(secret, run id), which only they (and we) can recompute."""

    __tablename__ = "membership_secrets"

    membership_id: Mapped[int] = mapped_column(BigId, ForeignKey("memberships.id"), primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary(32))


class TransparencyRecord(Base):
    """One link of a plan's hash chain: record_hash = SHA-256 of the canonical JSON of the other
    fields (previous_hash included), so editing any published record breaks every later link."""

    __tablename__ = "transparency_records"
    __table_args__ = (
        CheckConstraint("kind IN ('run','monthly_report')", name="kind_valid"),
        CheckConstraint("sequence >= 1", name="sequence_positive"),
        UniqueConstraint("plan_id", "sequence", name="uq_transparency_records_plan_sequence"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("apportionment_runs.id"), unique=True)
    report_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("financial_reports.id"), unique=True)
    tree_size: Mapped[int | None] = mapped_column(BigInteger)
    total_fen: Mapped[int | None] = mapped_column(BigInteger)
    root_hash: Mapped[str | None] = mapped_column(String(64))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    previous_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FinancialReport(Base):
    """A closed month's report, frozen: the canonical JSON as published and its SHA-256."""

    __tablename__ = "financial_reports"
    __table_args__ = (UniqueConstraint("plan_id", "period", name="uq_financial_reports_plan_period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM, China time
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# A run's leaves are read in ledger order, transaction by transaction, by posting id.
from .ledger import Posting  # noqa: E402

Index("ix_postings_transaction_id_id", Posting.transaction_id, Posting.id)
