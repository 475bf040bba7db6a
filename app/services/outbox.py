"""The notification outbox: event subscribers that write notification rows in the event's transaction
(a large run's notices to its members: in parts afterwards, write_run_notice_part).

Set-based: a fan-out to a plan's members is one INSERT ... SELECT; batch membership events select
their rows by (state, state_changed_at = event time). Every row has a unique dedupe key and is
inserted with ON CONFLICT DO NOTHING, so the same thing is never notified twice. The delivery
worker (app.services.delivery) renders the message from the row at send time.

Imported through events.SUBSCRIBER_MODULES."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from app.models import (GOOD_STANDING, Account, Claim, DomainEvent, LedgerTransaction, Membership, Notification,
                        PlanVersion, Posting, RunNoticePart, User)

# Members in good standing hear about a plan's cases (observation included: they pay too).
from .apportionment import DEDUCTION_REASON, RUN_REFERENCE
from .events import subscribe
from .sql import insert_for, without_jit
from .unit_of_work import atomic, reading

_ROW_COLUMNS = ("dedupe_key", "user_id", "plan_id", "membership_id", "claim_id", "amount_fen")


def _key(prefix: str, column) -> sa.ColumnElement:
    return (sa.literal(prefix, sa.String) + sa.cast(column, sa.String)).label("dedupe_key")


def _null_int(name: str) -> sa.ColumnElement:
    return sa.cast(sa.null(), sa.BigInteger).label(name)


def _int(value: int | None, name: str) -> sa.ColumnElement:
    return sa.literal(value, sa.BigInteger).label(name) if value is not None else _null_int(name)


def write_rows(session: Session, event: DomainEvent, *, kind: str | None, template_key: str | None,
               rows: Select) -> int:
    """INSERT ... SELECT the rows (columns named as in _ROW_COLUMNS) as pending notifications,
    skipping any whose dedupe key exists. Returns how many were written. With kind and template_key
    None, the rows carry their own (columns `kind`, `template_key`): several kinds in one statement."""
    now = event.created_at
    sub = rows.subquery()
    source = sa.select(
        *(sub.c[name] for name in _ROW_COLUMNS), sa.literal(event.id, sa.BigInteger),
        sub.c.kind if kind is None else sa.literal(kind, sa.String),
        sub.c.template_key if template_key is None else sa.literal(template_key, sa.String),
        sa.literal("pending", sa.String), sa.literal(0, sa.Integer), sa.false(),
        sa.literal(now, Notification.__table__.c.next_attempt_at.type),
        sa.literal(now, Notification.__table__.c.created_at.type),
    ).where(sa.true())  # SQLite needs a WHERE to parse INSERT ... SELECT ... ON CONFLICT
    table = Notification.__table__
    stmt = insert_for(session, table).from_select(
        [*_ROW_COLUMNS, "event_id", "kind", "template_key", "status", "attempts", "quota_spent",
         "next_attempt_at", "created_at"],
        source,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return session.execute(stmt).rowcount


def write_one(session: Session, event: DomainEvent, *, kind: str, template_key: str, dedupe_key: str,
              user_id: int, plan_id: int | None = None, membership_id: int | None = None,
              claim_id: int | None = None, amount_fen: int | None = None) -> int:
    row = sa.select(sa.literal(dedupe_key, sa.String).label("dedupe_key"), _int(user_id, "user_id"),
                    _int(plan_id, "plan_id"), _int(membership_id, "membership_id"), _int(claim_id, "claim_id"),
                    _int(amount_fen, "amount_fen"))
    return write_rows(session, event, kind=kind, template_key=template_key, rows=row)


def _plan_members(plan_id: int, prefix: str, *, amount_fen: int | None = None, claim_id: int | None = None,
                  exclude_user_id: int | None = None, cut_off_at: dt.datetime | None = None) -> Select:
    """One row per user holding a membership in good standing in the plan (with cut_off_at: only
    memberships whose observation started by a run's cut-off, i.e. who pay in it)."""
    query = (
        sa.select(_key(prefix, Membership.user_id), Membership.user_id.label("user_id"),
                  _int(plan_id, "plan_id"), _null_int("membership_id"), _int(claim_id, "claim_id"),
                  _int(amount_fen, "amount_fen"))
        .where(Membership.plan_id == plan_id, Membership.state.in_(GOOD_STANDING))
        .group_by(Membership.user_id)
    )
    if exclude_user_id is not None:
        query = query.where(Membership.user_id != exclude_user_id)
    if cut_off_at is not None:
        query = query.where(Membership.observation_starts_at <= cut_off_at)
    return query


def _memberships_changed(event: DomainEvent, state: str, prefix: str) -> Select:
    """The batch a set-based transition marked: (state, state_changed_at = the event's time)."""
    query = sa.select(_key(prefix, Membership.id), Membership.user_id.label("user_id"),
                      Membership.plan_id.label("plan_id"), Membership.id.label("membership_id"),
                      _null_int("claim_id"), _null_int("amount_fen")).where(
        Membership.state == state, Membership.state_changed_at == event.created_at)
    if event.plan_id is not None:
        query = query.where(Membership.plan_id == event.plan_id)
    return query


def run_deductions(run_id: int) -> Select:
    """The boundary with the apportionment engine: who paid how much in a run.

    Columns membership_id, user_id, paid_fen. It reads the ledger only: the run's deduction
    transactions (reason DEDUCTION_REASON, reference RUN_REFERENCE / str(run_id)) and their negative postings
    on member accounts, so it needs nothing from the apportionment tables."""
    return (
        sa.select(Membership.id.label("membership_id"), Membership.user_id.label("user_id"),
                  (-sa.func.sum(Posting.amount_fen)).label("paid_fen"))
        .select_from(LedgerTransaction)
        .join(Posting, Posting.transaction_id == LedgerTransaction.id)
        .join(Account, Account.id == Posting.account_id)
        .join(Membership, Membership.id == Account.membership_id)
        .where(LedgerTransaction.reason == DEDUCTION_REASON, LedgerTransaction.reference_type == RUN_REFERENCE,
               LedgerTransaction.reference_id == str(run_id), Account.kind == "member", Posting.amount_fen < 0)
        .group_by(Membership.id, Membership.user_id)
    )


# --- memberships -------------------------------------------------------------------------------


@subscribe("membership.observing")
def on_observing(session: Session, event: DomainEvent) -> None:
    write_one(session, event, kind="observing", template_key="membership_status",
              dedupe_key=f"observing:{event.membership_id}", user_id=event.user_id, plan_id=event.plan_id,
              membership_id=event.membership_id)


@subscribe("membership.resumed")
def on_resumed(session: Session, event: DomainEvent) -> None:
    write_one(session, event, kind="resumed", template_key="membership_status",
              dedupe_key=f"resumed:{event.id}", user_id=event.user_id, plan_id=event.plan_id,
              membership_id=event.membership_id)


@subscribe("memberships.protected")
def on_protected(session: Session, event: DomainEvent) -> None:
    write_rows(session, event, kind="observation_over", template_key="observation_over",
               rows=_memberships_changed(event, "protected", "observation_over:"))


@subscribe("memberships.lapsed")
def on_lapsed(session: Session, event: DomainEvent) -> None:
    write_rows(session, event, kind="lapsed", template_key="membership_status",
               rows=_memberships_changed(event, "lapsed", f"lapsed:{event.id}:"))


# --- money -------------------------------------------------------------------------------------


@subscribe("topup.credited")
def on_topup(session: Session, event: DomainEvent) -> None:
    """Every credited top-up tells the member whose balance it is: their own (the payment confirmed,
    the mini-program asks for this consent right after paying) or a sponsor's (someone paid for them)."""
    sponsor = event.payload.get("sponsor_user_id")
    kind = "sponsor_topup" if sponsor is not None and sponsor != event.user_id else "topup"
    write_one(session, event, kind=kind, template_key="topup_credited",
              dedupe_key=f"topup:{event.payload.get('order_id') or event.id}", user_id=event.user_id,
              plan_id=event.plan_id, membership_id=event.membership_id, amount_fen=event.payload.get("amount_fen"))


@subscribe("run.published")
def on_run_published(session: Session, event: DomainEvent) -> None:
    """Case announcement: one message per user with a membership in good standing in the plan
    whose observation started by the run's cut-off (those who joined later do not pay in it)."""
    write_rows(session, event, kind="case_announced", template_key="case_announced",
               rows=_plan_members(event.plan_id, f"case_announced:{event.run_id}:",
                                  amount_fen=event.payload.get("share_fen"), cut_off_at=_cut_off(event)))


def _cut_off(event: DomainEvent) -> dt.datetime | None:
    """The run's cut-off, carried by the event (the engine puts it there)."""
    raw = (event.payload or {}).get("cut_off_at")
    return dt.datetime.fromisoformat(raw) if raw else None


# A run with more payers than this writes its members' notices (share deducted, suspended, balance low)
# in parts of this many user ids (write_run_notice_part), each its own transaction, by whichever workers
# are free, after the announcement; a smaller run writes them with the announcement.
NOTICE_PART_USERS = 50_000


@subscribe("run.executed")
def on_run_executed(session: Session, event: DomainEvent) -> None:
    if int((event.payload or {}).get("payers") or 0) > NOTICE_PART_USERS:
        _cut_notice_parts(session, event.run_id)
        return
    for kind, template_key, rows in run_member_notices(session, event):
        write_rows(session, event, kind=kind, template_key=template_key, rows=rows)


def run_member_notices(session: Session, event: DomainEvent) -> list[tuple[str, str, Select]]:
    """(kind, template, rows) of an executed run's notices to all its members, a statement each."""
    run_id = event.run_id
    # Share deducted: one message per payer (user), the total of their memberships' shares.
    paid = run_deductions(run_id).subquery()
    notices = [("share_deducted", "share_deducted", (
        sa.select(_key(f"share_deducted:{run_id}:", paid.c.user_id), paid.c.user_id.label("user_id"),
                  _int(event.plan_id, "plan_id"), _null_int("membership_id"), _null_int("claim_id"),
                  sa.func.sum(paid.c.paid_fen).label("amount_fen"))
        .group_by(paid.c.user_id)))]
    # Suspended by this run: could not pay the share.
    notices.append(("suspended", "balance_low", _memberships_changed(event, "suspended", f"suspended:{run_id}:")))
    # Balance low: payers left with less than one share cap (per plan version: caps are rules). The
    # plan's versions are a handful of rows: a version nobody paid under writes nothing. Only accounts
    # below a cap (a few percent) are checked for a debit in this run, each by a probe of its own
    # postings from the run's first posting on (index on account, id), in a correlated subquery with
    # LIMIT 1 that the planner cannot turn into a join. Right after a run the statistics do not know
    # its postings (millions, written minutes ago): as a join, or given an index on the transaction,
    # the planner chose to read all of them (10M payers: minutes). `+ 0` keeps that index out.
    run_transactions, first_posting = _run_debit_transactions(session, run_id)
    if not run_transactions:
        return notices
    debited_in_run = (
        sa.select(sa.literal(1)).where(Posting.account_id == Account.id, Posting.id >= first_posting,
                                       Posting.amount_fen < 0, (Posting.transaction_id + 0).in_(run_transactions))
        .limit(1).scalar_subquery())
    for version_id, cap_fen in _share_caps(session, event.plan_id):
        notices.append(("balance_low", "balance_low", (
            sa.select(_key(f"balance_low:{run_id}:", Membership.id), Membership.user_id.label("user_id"),
                      Membership.plan_id.label("plan_id"), Membership.id.label("membership_id"),
                      _null_int("claim_id"), Account.balance_fen.label("amount_fen"))
            .join(Account, Account.membership_id == Membership.id)
            .where(Membership.plan_version_id == version_id, Membership.state.in_(GOOD_STANDING),
                   Account.kind == "member", Account.balance_fen < cap_fen, debited_in_run.is_not(None))
        )))
    return notices


def part_member_notices(session: Session, event: DomainEvent, lo: int, hi: int
                        ) -> list[tuple[str | None, str | None, Select]]:
    """The same notices for the users with ids in [lo, hi) only (a notice part), the rows the whole
    run's statements select for them. The share-deducted and balance-low rows come from ONE pass over
    the users' memberships of the plan (index on user): each membership probes its account (unique
    index) for its balance and that account's postings for its debits in this run (index on account,
    id, from the run's first posting, `+ 0` as above), so a part costs its own members, not the run's
    payers, and each member is read once. Correlated probes, not joins: as a join the planner hashed
    the whole accounts table for every part. The rows carry their own kind (write_rows)."""
    run_id, plan_id = event.run_id, event.plan_id
    notices: list[tuple[str | None, str | None, Select]] = [
        ("suspended", "balance_low", _memberships_changed(event, "suspended", f"suspended:{run_id}:")
         .where(Membership.user_id >= lo, Membership.user_id < hi))]
    run_transactions, first_posting = _run_debit_transactions(session, run_id)
    if not run_transactions:
        return notices
    member_account = sa.and_(Account.membership_id == Membership.id, Account.kind == "member")
    balance = sa.select(Account.balance_fen).where(member_account).scalar_subquery()
    paid = (sa.select(-sa.func.sum(Posting.amount_fen))
            .select_from(Account).join(Posting, Posting.account_id == Account.id)
            .where(member_account, Posting.id >= first_posting, Posting.amount_fen < 0,
                   (Posting.transaction_id + 0).in_(run_transactions))
            .scalar_subquery())
    members = (sa.select(Membership.id.label("membership_id"), Membership.user_id.label("user_id"),
                         Membership.plan_version_id.label("version_id"), Membership.state.label("state"),
                         balance.label("balance_fen"), paid.label("paid_fen"))
               .where(Membership.plan_id == plan_id, Membership.user_id >= lo, Membership.user_id < hi))
    # Read twice below: on PostgreSQL a CTE, materialized, so each probe runs once. SQLite's driver
    # reports no row count for a statement that starts with WITH: there, a subquery (probed twice).
    members = (members.cte("part_members") if session.get_bind().dialect.name == "postgresql"
               else members.subquery("part_members"))
    caps = _share_caps(session, plan_id)
    cap = sa.case(*((members.c.version_id == version_id, cap_fen) for version_id, cap_fen in caps)) if caps else None
    deducted = (sa.select(_key(f"share_deducted:{run_id}:", members.c.user_id), members.c.user_id.label("user_id"),
                          _int(plan_id, "plan_id"), _null_int("membership_id"), _null_int("claim_id"),
                          sa.func.sum(members.c.paid_fen).label("amount_fen"),
                          sa.literal("share_deducted", sa.String).label("kind"),
                          sa.literal("share_deducted", sa.String).label("template_key"))
                .where(members.c.paid_fen.is_not(None)).group_by(members.c.user_id))
    rows: Select = deducted
    if cap is not None:
        rows = sa.union_all(deducted, sa.select(
            _key(f"balance_low:{run_id}:", members.c.membership_id), members.c.user_id.label("user_id"),
            _int(plan_id, "plan_id"), members.c.membership_id.label("membership_id"), _null_int("claim_id"),
            members.c.balance_fen.label("amount_fen"), sa.literal("balance_low", sa.String).label("kind"),
            sa.literal("balance_low", sa.String).label("template_key"),
        ).where(members.c.paid_fen.is_not(None), members.c.state.in_(GOOD_STANDING), members.c.balance_fen < cap))
    notices.append((None, None, rows))
    return notices


def _share_caps(session: Session, plan_id: int) -> list[tuple[int, int]]:
    """(version id, share cap in fen) of each of the plan's rule versions."""
    return [(version_id, int(rules["share_cap_fen"])) for version_id, rules in session.execute(
        sa.select(PlanVersion.id, PlanVersion.rules).where(PlanVersion.plan_id == plan_id)).all()]


def _run_debit_transactions(session: Session, run_id: int) -> tuple[list[int], int | None]:
    """The run's deduction transactions and its first posting: the least of each transaction's first
    (parallel chunks interleave ids)."""
    run_transactions = list(session.execute(
        sa.select(LedgerTransaction.id).where(LedgerTransaction.reason == DEDUCTION_REASON,
                                             LedgerTransaction.reference_type == RUN_REFERENCE,
                                             LedgerTransaction.reference_id == str(run_id))).scalars())
    if not run_transactions:
        return [], None
    first_of_transaction = (sa.select(sa.func.min(Posting.id)).where(Posting.transaction_id == LedgerTransaction.id)
                            .scalar_subquery())
    first_posting = session.execute(sa.select(sa.func.min(first_of_transaction)).where(
        LedgerTransaction.id.in_(run_transactions))).scalar_one()
    return run_transactions, first_posting


def _cut_notice_parts(session: Session, run_id: int) -> None:
    """Ranges of NOTICE_PART_USERS user ids over every user (the users' primary key gives the bounds
    at once; a range without payers costs one index range scan)."""
    first, last = session.execute(sa.select(sa.func.min(User.id), sa.func.max(User.id))).one()
    if first is None:
        return
    session.execute(sa.insert(RunNoticePart), [
        {"run_id": run_id, "lo": lo, "hi": lo + NOTICE_PART_USERS, "status": "pending", "written_count": 0}
        for lo in range(first, last + 1, NOTICE_PART_USERS)])


def write_run_notice_part(session: Session, run_id: int, *, lo: int | None = None) -> int | None:
    """Claim a pending notice part of the run (the one starting at `lo`, or the first free; parts other
    transactions hold are skipped), write its users' notices (part_member_notices) and mark it done, in one
    transaction. Returns the rows written, or None when no part was claimed. Idempotent: a part whose
    writer died is pending again, and rows written twice would share a dedupe key."""
    with atomic(session):
        without_jit(session)
        part = session.execute(
            sa.select(RunNoticePart.lo, RunNoticePart.hi)
            .where(RunNoticePart.run_id == run_id, RunNoticePart.status == "pending",
                   *([RunNoticePart.lo == lo] if lo is not None else []))
            .order_by(RunNoticePart.lo).limit(1).with_for_update(skip_locked=True)).first()
        if part is None:
            return None
        event = session.execute(sa.select(DomainEvent).where(
            DomainEvent.kind == "run.executed", DomainEvent.run_id == run_id).limit(1)).scalar_one()
        written = sum(write_rows(session, event, kind=kind, template_key=template_key, rows=rows)
                      for kind, template_key, rows in part_member_notices(session, event, part.lo, part.hi))
        session.execute(sa.update(RunNoticePart).where(RunNoticePart.run_id == run_id, RunNoticePart.lo == part.lo)
                        .values(status="done", written_count=written))
    return written


def runs_with_pending_notices(session: Session) -> list[int]:
    """Runs with notice parts nobody has written yet (their workers died, or a scheduler hands them out)."""
    with reading(session):
        return list(session.execute(sa.select(RunNoticePart.run_id).where(RunNoticePart.status == "pending")
                                    .distinct().order_by(RunNoticePart.run_id)).scalars())


# --- claims ------------------------------------------------------------------------------------


@subscribe("claim.status_changed")
def on_claim_status(session: Session, event: DomainEvent) -> None:
    write_one(session, event, kind="claim_status", template_key="claim_status", dedupe_key=f"claim_status:{event.id}",
              user_id=event.user_id, plan_id=event.plan_id, claim_id=event.claim_id)


@subscribe("objection.resolved")
def on_objection_resolved(session: Session, event: DomainEvent) -> None:
    write_one(session, event, kind="objection_resolved", template_key="claim_status",
              dedupe_key=f"objection_resolved:{event.id}", user_id=event.user_id, plan_id=event.plan_id,
              claim_id=event.claim_id)


@subscribe("announcement.published")
def on_announcement(session: Session, event: DomainEvent) -> None:
    """A case enters publicity (公示): the plan's members may read it and object."""
    claimant = session.execute(sa.select(Claim.user_id).where(Claim.id == event.claim_id)).scalar_one_or_none()
    write_rows(session, event, kind="case_publicity", template_key="case_publicity",
               rows=_plan_members(event.plan_id, f"case_publicity:{event.claim_id}:", claim_id=event.claim_id,
                                  exclude_user_id=claimant))


@subscribe("aid.paid")
def on_aid_paid(session: Session, event: DomainEvent) -> None:
    write_one(session, event, kind="aid_paid", template_key="aid_paid", dedupe_key=f"aid_paid:{event.claim_id}",
              user_id=event.user_id, plan_id=event.plan_id, claim_id=event.claim_id,
              amount_fen=event.payload.get("amount_fen"))
