"""The public figures of each plan (members, observing, protected, balances held, aid paid, estimated
annual cost) kept in plan_stats, so the home page and plan detail read six primary-key rows instead of
aggregating a million members on every request.

Why a summary table refreshed by the scheduler rather than counters kept in the writing transactions:
the figures change in many places (joins, state changes in `members advance`, every top-up and refund,
every apportionment chunk, every payout), several of them hot set-based statements owned by other
parts of the code; a counter in each would add a contended row update to each of them (one hot row per
plan, serialising a million-member run against every top-up) and one missed path would drift silently.
One set-based statement recomputes everything from the books instead: exact at `refreshed_at`, at most
a minute (the scheduler's period, plus its 20 s poll) older than the truth, and cheap to call on demand.
Measured at 1,000,000 members: see docs/scaling.md."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import BigInteger, case, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import GOOD_STANDING, Account, ApportionmentRun, Claim, Membership, Plan, PlanStats

from .unit_of_work import atomic

FIGURES = ("members", "observing", "protected", "balances_held_fen", "aid_paid_fen", "estimated_annual_fen")


def _figures(now: dt.datetime, runs_per_year: int):
    """One SELECT: every plan with its figures, aggregated from memberships, accounts, claims and runs."""
    counts = select(
        Membership.plan_id,
        func.sum(case((Membership.state.in_(GOOD_STANDING), 1), else_=0)).label("members"),
        func.sum(case((Membership.state == "observing", 1), else_=0)).label("observing"),
        func.sum(case((Membership.state == "protected", 1), else_=0)).label("protected"),
    ).group_by(Membership.plan_id).subquery()
    held = (select(Account.plan_id, func.sum(Account.balance_fen).label("held"))
            .where(Account.kind == "member").group_by(Account.plan_id).subquery())
    aid = (select(Claim.plan_id, func.sum(Claim.collected_aid_fen).label("aid"))
           .where(Claim.status == "paid").group_by(Claim.plan_id).subquery())
    # The mean share of the runs executed in the last 365 days × runs a year (integer division, as
    # plans.annual_cost_estimates does); a plan without such a run has no estimate (NULL).
    annual = (select(ApportionmentRun.plan_id,
                     (cast(func.sum(ApportionmentRun.share_fen), BigInteger) * runs_per_year
                      / func.count()).label("annual"))
              .where(ApportionmentRun.status == "executed", ApportionmentRun.executed_at > now - dt.timedelta(days=365))
              .group_by(ApportionmentRun.plan_id).subquery())
    return (
        select(Plan.id,
               func.coalesce(counts.c.members, 0), func.coalesce(counts.c.observing, 0),
               func.coalesce(counts.c.protected, 0), func.coalesce(held.c.held, 0), func.coalesce(aid.c.aid, 0),
               cast(annual.c.annual, BigInteger), literal(now, PlanStats.refreshed_at.type))
        .outerjoin(counts, counts.c.plan_id == Plan.id).outerjoin(held, held.c.plan_id == Plan.id)
        .outerjoin(aid, aid.c.plan_id == Plan.id).outerjoin(annual, annual.c.plan_id == Plan.id)
        # A WHERE clause: SQLite cannot otherwise tell the upsert's ON CONFLICT from a join's ON.
        .where(Plan.id.is_not(None)).order_by(Plan.id)
    )


def refresh(session: Session, now: dt.datetime, runs_per_year: int) -> int:
    """Recompute every plan's figures in one INSERT … SELECT … ON CONFLICT DO UPDATE; returns the plans
    refreshed. Two refreshes at once are safe (rows are upserted in plan id order)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    columns = ["plan_id", *FIGURES, "refreshed_at"]
    insert = dialect.insert(PlanStats).from_select(columns, _figures(now, runs_per_year))
    upsert = insert.on_conflict_do_update(
        index_elements=["plan_id"], set_={c: getattr(insert.excluded, c) for c in columns[1:]})
    with atomic(session):
        return session.execute(upsert).rowcount


def read(session: Session, now: dt.datetime, runs_per_year: int, *, max_age: dt.timedelta,
         may_refresh: Callable[[], bool] = lambda: True) -> dict[int, dict]:
    """Per plan id: its figures. Refreshed first when a plan has none yet, or when they are older than
    max_age and `may_refresh()` allows it (normally the scheduler keeps them fresh; this covers a first
    start and a stopped scheduler). `may_refresh` lets one request of many refresh stale figures while the
    others answer with them (a refresh scans every member: 32 at once would stall them all)."""
    rows = session.execute(select(PlanStats)).scalars().all()
    plans = session.execute(select(func.count()).select_from(Plan)).scalar_one()
    missing = len(rows) < plans
    if missing or (any(now - r.refreshed_at >= max_age for r in rows) and may_refresh()):
        refresh(session, now, runs_per_year)
        rows = session.execute(select(PlanStats).execution_options(populate_existing=True)).scalars().all()
    return {r.plan_id: {f: getattr(r, f) for f in FIGURES} for r in rows}
