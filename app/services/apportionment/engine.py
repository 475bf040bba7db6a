"""The execution engine: a published run debits its payers in chunks (ranges of membership ids),
each chunk one database transaction with its recovery point, then settles."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.models import ApportionmentRun, Plan

from .. import ledger
from ..errors import Conflict
from ..unit_of_work import atomic
from .lifecycle import settle
from .runs import DEDUCTION_REASON, DEFAULT_GRACE_DAYS, GOOD_STANDING_SQL, RUN_REFERENCE, get_run, sql_text


@dataclass(frozen=True)
class ChunkResult:
    payers: int
    suspended: int


def _chunk_key(run_id: int, lo: int, hi: int) -> str:
    return f"run:{run_id}:chunk:{lo}-{hi}"


def _chunk_hash(run: ApportionmentRun, lo: int, hi: int) -> str:
    body = {"run": run.id, "lo": lo, "hi": hi, "share": run.share_fen, "reason": DEDUCTION_REASON}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


# A chunk is a range of membership ids; the range is stated on both sides of the 1:1 join so
# both are index range scans (a merge join), whatever the plan's size.
_CANDIDATES = (
    "FROM memberships m JOIN accounts a ON a.membership_id = m.id "
    "WHERE m.plan_id = :plan AND m.id >= :lo AND m.id < :hi AND a.membership_id >= :lo AND a.membership_id < :hi "
    f"AND m.state IN {GOOD_STANDING_SQL} AND m.observation_starts_at <= :cut_off"
)
_SUSPEND_SET = ("state = 'suspended', state_before_suspension = state, suspended_at = :stamp, "
                "grace_ends_at = :grace_ends, state_changed_at = :stamp")
# PostgreSQL: one statement decides, posts, debits, suspends and records the recovery point.
# First (separate statements) the chunk's members below the share are locked, re-checked on
# their latest version: a top-up cannot slip in between deciding "suspend" and suspending.
# Lock order = a top-up's (payments.settle locks the membership FOR UPDATE, then
# ledger.post_transaction the accounts): memberships first, then accounts. The reverse order
# deadlocked: the chunk held a low account and waited for its membership to suspend it, while
# a top-up held that membership and waited for the account. Now the chunk waits on the
# membership, the top-up finishes, and the account lock (a new statement, a new snapshot) sees
# the new balance. The others can only rise (top-ups), and the debit UPDATE re-reads a
# concurrently updated row before debiting it, so every member is decided on its latest
# balance and no top-up is lost. Locking only the few below the share keeps the cost off the
# many who pay. The postings are one INSERT (the zero-sum trigger checks each statement).
_PG_LOCK_MEMBERSHIPS = (
    "SELECT COUNT(*) FROM (SELECT m.id FROM memberships m JOIN accounts a ON a.membership_id = m.id "
    "WHERE m.plan_id = :plan AND m.id >= :lo AND m.id < :hi AND a.membership_id >= :lo AND a.membership_id < :hi "
    "AND a.balance_fen < :share ORDER BY m.id FOR NO KEY UPDATE OF m) locked")
_PG_LOCK = ("SELECT COUNT(*) FROM (SELECT a.id FROM accounts a WHERE a.membership_id >= :lo AND a.membership_id < :hi "
            "AND a.plan_id = :plan AND a.balance_fen < :share ORDER BY a.membership_id FOR NO KEY UPDATE) locked")
_PG_CHUNK = f"""
WITH cand AS (
    SELECT a.id AS account_id, a.membership_id, a.balance_fen >= :share AS pays {_CANDIDATES}
), n AS (SELECT COUNT(*) AS payers FROM cand WHERE pays),
txn AS (
    INSERT INTO ledger_transactions (idempotency_key, request_hash, reason, reference_type, reference_id, created_at)
    SELECT :key, :hash, '{DEDUCTION_REASON}', '{RUN_REFERENCE}', :run_ref, :stamp FROM n WHERE n.payers > 0
    RETURNING id
), posted AS (
    INSERT INTO postings (transaction_id, account_id, amount_fen)
    SELECT txn.id, cand.account_id, -CAST(:share AS BIGINT) FROM txn, cand WHERE cand.pays
    UNION ALL
    SELECT txn.id, :pool, CAST(:share AS BIGINT) * n.payers FROM txn, n
    RETURNING 1
), debited AS (
    UPDATE accounts a SET balance_fen = a.balance_fen - :share
      FROM cand WHERE a.id = cand.account_id AND cand.pays
    RETURNING 1
), pooled AS (
    UPDATE accounts SET balance_fen = balance_fen + CAST(:share AS BIGINT) * (SELECT payers FROM n)
     WHERE id = :pool AND (SELECT payers FROM n) > 0
    RETURNING 1
), suspended AS (
    UPDATE memberships m SET {_SUSPEND_SET}
      FROM cand WHERE m.id = cand.membership_id AND NOT cand.pays AND m.state IN {GOOD_STANDING_SQL}
    RETURNING 1
), progress AS (
    UPDATE apportionment_runs r
       SET next_membership_id = :hi, debited_count = r.debited_count + n.payers,
           debited_fen = r.debited_fen + CAST(:share AS BIGINT) * n.payers,
           suspended_count = r.suspended_count + (SELECT COUNT(*) FROM suspended)
      FROM n WHERE r.id = :run AND r.next_membership_id = :lo
    RETURNING 1
)
SELECT n.payers, (SELECT COUNT(*) FROM suspended), (SELECT COUNT(*) FROM debited),
       (SELECT COUNT(*) FROM posted), (SELECT COUNT(*) FROM progress)
  FROM n
