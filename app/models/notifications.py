"""Subscribe-message consent quotas, the notification outbox, invite QR codes and WeChat group presence."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary,
                        String, Text, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

NOTIFICATION_STATUSES = ("pending", "queued", "sending", "sent", "skipped_no_quota", "failed")
FINAL_STATUSES = ("sent", "skipped_no_quota", "failed")


class SubscribeQuota(Base):
    """Our mirror of WeChat's rule: each accept in wx.requestSubscribeMessage allows one send."""

    __tablename__ = "subscribe_quotas"
    __table_args__ = (
        UniqueConstraint("user_id", "template_key", name="uq_subscribe_quotas_user_id_template_key"),
        CheckConstraint("remaining >= 0", name="remaining_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    template_key: Mapped[str] = mapped_column(String(40))
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


_due_sql = "status IN ('pending', 'queued', 'sending')"


class Notification(Base):
    """One subscribe message to one user: written by event subscribers in the event's transaction
    (the outbox), drained by the delivery worker. Ends sent, skipped_no_quota or failed."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending','queued','sending','sent','skipped_no_quota','failed')", name="status_valid"),
        # The dispatcher's scan: only rows not yet final, by when they are due.
        Index("ix_notifications_due", "next_attempt_at", postgresql_where=text(_due_sql),
              sqlite_where=text(_due_sql)),
        Index("ix_notifications_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # '{business}:{ids}' — the same notification is never written twice (ON CONFLICT DO NOTHING).
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    event_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    # What happened (case_announced, suspended, balance_low, observing, ...) and the template that says it.
    kind: Mapped[str] = mapped_column(String(40))
    template_key: Mapped[str] = mapped_column(String(40))
    plan_id: Mapped[int | None] = mapped_column(BigInteger)
    membership_id: Mapped[int | None] = mapped_column(BigInteger)
    claim_id: Mapped[int | None] = mapped_column(BigInteger)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # One quota is reserved for this row once; retries and crash recovery do not spend another.
    quota_spent: Mapped[bool] = mapped_column(Boolean, default=False)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RunNoticePart(Base):
    """A range of user ids [lo, hi) whose notices for an executed run (share deducted, suspended,
    balance low) are still to be written (outbox.write_run_notice_part): a large run's notices are
    written in parts, each its own transaction, by whichever workers are free (FOR UPDATE SKIP LOCKED),
    instead of one transaction of millions of rows after settlement. Cut when the run is announced;
    'done' once written."""

    __tablename__ = "run_notice_parts"
    __table_args__ = (CheckConstraint("status IN ('pending','done')", name="status_valid"),)

    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("apportionment_runs.id"), primary_key=True)
    lo: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hi: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    written_count: Mapped[int] = mapped_column(BigInteger, default=0)


class InviteQrCode(Base):
    """The PNG of a user's mini-program code (getUnlimited, scene = invite code), fetched once."""

    __tablename__ = "invite_qrcodes"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), primary_key=True)
    scene: Mapped[str] = mapped_column(String(32))
    png: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class GroupPresence(Base):
    """A user opened the mini-program from a WeChat group (opengid from getGroupEnterInfo)."""

    __tablename__ = "group_presences"
    __table_args__ = (UniqueConstraint("opengid", "user_id", name="uq_group_presences_opengid_user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    opengid: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
