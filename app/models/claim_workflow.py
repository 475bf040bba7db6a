"""The claims workflow around the claims core: operators and their organisations, documents,
the case timeline, objections, the operator audit log and aid transfers."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

OPERATOR_ROLES = ("reviewer", "investigator", "finance", "auditor")
OBJECTION_STATUSES = ("pending", "upheld", "dismissed")
# pending: intent recorded, WeChat's answer unknown (retry with the same out_bill_no);
# wait_user_confirm: WeChat accepted it, the claimant confirms receipt in the mini-program;
# succeeded: WeChat says SUCCESS (the aid is paid); failed: WeChat says FAIL/CANCELLED (nothing moved).
TRANSFER_STATUSES = ("pending", "wait_user_confirm", "succeeded", "failed")


class InvestigationOrganisation(Base):
    """A third-party investigation organisation (公估机构); investigators belong to one."""

    __tablename__ = "investigation_organisations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Operator(Base):
    """A platform or organisation staff account. `roles` is a comma-separated subset of OPERATOR_ROLES."""

    __tablename__ = "operators"
    __table_args__ = (
        CheckConstraint("roles NOT LIKE '%investigator%' OR organisation_id IS NOT NULL",
                        name="investigator_has_organisation"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(60))
    organisation_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("investigation_organisations.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Wrong passwords in a row; reaching the lock-out threshold locks the account until locked_until.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The console's second factor (TOTP): the shared secret encrypted like personal data; NULL until enrolled.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_enrolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The last time step accepted, so one code cannot be used twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)


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


class OperatorAuditEntry(Base):
    """Append-only (a PostgreSQL trigger refuses UPDATE/DELETE). Ids, statuses, amounts and masked
    values only: never a name, an ID number or free text a person typed.

    Hash-chained per stream (app/services/audit_chain.py): entry_hash = SHA-256 over prev_hash and
    the entry's content, so a changed or removed row breaks every later link."""

    __tablename__ = "operator_audit_log"
    __table_args__ = (UniqueConstraint("stream", "seq", name="uq_operator_audit_log_stream_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    operator_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("operators.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int | None] = mapped_column(BigInteger)
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    stream: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


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