"""


def _params(run: ApportionmentRun, lo: int, hi: int, pool: int) -> dict:
    return {"plan": run.plan_id, "lo": lo, "hi": hi, "share": run.share_fen, "pool": pool, "run": run.id,
            "run_ref": str(run.id), "key": _chunk_key(run.id, lo, hi), "hash": _chunk_hash(run, lo, hi)}


def _datetimes(run: ApportionmentRun, grace_days: int) -> dict:
    return {"stamp": run.execute_at, "cut_off": run.cut_off_at,
            "grace_ends": run.execute_at + dt.timedelta(days=grace_days)}


def _chunk_postgresql(session: Session, run: ApportionmentRun, lo: int, hi: int, pool: int,
                      grace_days: int) -> ChunkResult:
    params = _params(run, lo, hi, pool)
    session.execute(text(_PG_LOCK_MEMBERSHIPS), params)
    session.execute(text(_PG_LOCK), params)
    row = session.execute(sql_text(_PG_CHUNK, **_datetimes(run, grace_days)), params).one()
    payers, suspended, debited, posted, progressed = (int(v) for v in row)
    if progressed != 1 or debited != payers or posted != (payers + 1 if payers else 0):
        raise Conflict("分摊批次状态异常，已回滚", code="run_chunk_inconsistent",
                       details={"lo": lo, "payers": payers, "debited": debited, "posted": posted})
    return ChunkResult(payers, suspended)


def _chunk_sqlite(session: Session, run: ApportionmentRun, lo: int, hi: int, pool: int,
                  grace_days: int) -> ChunkResult:
    """SQLite has one writer at a time: the first UPDATE takes the write lock, so the reads
    after it see a database nobody else changes until this chunk commits."""
    params = _params(run, lo, hi, pool)
    moments = _datetimes(run, grace_days)
    progressed = session.execute(text(
        "UPDATE apportionment_runs SET next_membership_id = :hi WHERE id = :run AND next_membership_id = :lo"), params).rowcount
    if progressed != 1:
        raise Conflict("分摊批次状态异常，已回滚", code="run_chunk_inconsistent", details={"lo": lo})
    suspended = session.execute(sql_text(
        f"UPDATE memberships SET {_SUSPEND_SET} WHERE id IN "
        f"(SELECT a.membership_id {_CANDIDATES} AND a.balance_fen < :share)", **moments), params).rowcount
    payers = session.execute(sql_text(f"SELECT COUNT(*) {_CANDIDATES} AND a.balance_fen >= :share", **moments),
                             params).scalar_one()
    if payers:
        txn_id = session.execute(sql_text(
            "INSERT INTO ledger_transactions (idempotency_key, request_hash, reason, reference_type, reference_id, "
            f"created_at) VALUES (:key, :hash, '{DEDUCTION_REASON}', '{RUN_REFERENCE}', :run_ref, :stamp) RETURNING id",
            stamp=run.execute_at), params).scalar_one()
        session.execute(sql_text(
            "INSERT INTO postings (transaction_id, account_id, amount_fen) "
            f"SELECT :txn, a.id, -:share {_CANDIDATES} AND a.balance_fen >= :share "
            "UNION ALL SELECT :txn, :pool, :share * :payers", **moments), {**params, "txn": txn_id, "payers": payers})
        session.execute(text(
            "UPDATE accounts SET balance_fen = balance_fen - :share WHERE id IN "
            "(SELECT account_id FROM postings WHERE transaction_id = :txn AND account_id <> :pool)"),
            {**params, "txn": txn_id})
        session.execute(text("UPDATE accounts SET balance_fen = balance_fen + :share * :payers WHERE id = :pool"),
                        {**params, "payers": payers})
    session.execute(text(
        "UPDATE apportionment_runs SET debited_count = debited_count + :payers, "
        "debited_fen = debited_fen + :share * :payers, suspended_count = suspended_count + :suspended "
        "WHERE id = :run"), {**params, "payers": payers, "suspended": suspended})
    return ChunkResult(payers, suspended)


def execute(session: Session, run_id: int, now: dt.datetime, *, grace_days: int = DEFAULT_GRACE_DAYS,
            max_chunks: int | None = None, on_chunk: Callable[[int, int, ChunkResult], None] | None = None
            ) -> ApportionmentRun:
    """Debit every payer once, suspend those below the share, then settle. Idempotent and
    resumable: each chunk commits with its recovery point; run it again after any failure.
    `max_chunks` stops early (the run stays 'executing'), for operators and tests."""
    with atomic(session):
        run = get_run(session, run_id, for_update=True)
        if run.status == "executed":
            return run
        if run.status not in ("published", "executing"):
            raise Conflict("分摊需先公布才能执行", code="run_not_published", details={"status": run.status})
        if run.status == "published":
            run.status, run.execute_at = "executing", now
        plan_code = session.execute(select(Plan.code).where(Plan.id == run.plan_id)).scalar_one()
        pool = ledger.account_id(session, ledger.plan_account_code(plan_code, "plan_pool"))
    chunk = _chunk_postgresql if session.get_bind().dialect.name == "postgresql" else _chunk_sqlite
    done = 0
    while True:
        if max_chunks is not None and done >= max_chunks:
            return get_run(session, run_id)  # stopped early: still 'executing', resumable
        with atomic(session):
            run = get_run(session, run_id, for_update=True)  # one executor at a time
            lo = run.next_membership_id
            if lo >= run.end_membership_id or run.share_fen == 0:
                break
            hi = min(lo + run.chunk_size, run.end_membership_id)
            result = chunk(session, run, lo, hi, pool, grace_days)
        session.expire_all()
        done += 1
        if on_chunk:
            on_chunk(lo, hi, result)
    return settle(session, run_id, now)
