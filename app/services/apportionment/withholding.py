"""A counted payer whose membership ends before its chunk runs: the share is withheld when it ends."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from app.models import (
    GOOD_STANDING, OPEN_RUN_STATUSES, Account, ApportionmentRun, ApportionmentRunChunk, Membership, Plan, Posting,
)
from app.models.ledger import LedgerTransaction

from .. import ledger
from .runs import DEDUCTION_REASON, RUN_REFERENCE, member_account_id


# domain.md: a payer counted when a run is prepared owes that run's share even if the membership
# ends before execution. Every ending path (leaving, aid paid) calls withhold_share in its own
# transaction and ends the membership in the same one, so the chunk, which only debits members
# in good standing, never sees it again. Chunks run in parallel: the ending locks the run and then
# the member's chunk row (lock_open_run), which a chunk in flight holds until it commits.
WITHHELD_KEY = "run:{run}:withheld:{membership}"


def lock_open_run(session: Session, plan_id: int, membership_id: int | None = None) -> ApportionmentRun | None:
    """The plan's open run, locked, and (given a membership) the run's chunk holding it. Take them
    before the membership and its account: a chunk's order (its chunk row, memberships, accounts),
    so an ending and a chunk never deadlock, and an ending waits for the chunk in flight on its
    membership and then sees it done (the member has paid and owes nothing more)."""
    run = session.execute(select(ApportionmentRun).where(
        ApportionmentRun.plan_id == plan_id, ApportionmentRun.status.in_(OPEN_RUN_STATUSES)
    ).with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()
    if run is not None and membership_id is not None:
        session.execute(_chunk_of(run.id, membership_id).with_for_update())
    return run


def _chunk_of(run_id: int, membership_id: int):
    return select(ApportionmentRunChunk.status).where(
        ApportionmentRunChunk.run_id == run_id, ApportionmentRunChunk.lo <= membership_id,
        ApportionmentRunChunk.hi > membership_id)


def chunk_ahead(session: Session, run: ApportionmentRun, membership_id: int) -> bool:
    """Is the chunk that would debit this membership still to run? Before the run starts executing it
    has no chunks: every membership from its recovery point on is ahead."""
    status = session.execute(_chunk_of(run.id, membership_id)).scalar_one_or_none()
    if status is not None:
        return status == "pending"
    cut = session.execute(select(ApportionmentRunChunk.lo).where(
        ApportionmentRunChunk.run_id == run.id).limit(1)).first() is not None
    return not cut and membership_id >= run.next_membership_id


def owes_share(run: ApportionmentRun | None, membership: Membership, balance_fen: int, *,
               ahead: bool | None = None) -> bool:
    """Would this run's chunk debit the membership (in good standing at the cut-off, its chunk
    still ahead, the balance covering the share)? `ahead` is read from the run's session unless given."""
    if not (run is not None and run.share_fen > 0 and membership.plan_id == run.plan_id
            and membership.state in GOOD_STANDING and membership.observation_starts_at is not None
            and membership.observation_starts_at <= run.cut_off_at
            and run.first_membership_id <= membership.id < run.end_membership_id
            and balance_fen >= run.share_fen):
        return False
    return chunk_ahead(object_session(run), run, membership.id) if ahead is None else ahead


def withhold_share(session: Session, run: ApportionmentRun | None, membership: Membership, balance_fen: int,
                   now: dt.datetime, *, user_id: int | None = None) -> int:
    """Debit the run's share now, as its chunk would (caller's transaction: run locked first, then
    the membership and its account; the caller ends the membership in the same transaction).
    Returns the fen withheld (0 when the run would not debit this membership)."""
    if not owes_share(run, membership, balance_fen, ahead=run is not None and chunk_ahead(session, run, membership.id)):
        return 0
    share = run.share_fen
    pool = ledger.account_id(session, ledger.plan_account_code(
        session.execute(select(Plan.code).where(Plan.id == run.plan_id)).scalar_one(), "plan_pool"))
    ledger.post_transaction(
        session, idempotency_key=WITHHELD_KEY.format(run=run.id, membership=membership.id), reason=DEDUCTION_REASON,
        legs=[ledger.Leg(member_account_id(session, membership.id), -share), ledger.Leg(pool, share)],
        now=now, reference_type=RUN_REFERENCE, reference_id=str(run.id), initiated_by_user_id=user_id)
    session.execute(update(ApportionmentRun).where(ApportionmentRun.id == run.id).values(
        debited_count=ApportionmentRun.debited_count + 1, debited_fen=ApportionmentRun.debited_fen + share,
        withheld_count=ApportionmentRun.withheld_count + 1).execution_options(synchronize_session=False))
    return share


def withheld_shares(session: Session, run: ApportionmentRun) -> list[tuple[int, int]]:
    """(membership id, fen) of the shares the run withheld from memberships that ended."""
    prefix = WITHHELD_KEY.format(run=run.id, membership="")
    return [(int(m), -int(fen)) for m, fen in session.execute(
        select(Account.membership_id, Posting.amount_fen)
        .join(Posting, Posting.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(LedgerTransaction.reference_type == RUN_REFERENCE, LedgerTransaction.reference_id == str(run.id),
               LedgerTransaction.idempotency_key.startswith(prefix, autoescape=True), Account.kind == "member")
        .order_by(Account.membership_id)).all()]
