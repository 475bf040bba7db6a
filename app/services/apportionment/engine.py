"""The execution engine: a published run debits its payers in chunks (ranges of membership ids).
The chunks are fixed when the run starts executing (apportionment_run_chunks); any number of
workers, in one process or on many hosts, claim pending chunks (FOR UPDATE SKIP LOCKED), each
chunk one database transaction that debits it, hashes its debits' Merkle leaves (in the chunk's
statement on PostgreSQL; run_tree.store_leaves otherwise) and marks it done; the worker that finds
every chunk done settles the run (settle is idempotent under the run's lock: it happens once) and
announces it; a large run's share-deducted notices are then
written in parts of user ids by every worker still there (write_notices: outbox.write_run_notice_part)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.models import ApportionmentRun, ApportionmentRunChunk, Plan

from .. import ledger
from ..errors import Conflict
from ..run_tree import LEAF_HASH_PREFIX, leaf_run_bytes, pseudonym_message, store_leaves
from ..sql import without_jit
from ..unit_of_work import atomic, reading
from .lifecycle import announce_executed, settle
from .runs import DEDUCTION_REASON, pending_chunks, DEFAULT_GRACE_DAYS, GOOD_STANDING_SQL, RUN_REFERENCE, get_run, sql_text


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
# many who pay. The postings are one INSERT (the zero-sum trigger checks each statement). The
# same statement hashes the debits' Merkle leaves from the postings it returns (run_tree's leaf
# format: pgcrypto's hmac() for the pseudonym, sha256() for the leaf) and stores them for settlement.
# Each posting finds its secret by two primary-key probes (LATERAL): joined to the `cand` CTE instead,
# the planner, misjudging the CTEs' sizes at 10M members, looped 100,000 × 100,000 rows per chunk.
# If a payer has no secret, no row is written and store_leaves hashes the chunk in Python after the
# statement, giving the payer one.
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
    RETURNING id, transaction_id, account_id, amount_fen
), leaves AS (
    INSERT INTO run_debit_leaves (run_id, transaction_id, leaf_count, total_fen, hashes)
    SELECT :run, (SELECT id FROM txn), COUNT(*), -SUM(p.amount_fen),
           string_agg(sha256(:leaf_prefix || hmac(:nym_message, k.secret, 'sha256') || int8send(-p.amount_fen)),
                      ''::bytea ORDER BY p.id)
      FROM posted p
      JOIN LATERAL (SELECT s.secret FROM accounts a JOIN membership_secrets s ON s.membership_id = a.membership_id
                     WHERE a.id = p.account_id) k ON true
     WHERE p.account_id <> :pool
    HAVING COUNT(*) > 0 AND COUNT(*) = (SELECT payers FROM n)
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
    UPDATE apportionment_run_chunks c
       SET status = 'done', done_at = :stamp, debited_count = n.payers,
           debited_fen = CAST(:share AS BIGINT) * n.payers, suspended_count = (SELECT COUNT(*) FROM suspended)
      FROM n WHERE c.run_id = :run AND c.lo = :lo AND c.hi = :hi AND c.status = 'pending'
    RETURNING 1
)
SELECT n.payers, (SELECT COUNT(*) FROM suspended), (SELECT COUNT(*) FROM debited),
       (SELECT COUNT(*) FROM posted), (SELECT COUNT(*) FROM progress), (SELECT id FROM txn),
       (SELECT COUNT(*) FROM leaves), (SELECT COUNT(*) FROM pooled)
  FROM n
"""
# The postings trigger (migration 0028) skips its per-posting account probe for the chunk's statement
# alone: the statement's account ids come from its own join with accounts (never deleted), and
# _chunk_postgresql checks that every payer's account was debited and the pool credited before the
# transaction can commit. Set just before the statement, cleared just after: every other statement,
# in this transaction too, has its accounts probed.
_ACCOUNTS_PROVEN = "SELECT set_config('ledger.accounts_proven_by', :by, true)"


def _params(run: ApportionmentRun, lo: int, hi: int, pool: int) -> dict:
    return {"plan": run.plan_id, "lo": lo, "hi": hi, "share": run.share_fen, "pool": pool, "run": run.id,
            "run_ref": str(run.id), "key": _chunk_key(run.id, lo, hi), "hash": _chunk_hash(run, lo, hi),
            "leaf_prefix": LEAF_HASH_PREFIX + leaf_run_bytes(run.id), "nym_message": pseudonym_message(run.id)}


