"""Reads for assertions, in plain SQL or simple queries: balances, states, a run's postings, the
notification outbox, a plan's id."""
from __future__ import annotations

import sqlalchemy as sa

from app.models import Membership, Notification, Plan


def balances(session, membership_ids) -> dict[int, int]:
    rows = session.execute(sa.text(
        "SELECT membership_id, balance_fen FROM accounts WHERE kind = 'member'")).all()
    wanted = set(membership_ids)
    return {m: b for m, b in rows if m in wanted}


def states(session, membership_ids) -> dict[int, str]:
    rows = session.execute(sa.select(Membership.id, Membership.state).where(Membership.id.in_(list(membership_ids))))
    return dict(rows.all())


def run_postings(session, run_id: int) -> list[tuple[int, int]]:
    """(membership_id, amount) of every member posting of the run's chunk transactions."""
    return [tuple(r) for r in session.execute(sa.text(
        "SELECT a.membership_id, p.amount_fen FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
        "JOIN accounts a ON a.id = p.account_id WHERE t.reference_type = 'apportionment_run' "
        "AND t.reference_id = :r AND t.reason = 'deduction' AND a.kind = 'member'"), {"r": str(run_id)}).all()]


def rows(session, **where) -> list[Notification]:
    """The notification outbox, filtered by column values, oldest first."""
    session.expire_all()
    query = sa.select(Notification).order_by(Notification.id)
    for name, value in where.items():
        query = query.where(getattr(Notification, name) == value)
    return list(session.execute(query).scalars())


def plan_id(session, code: str) -> int:
    return session.query(Plan.id).filter_by(code=code).scalar()
