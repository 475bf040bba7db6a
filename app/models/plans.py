from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, BigId, UTCDateTime


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    current_version_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("plan_versions.id", use_alter=True, name="fk_plans_current_version_id_plan_versions")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    current_version: Mapped[PlanVersion | None] = relationship(foreign_keys=[current_version_id], post_update=True)


class PlanVersion(Base):
    """An immutable set of a plan's rules. Members keep the version they joined under."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_plan_versions_plan_id_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"))
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict] = mapped_column(JSON)
    rules_sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PlanStats(Base):
    """The public figures of a plan (home page, plan detail), refreshed set-based by the scheduler
    (app/services/plan_stats.refresh): reading them costs one primary-key row, not a scan of members."""

    __tablename__ = "plan_stats"

    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"), primary_key=True)
    members: Mapped[int] = mapped_column(BigInteger)
    observing: Mapped[int] = mapped_column(BigInteger)
    protected: Mapped[int] = mapped_column(BigInteger)
    balances_held_fen: Mapped[int] = mapped_column(BigInteger)
    aid_paid_fen: Mapped[int] = mapped_column(BigInteger)
    estimated_annual_fen: Mapped[int | None] = mapped_column(BigInteger)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
