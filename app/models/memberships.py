from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

MEMBERSHIP_STATES = ("pending", "observing", "protected", "suspended", "lapsed", "left", "aided")
# States in which a person counts as a member of the plan (one such membership per person per plan).
ACTIVE_STATES = ("pending", "observing", "protected", "suspended")
# In good standing: covered or waiting out the observation period; these pay a run's share.
GOOD_STANDING = ("observing", "protected")
# Members who may object to a case during its publicity.
OBJECTING_STATES = ("observing", "protected", "suspended")
# A membership may be left (its balance refunded) while it counts, or once lapsed or aided (an aided
# membership has ended, but what is left of its balance is still the member's).
LEAVABLE_STATES = ACTIVE_STATES + ("lapsed", "aided")
RELATIONS = ("self", "child", "parent", "spouse")

_active_sql = "state IN ('pending', 'observing', 'protected', 'suspended')"


class Membership(Base):
    """One covered person in one plan, paid for by a user, with its own balance (its ledger account)."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint("state IN ('pending','observing','protected','suspended','lapsed','left','aided')", name="state_valid"),
        CheckConstraint("relation IN ('self','child','parent','spouse')", name="relation_valid"),
        CheckConstraint("sex IN ('M','F')", name="sex_valid"),
        Index(
            "uq_memberships_active_person_per_plan",
            "plan_id",
            "person_id_hash",
            unique=True,
            postgresql_where=text(_active_sql),
            sqlite_where=text(_active_sql),
        ),
        Index("ix_memberships_plan_id_state", "plan_id", "state"),
        # retention: "has this person any membership still running?" (all plans, all states)
        Index("ix_memberships_person_id_hash", "person_id_hash"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"))
    plan_version_id: Mapped[int] = mapped_column(BigId, ForeignKey("plan_versions.id"))
    relation: Mapped[str] = mapped_column(String(10))
    # Personal data: encrypted at rest; the keyed hash finds the same person without decrypting.
    person_name_encrypted: Mapped[str] = mapped_column(Text)
    person_name_masked: Mapped[str] = mapped_column(String(40))
    person_id_encrypted: Mapped[str] = mapped_column(Text)
    person_id_hash: Mapped[str] = mapped_column(String(64))
    # Which hash key made person_id_hash (look-ups try every configured key during a rotation).
    person_id_hash_key: Mapped[str] = mapped_column(String(8), server_default="v1")
    person_id_masked: Mapped[str] = mapped_column(String(18))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    eligibility_group: Mapped[str] = mapped_column(String(100))
    declaration: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    # Where a suspended membership returns when it tops up within the grace period.
    state_before_suspension: Mapped[str | None] = mapped_column(String(12))
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # When `state` last changed: set-based transitions mark their batch with it (events, outbox).
    state_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    observation_starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    observation_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    protected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    grace_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When a suspended membership last resumed: nothing that happened on or before this (China)
    # date is covered, since the suspension itself is no longer on record once resumed.
    coverage_resumed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A shareable token letting anyone top up this membership (a sponsor: 有钱的出钱).
    sponsor_token: Mapped[str] = mapped_column(String(32), unique=True)
    # Retention over (docs/privacy.md): name and ID number erased; the ledger keeps the id.
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
