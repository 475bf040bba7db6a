"""Apportionment runs (pooled deductions) and the cases each run funds.

A run keeps its frozen numbers (share, payers, limited aid, fee, surplus) and its recovery
point; the per-member record of a deduction is the member's posting in the run's chunk
transactions, so there is no row per member per run here."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

RUN_STATUSES = ("prepared", "published", "executing", "executed", "cancelled")
OPEN_RUN_STATUSES = ("prepared", "published", "executing")
_open_sql = "status IN ('prepared', 'published', 'executing')"


class ApportionmentRun(Base):
    __tablename__ = "apportionment_runs"
    __table_args__ = (
        CheckConstraint("status IN ('prepared','published','executing','executed','cancelled')", name="status_valid"),
        CheckConstraint("share_fen >= 0 AND payer_count >= 0 AND amount_fen >= 0", name="numbers_non_negative"),
        # At most one run in progress per plan: runs of a plan never interleave.
        Index("uq_apportionment_runs_open_per_plan", "plan_id", unique=True,
              postgresql_where=text(_open_sql), sqlite_where=text(_open_sql)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"), index=True)
    plan_version_id: Mapped[int] = mapped_column(BigId, ForeignKey("plan_versions.id"))
    status: Mapped[str] = mapped_column(String(12), default="prepared")
    cut_off_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Frozen rules of the plan version used (the plan's current version at prepare).
    share_cap_fen: Mapped[int] = mapped_column(BigInteger)
    management_fee_bp: Mapped[int] = mapped_column(Integer)
    # The frozen numbers, published before execution.
    case_count: Mapped[int] = mapped_column(Integer)
    approved_aid_fen: Mapped[int] = mapped_column(BigInteger)
    limited_aid_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    surplus_before_fen: Mapped[int] = mapped_column(BigInteger)
    surplus_used_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # limited aid + fee − surplus used
    payer_count: Mapped[int] = mapped_column(BigInteger)
    low_balance_count: Mapped[int] = mapped_column(BigInteger)  # in good standing but below the share
    share_fen: Mapped[int] = mapped_column(BigInteger)
    rounds: Mapped[int] = mapped_column(Integer)  # iterations until the payer set was stable
    # Execution works through the plan's memberships in id ranges [lo, lo + chunk_size).
    first_membership_id: Mapped[int] = mapped_column(BigInteger)
    end_membership_id: Mapped[int] = mapped_column(BigInteger)  # exclusive
    chunk_size: Mapped[int] = mapped_column(Integer)
    next_membership_id: Mapped[int] = mapped_column(BigInteger)  # the recovery point
    debited_count: Mapped[int] = mapped_column(BigInteger, default=0)
    debited_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    suspended_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # Settlement.
    fee_collected_fen: Mapped[int | None] = mapped_column(BigInteger)
    aid_collected_fen: Mapped[int | None] = mapped_column(BigInteger)
    over_collection_fen: Mapped[int | None] = mapped_column(BigInteger)
    surplus_after_fen: Mapped[int | None] = mapped_column(BigInteger)
    prepared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # One timestamp for every chunk (ledger rows, suspensions) so a resumed run is one batch.
    execute_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    executed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ApportionmentRunCase(Base):
    """A case (claim) funded by a run, with its approved and limited aid."""

    __tablename__ = "apportionment_run_cases"
    __table_args__ = (
        CheckConstraint("limited_aid_fen >= 0 AND limited_aid_fen <= approved_aid_fen", name="limited_within_approved"),
        # A claim is in at most one run that is not cancelled.
        Index("uq_apportionment_run_cases_claim_active", "claim_id", unique=True,
              postgresql_where=text("active"), sqlite_where=text("active")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("apportionment_runs.id"), index=True)
    claim_id: Mapped[int] = mapped_column(BigId, ForeignKey("claims.id"))
    position: Mapped[int] = mapped_column(Integer)
    approved_aid_fen: Mapped[int] = mapped_column(BigInteger)
    limited_aid_fen: Mapped[int] = mapped_column(BigInteger)
    collected_aid_fen: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# A run's chunk transactions are found by their reference (payers of a run, a member's deductions).
from .ledger import LedgerTransaction  # noqa: E402

Index("ix_ledger_transactions_reference", LedgerTransaction.reference_type, LedgerTransaction.reference_id)