def _datetimes(run: ApportionmentRun, grace_days: int) -> dict:
    return {"stamp": run.execute_at, "cut_off": run.cut_off_at,
            "grace_ends": run.execute_at + dt.timedelta(days=grace_days)}


def _chunk_postgresql(session: Session, run: ApportionmentRun, lo: int, hi: int, pool: int,
                      grace_days: int) -> ChunkResult:
    params = _params(run, lo, hi, pool)
    session.execute(text(_PG_LOCK_MEMBERSHIPS), params)
    session.execute(text(_PG_LOCK), params)
    session.execute(text(_ACCOUNTS_PROVEN), {"by": "run_chunk"})
    row = session.execute(sql_text(_PG_CHUNK, **_datetimes(run, grace_days)), params).one()
    session.execute(text(_ACCOUNTS_PROVEN), {"by": ""})
    payers, suspended, debited, posted, progressed = (int(v) for v in row[:5])
    pooled = int(row[7])
    if (progressed != 1 or debited != payers or posted != (payers + 1 if payers else 0)
            or pooled != (1 if payers else 0)):
        raise Conflict("分摊批次状态异常，已回滚", code="run_chunk_inconsistent",
                       details={"lo": lo, "payers": payers, "debited": debited, "posted": posted, "pooled": pooled})
    if payers and not row[6]:  # a payer without a secret: hashed in Python, which gives it one
        store_leaves(session, run.id, row[5])
    return ChunkResult(payers, suspended)


def _chunk_sqlite(session: Session, run: ApportionmentRun, lo: int, hi: int, pool: int,
                  grace_days: int) -> ChunkResult:
    """SQLite has one writer at a time: the first UPDATE takes the write lock, so the reads
    after it see a database nobody else changes until this chunk commits."""
    params = _params(run, lo, hi, pool)
    moments = _datetimes(run, grace_days)
    progressed = session.execute(text(
        "UPDATE apportionment_run_chunks SET status = 'done' WHERE run_id = :run AND lo = :lo AND hi = :hi "
        "AND status = 'pending'"), params).rowcount
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
        store_leaves(session, run.id, txn_id)
    session.execute(sql_text(
        "UPDATE apportionment_run_chunks SET debited_count = :payers, debited_fen = :share * :payers, "
        "suspended_count = :suspended, done_at = :stamp WHERE run_id = :run AND lo = :lo", stamp=run.execute_at),
        {**params, "payers": payers, "suspended": suspended})
    return ChunkResult(payers, suspended)


def start(session: Session, run_id: int, now: dt.datetime) -> ApportionmentRun:
    """published → executing, and the chunks fixed: ranges of chunk_size membership ids from the
    run's recovery point (its first membership; where the single-cursor engine had stopped, for a
    run it left executing) to its end. Idempotent: a run that has its chunks keeps them."""
    with atomic(session):
        run = get_run(session, run_id, for_update=True)
        if run.status == "executed":
            return run
        if run.status not in ("published", "executing"):
            raise Conflict("分摊需先公布才能执行", code="run_not_published", details={"status": run.status})
        if run.status == "published":
            run.status, run.execute_at = "executing", now
            session.flush()
        has_chunks = session.execute(select(ApportionmentRunChunk.lo).where(
            ApportionmentRunChunk.run_id == run.id).limit(1)).first() is not None
        if not has_chunks and run.share_fen and run.next_membership_id < run.end_membership_id:
            _cut_chunks(session, run)
    return run


def _cut_chunks(session: Session, run: ApportionmentRun) -> None:
    params = {"run": run.id, "lo": run.next_membership_id, "end": run.end_membership_id, "size": run.chunk_size}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(
            "INSERT INTO apportionment_run_chunks (run_id, lo, hi, status, debited_count, debited_fen, suspended_count) "
            "SELECT :run, g, LEAST(g + :size, :end), 'pending', 0, 0, 0 "
            "FROM generate_series(CAST(:lo AS BIGINT), CAST(:end AS BIGINT) - 1, CAST(:size AS BIGINT)) g"), params)
        return
    session.add_all([ApportionmentRunChunk(run_id=run.id, lo=lo, hi=min(lo + run.chunk_size, run.end_membership_id),
                                           status="pending", debited_count=0, debited_fen=0, suspended_count=0)
                     for lo in range(run.next_membership_id, run.end_membership_id, run.chunk_size)])
    session.flush()


