"""Apportionment runs (pooled deductions) and the cases each run funds.

A run keeps its frozen numbers (share, payers, limited aid, fee, surplus) and its recovery
point; the per-member record of a deduction is the member's posting in the run's chunk
transactions, so there is no row per member per run here."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String,
                        text)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

RUN_STATUSES = ("prepared", "published", "executing", "executed", "cancelled")
OPEN_RUN_STATUSES = ("prepared", "published", "executing")
PUBLIC_RUN_STATUSES = ("published", "executing", "executed")  # runs the public pages show
_open_sql = "status IN ('prepared', 'published', 'executing')"
_first_collection_sql = "active AND carried_from_id IS NULL"
_carried_sql = "active AND carried_from_id IS NOT NULL"


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
    # False when "share → who can pay → share" had no fixed point (domain.md: the smallest share
    # of the cycle, paid by all who can); payer_rounds keeps every round (payers, share, able).
    payer_set_settled: Mapped[bool] = mapped_column(Boolean, default=True)
    payer_rounds: Mapped[list | None] = mapped_column(JSON)
    # Execution works through the plan's memberships in id ranges [lo, lo + chunk_size).
    first_membership_id: Mapped[int] = mapped_column(BigInteger)
    end_membership_id: Mapped[int] = mapped_column(BigInteger)  # exclusive
    chunk_size: Mapped[int] = mapped_column(Integer)
    next_membership_id: Mapped[int] = mapped_column(BigInteger)  # the recovery point
    debited_count: Mapped[int] = mapped_column(BigInteger, default=0)
    debited_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    suspended_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # Counted payers whose membership ended before their chunk: their share was withheld then
    # (included in debited_count / debited_fen).
    withheld_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # Settlement.
    fee_collected_fen: Mapped[int | None] = mapped_column(BigInteger)
    aid_collected_fen: Mapped[int | None] = mapped_column(BigInteger)
    over_collection_fen: Mapped[int | None] = mapped_column(BigInteger)
    surplus_after_fen: Mapped[int | None] = mapped_column(BigInteger)
    # A gap between the aid due and what was collected: first covered from the plan's surplus,
    # the rest owed to the cases and carried to the next run.
    surplus_cover_fen: Mapped[int | None] = mapped_column(BigInteger)
    shortfall_fen: Mapped[int | None] = mapped_column(BigInteger)
    # Memberships of the run's candidates that ended before their chunk without paying.
    ended_unpaid_count: Mapped[int | None] = mapped_column(BigInteger)
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
        CheckConstraint("due_aid_fen >= 0 AND due_aid_fen <= limited_aid_fen", name="due_within_limited"),
        # A claim is in at most one run that is not cancelled (an amount owed to it is carried separately).
        Index("uq_apportionment_run_cases_claim_active", "claim_id", unique=True,
              postgresql_where=text(_first_collection_sql), sqlite_where=text(_first_collection_sql)),
        # An amount owed is carried by at most one run that is not cancelled.
        Index("uq_apportionment_run_cases_carried_active", "carried_from_id", unique=True,
              postgresql_where=text(_carried_sql), sqlite_where=text(_carried_sql)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("apportionment_runs.id"), index=True)
    claim_id: Mapped[int] = mapped_column(BigId, ForeignKey("claims.id"))
    position: Mapped[int] = mapped_column(Integer)
    approved_aid_fen: Mapped[int] = mapped_column(BigInteger)
    limited_aid_fen: Mapped[int] = mapped_column(BigInteger)
    # What the run promises the case: the limited aid; less only when the payer set did not settle
    # (its part of all that is collected). For a carried row, approved = the amount owed.
    due_aid_fen: Mapped[int] = mapped_column(BigInteger)
    collected_aid_fen: Mapped[int | None] = mapped_column(BigInteger)
    # After settlement: aid still owed to the case (due − collected; for a carried row the amount
    # owed − collected), carried by the next run of the plan.
    shortfall_fen: Mapped[int | None] = mapped_column(BigInteger)
    carried_from_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("apportionment_run_cases.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApportionmentRunChunk(Base):
    """One chunk of a run's execution: memberships with lo <= id < hi. The chunks are fixed when the
    run starts executing; a worker claims a pending chunk by locking its row (FOR UPDATE SKIP
    LOCKED), debits it and marks it done in the same transaction, so a killed worker leaves it
    pending for the next. The chunk's own counters are added to the run when it settles."""

    __tablename__ = "apportionment_run_chunks"
    __table_args__ = (
        CheckConstraint("status IN ('pending','done')", name="status_valid"),
        CheckConstraint("lo < hi", name="range_not_empty"),
    )

    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("apportionment_runs.id"), primary_key=True)
    lo: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hi: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    debited_count: Mapped[int] = mapped_column(BigInteger, default=0)
    debited_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    suspended_count: Mapped[int] = mapped_column(BigInteger, default=0)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RunDebitLeaves(Base):
    """The Merkle leaf hashes of one of a run's deduction transactions (a chunk's debits, in leaf order:
    app/services/run_tree.py), written by the chunk in its own transaction, so that settlement combines
    them instead of reading and hashing every debit again in the run's serial tail. A cache of what the
    ledger says, never a source: verification recomputes every root from the postings, and settlement
    deletes a run's rows once its root is committed. No foreign key to the run: its check would take a
    key-share lock on the run's row, which a member's leave holds FOR UPDATE while it waits for this very
    chunk (withholding.lock_open_run) — a deadlock (tests/integration/test_apportionment_pg.py); the
    chunk that writes the row is the run's."""

    __tablename__ = "run_debit_leaves"

    run_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_transactions.id"), primary_key=True)
    leaf_count: Mapped[int] = mapped_column(BigInteger)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)  # leaf_count × 32 bytes


# A run's chunk transactions are found by their reference (payers of a run, a member's deductions).
from .ledger import LedgerTransaction  # noqa: E402

Index("ix_ledger_transactions_reference", LedgerTransaction.reference_type, LedgerTransaction.reference_id)
