"""What every part of a run needs: its constants, finding a run, and the set-based selections of
who a run debited or suspended (for subscribers such as notifications)."""
from __future__ import annotations

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from app.models import (
    GOOD_STANDING, OPEN_RUN_STATUSES, Account, ApportionmentRun, ApportionmentRunChunk, Membership, Posting, UTCDateTime,
)
from app.models.ledger import LedgerTransaction

from ..errors import NotFound
from ..plans import get_plan


RUN_REFERENCE = "apportionment_run"
DEDUCTION_REASON = "deduction"
SETTLE_REASON = "apportionment_settle"
WITHHELD_RETURNED_REASON = "withheld_returned"  # a cancelled run gives back a share withheld at leaving
DEFAULT_CHUNK_SIZE = 100_000
DEFAULT_GRACE_DAYS = 30
# The membership states a run counts, as SQL (for the text() statements of prepare and the chunks).
GOOD_STANDING_SQL = "(" + ", ".join(f"'{state}'" for state in GOOD_STANDING) + ")"
_DT = UTCDateTime()


def sql_text(statement: str, **datetimes) -> text:
    """A text() statement whose datetime parameters go through UTCDateTime (SQLite stores naive UTC)."""
    clause = text(statement)
    used = [bindparam(name, value, type_=_DT) for name, value in datetimes.items() if f":{name}" in statement]
    return clause.bindparams(*used) if used else clause


def find_open_run(session: Session, plan_id: int) -> ApportionmentRun | None:
    return session.execute(select(ApportionmentRun).where(
        ApportionmentRun.plan_id == plan_id, ApportionmentRun.status.in_(OPEN_RUN_STATUSES)
    )).scalar_one_or_none()


def get_run(session: Session, run_id: int, *, for_update: bool = False) -> ApportionmentRun:
    query = select(ApportionmentRun).where(ApportionmentRun.id == run_id)
    if for_update:
        query = query.with_for_update()
    run = session.execute(query).scalar_one_or_none()
    if run is None:
        raise NotFound("没有找到这次分摊", code="run_not_found", details={"run_id": run_id})
    return run


def open_run_id(session: Session, plan_code: str) -> int:
    plan, _ = get_plan(session, plan_code)
    run = find_open_run(session, plan.id)
    if run is None:
        raise NotFound("这个计划没有进行中的分摊", code="run_not_found", details={"plan_code": plan_code})
    return run.id


def member_account_id(session: Session, membership_id: int) -> int:
    return session.execute(select(Account.id).where(Account.membership_id == membership_id)).scalar_one()


def payers_select(run_id: int):
    """Membership ids debited by a run (its chunk postings), for set-based fan-out."""
    return (select(Account.membership_id)
            .join(Posting, Posting.account_id == Account.id)
            .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
            .where(LedgerTransaction.reference_type == RUN_REFERENCE, LedgerTransaction.reference_id == str(run_id),
                   LedgerTransaction.reason == DEDUCTION_REASON, Account.kind == "member"))


def suspended_select(run: ApportionmentRun):
    """Memberships suspended by a run (still suspended): the batch stamped with its execute time."""
    return select(Membership.id).where(Membership.plan_id == run.plan_id, Membership.state == "suspended",
                                       Membership.suspended_at == run.execute_at)


def pending_chunks(session: Session, run_id: int) -> int:
    """Chunks of the run not done yet (one a worker holds counts until it commits)."""
    return session.execute(select(func.count()).select_from(ApportionmentRunChunk).where(
        ApportionmentRunChunk.run_id == run_id, ApportionmentRunChunk.status == "pending")).scalar_one()


def chunk_totals(session: Session, run_id: int) -> tuple[int, int, int, int, int]:
    """(chunks done, chunks in all, debited count, debited fen, suspended) over the run's chunk rows."""
    c = ApportionmentRunChunk
    done, total, count, fen, suspended = session.execute(select(
        func.count().filter(c.status == "done"), func.count(),
        func.coalesce(func.sum(c.debited_count), 0), func.coalesce(func.sum(c.debited_fen), 0),
        func.coalesce(func.sum(c.suspended_count), 0)).where(c.run_id == run_id)).one()
    return int(done), int(total), int(count), int(fen), int(suspended)


def progress(session: Session, run: ApportionmentRun) -> dict:
    """Chunks done / in all and what was debited so far (until the run settles, its own counters
    hold only the shares withheld at leaving; settling adds the chunks'): console, API, CLI."""
    done, total, count, fen, suspended = chunk_totals(session, run.id)
    if not total:  # not started, or nothing to debit: the chunks it has in prospect
        total = max(1, -(-(run.end_membership_id - run.first_membership_id) // run.chunk_size))
        done = 0
    if run.status == "executed":  # the chunks' counters are in the run's now
        done, count, fen, suspended = total, 0, 0, 0
    return {"chunks_done": done, "chunks_total": total, "debited_count": run.debited_count + count,
            "debited_fen": run.debited_fen + fen, "suspended_count": run.suspended_count + suspended}
