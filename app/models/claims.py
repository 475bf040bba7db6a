"""Claims (aid cases) and what hangs off a case: its documents, the timeline the member sees and
the objections raised during publicity. Operators: operators.py; aid transfers: payouts.py."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        text)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

CLAIM_STATUSES = (
    "submitted",      # reported by the payer
    "under_review",   # platform checks completeness
    "returned",       # back to the member: something is missing
    "investigating",  # a third-party organisation investigates
    "publicity",      # approved and published for 5 days (公示); members may object
    "ready",          # publicity over: waits for the next apportionment run
    "collected",      # a run collected its aid and settled it into aid payable
    "paid",           # aid transferred to the claimant
    "rejected",       # ends it, with a reason the member sees
    "withdrawn",      # the member withdrew it
)
OPEN_CLAIM_STATUSES = ("submitted", "under_review", "returned", "investigating", "publicity", "ready", "collected")
CLOSED_CLAIM_STATUSES = ("paid", "rejected", "withdrawn")
# Cases an apportionment run may collect (publicity over or ending by the cut-off), and cases whose
# aid a run collected (an amount still owed to them may follow in a later run).
COLLECTABLE_CLAIM_STATUSES = ("publicity", "ready")
COLLECTED_CLAIM_STATUSES = ("collected", "paid")
# Cases the public announcements show (approved: in publicity or past it).
PUBLISHED_CLAIM_STATUSES = ("publicity", "ready", "collected", "paid")
OBJECTION_STATUSES = ("pending", "upheld", "dismissed")
INCIDENT_TYPES = ("illness", "accident")
_open_sql = "status IN ('submitted','under_review','returned','investigating','publicity','ready','collected')"


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(
            "status IN ('submitted','under_review','returned','investigating','publicity','ready','collected',"
            "'paid','rejected','withdrawn')", name="status_valid"),
        CheckConstraint("incident_type IN ('illness','accident')", name="incident_type_valid"),
        CheckConstraint("approved_aid_fen IS NULL OR approved_aid_fen > 0", name="approved_aid_positive"),
        Index("ix_claims_plan_id_status", "plan_id", "status"),
        # One open claim per membership, decided by the database under concurrent reports.
        Index("uq_claims_open_per_membership", "membership_id", unique=True,
              postgresql_where=text(_open_sql), sqlite_where=text(_open_sql)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    membership_id: Mapped[int] = mapped_column(BigId, ForeignKey("memberships.id"), index=True)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    incident_type: Mapped[str] = mapped_column(String(10))
    incident_date: Mapped[dt.date] = mapped_column(Date)
    diagnosis_date: Mapped[dt.date] = mapped_column(Date)
    diagnosis: Mapped[str] = mapped_column(String(200))
    hospital: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    aid_item_code: Mapped[str | None] = mapped_column(String(40))
    # The investigation's amount by the plan's aid table (never above the plan's maximum).
    approved_aid_fen: Mapped[int | None] = mapped_column(BigInteger)
    # Set by the apportionment run that collected this case's aid (limited by share cap × payers).
    collected_aid_fen: Mapped[int | None] = mapped_column(BigInteger)
    collected_by_run_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    publicity_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    publicity_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Who handled the case (three different operators), and what the member sees.
    reviewer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"))
    organisation_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("investigation_organisations.id"), index=True)
    investigator_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"))
    finance_approver_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"))
    missing_items: Mapped[str | None] = mapped_column(Text)  # why it was returned to the member
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[str | None] = mapped_column(Text)  # the investigation report (case file)
    investigation_summary: Mapped[str | None] = mapped_column(Text)  # published with the announcement


class ClaimDocument(Base):
    """A file stored outside the web root under a random name; its type is sniffed, never trusted."""

    __tablename__ = "claim_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(BigId, ForeignKey("claims.id"), index=True)
    storage_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Retention over: the file is gone; the row (type, size, hash) stays for the case's record.
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ClaimTimelineEntry(Base):
    """What the member sees happen to the case, in order."""

    __tablename__ = "claim_timeline"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(BigId, ForeignKey("claims.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(20))  # member | reviewer | investigator | finance | system
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ClaimObjection(Base):
    __tablename__ = "claim_objections"
    __table_args__ = (
        UniqueConstraint("claim_id", "user_id", name="uq_claim_objections_claim_id_user_id"),
        CheckConstraint("status IN ('pending','upheld','dismissed')", name="status_valid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(BigId, ForeignKey("claims.id"), index=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by_operator_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
