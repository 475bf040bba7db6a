"""Operators of the platform (reviewers, investigators, finance, auditors), the investigation
organisations investigators belong to, and the operators' append-only audit log."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

OPERATOR_ROLES = ("reviewer", "investigator", "finance", "auditor")


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
