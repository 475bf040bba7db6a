"""Personal-data duties (docs/privacy.md): consents, name corrections, the PII key registry and
rotation progress, and the operator audit log's hash chain heads."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

CONSENT_SCOPES = ("privacy_policy", "sensitive_personal_data", "medical_documents")
CORRECTION_STATUSES = ("pending", "approved", "rejected")


class Consent(Base):
    """One consent, as given: by whom (the payer), to which scope, under which policy version, when,
    and for which covered person (membership) or claim. Never updated; a new version is a new row."""

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint("scope IN ('privacy_policy','sensitive_personal_data','medical_documents')",
                        name="scope_valid"),
        Index("ix_consents_user_id_scope", "user_id", "scope"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    scope: Mapped[str] = mapped_column(String(30))
    policy_version: Mapped[str] = mapped_column(String(20))
    membership_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("memberships.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("claims.id"), index=True)
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class NameCorrection(Base):
    """A member's request to correct a misspelled name; a reviewer approves or rejects it."""

    __tablename__ = "name_corrections"
    __table_args__ = (
        CheckConstraint("status IN ('pending','approved','rejected')", name="status_valid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    membership_id: Mapped[int] = mapped_column(BigId, ForeignKey("memberships.id"), index=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    new_name_encrypted: Mapped[str | None] = mapped_column(Text)
    new_name_masked: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reviewed_by_operator_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PiiKey(Base):
    """Every PII key that stored data may reference. Production refuses to start when one that is
    still referenced is not configured; `flask pii rotate` marks the old ones unreferenced."""

    __tablename__ = "pii_keys"
    __table_args__ = (CheckConstraint("kind IN ('encryption','hash')", name="kind_valid"),)

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    unreferenced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PiiRotation(Base):
    """Progress of one rotation of one table to one (encryption key, hash key) pair: the last id
    done, committed with each chunk, so a killed rotation resumes after it."""

    __tablename__ = "pii_rotations"
    __table_args__ = (UniqueConstraint("table_name", "key_id", "hash_key_id", name="uq_pii_rotations_target"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(8))
    hash_key_id: Mapped[str] = mapped_column(String(8))
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rewritten: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditChainHead(Base):
    """The newest entry of one audit stream. Appends lock this row (SELECT … FOR UPDATE), so two
    concurrent appends cannot both chain onto the same predecessor."""

    __tablename__ = "audit_chain_heads"

    stream: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AuditPublishedHead(Base):
    """A stream's head as recorded (and shown publicly) once a day: a later rewrite of any entry up
    to `seq` no longer matches `entry_hash`."""

    __tablename__ = "audit_published_heads"
    __table_args__ = (UniqueConstraint("stream", "day", name="uq_audit_published_heads_stream_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stream: Mapped[str] = mapped_column(String(40))
    day: Mapped[dt.date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