def claim_chunk(session: Session, run_id: int, *, lo: int | None = None, wait: bool = False) -> tuple[int, int] | None:
    """Lock a pending chunk of the run (the given one, or the first free) in the caller's
    transaction: (lo, hi), or None. Without `wait`, chunks other transactions hold are skipped;
    with it, the call waits for the holder, and PostgreSQL re-checks the row after: a chunk its
    holder marked done is not returned."""
    query = (select(ApportionmentRunChunk.lo, ApportionmentRunChunk.hi)
             .where(ApportionmentRunChunk.run_id == run_id, ApportionmentRunChunk.status == "pending",
                    *([ApportionmentRunChunk.lo == lo] if lo is not None else []))
             .order_by(ApportionmentRunChunk.lo).limit(1).with_for_update(skip_locked=not wait))
    row = session.execute(query).first()
    return None if row is None else (int(row.lo), int(row.hi))


def run_chunk(session: Session, run_id: int, *, lo: int | None = None, wait: bool = False,
              grace_days: int = DEFAULT_GRACE_DAYS) -> tuple[int, int, ChunkResult] | None:
    """Claim one pending chunk (see claim_chunk), debit it and mark it done, in one transaction.
    None when there was nothing to claim. The run's row is only read: chunks run side by side."""
    with atomic(session):
        without_jit(session)
        run = get_run(session, run_id)
        if run.status != "executing":
            return None
        claimed = claim_chunk(session, run_id, lo=lo, wait=wait)
        if claimed is None:
            return None
        plan_code = session.execute(select(Plan.code).where(Plan.id == run.plan_id)).scalar_one()
        pool = ledger.account_id(session, ledger.plan_account_code(plan_code, "plan_pool"))
        chunk = _chunk_postgresql if session.get_bind().dialect.name == "postgresql" else _chunk_sqlite
        result = chunk(session, run, *claimed, pool, grace_days)
    session.expire_all()
    return (*claimed, result)


def write_notices(session: Session, run_id: int) -> int:
    """Write the run's pending notice parts (a large run's share-deducted notices, cut when it was
    announced) until none is free; parts other workers hold are theirs. Returns the parts written."""
    from .. import outbox  # outbox imports this package (its constants): imported when first called

    written = 0
    while outbox.write_run_notice_part(session, run_id) is not None:
        written += 1
    return written


def settle_if_done(session: Session, run_id: int, now: dt.datetime) -> ApportionmentRun | None:
    """Settle the run when no chunk is pending (whoever ran them), then announce it (its own
    transaction: lifecycle.announce_executed); None while some chunks are pending."""
    with reading(session):
        run = get_run(session, run_id)
        if run.status not in ("executing", "executed") or (run.status == "executing" and pending_chunks(session, run_id)):
            return None
        executed = run.status == "executed"
    if not executed:
        settle(session, run_id, now)
    return announce_executed(session, run_id)


def execute(session: Session, run_id: int, now: dt.datetime, *, grace_days: int = DEFAULT_GRACE_DAYS,
            max_chunks: int | None = None, on_chunk: Callable[[int, int, ChunkResult], None] | None = None
            ) -> ApportionmentRun:
    """A worker: start the run (once), then claim and debit chunks until none is left, then settle,
    announce, and write the notice parts still free (write_notices). Any number of these (and of
    run_chunk jobs) may work on one run at once; each chunk, and each notice part, is done once. Idempotent and resumable: run it again after any failure. `max_chunks` stops early (the
    run stays 'executing'), for operators and tests."""
    run = start(session, run_id, now)
    if run.status == "executed":
        run = settle_if_done(session, run_id, now)  # announced already, or now if a crash came between
        write_notices(session, run_id)
        return run
    done = 0
    while max_chunks is None or done < max_chunks:
        finished = run_chunk(session, run_id, grace_days=grace_days)
        if finished is None:  # nothing free: wait for a chunk another worker (or a leave) holds
            finished = run_chunk(session, run_id, grace_days=grace_days, wait=True)
        if finished is None:
            with reading(session):
                if not pending_chunks(session, run_id):
                    break
            continue  # the one we waited for was done by its holder: look again
        done += 1
        if on_chunk:
            on_chunk(*finished)
    else:
        return get_run(session, run_id)  # stopped early: still 'executing', resumable
    settled = settle_if_done(session, run_id, now)
    if settled is None:
        return get_run(session, run_id)
    write_notices(session, run_id)  # the other workers, done with the chunks, write the other parts
    return settled
