"""Verifiable runs: each executed run's debits form an RFC 6962 Merkle tree whose root joins the
plan's hash chain; a member proves their own debit is in it, anyone recomputes the root from the
published leaves, and `verify` recomputes every root from the ledger and the whole chain.

A leaf is 48 bytes: run id (8, big-endian) ‖ pseudonym (32) ‖ amount debited in fen (8, big-endian,
signed). The pseudonym is HMAC-SHA256(member secret, "yiqi/run-pseudonym/v1:{run id}"): random per
run for everyone else, recomputable by the member from the secret shown only to them. The secret
(32 random bytes) is created with the membership (join; migration 0021 and `backfill_secrets` for
older ones); settlement creates a missing one only as a fallback. Leaves are in ledger order: the
run's deduction transactions by id, then their member postings by id.

The tree is computed streaming, pages of postings read in order (one server-side cursor per
transaction, read ahead by a thread on PostgreSQL) with O(log n) hashes held, so a run of millions
of payers costs one pass and no memory to speak of.

A chain record's hash is SHA-256 of its canonical JSON (sorted keys, no spaces) including the
previous record's hash; the first record of a plan links to 64 zeros."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import queue
import secrets
import threading
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.models import ApportionmentRun, FinancialReport, Membership, MembershipSecret, Plan, TransparencyRecord

from . import merkle
from .errors import InvalidRequest, NotFound
from .plans import get_plan
from .unit_of_work import atomic, reading

GENESIS = "0" * 64
PAGE = 10_000
MAX_LEAVES_PAGE = 10_000
RECORD_VERSION = 1
# The ledger's marks of a run's member debits (app/services/apportionment.py writes them).
RUN_REFERENCE = "apportionment_run"
DEDUCTION_REASON = "deduction"


# --- leaves -------------------------------------------------------------------------------
_HMAC_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def pseudonym(secret: bytes, run_id: int) -> bytes:
    return hmac.new(secret, f"yiqi/run-pseudonym/v1:{run_id}".encode(), hashlib.sha256).digest()


def leaf_bytes(run_id: int, pseudonym_: bytes, amount_fen: int) -> bytes:
    return run_id.to_bytes(8, "big") + pseudonym_ + amount_fen.to_bytes(8, "big", signed=True)


def leaf_hashes(run_id: int, debits: Iterable[tuple[bytes, int]]) -> Iterator[bytes]:
    """merkle.leaf_hash(leaf_bytes(run_id, pseudonym(secret, run_id), amount)) for each (secret,
    amount debited), in a tight loop: HMAC-SHA256 written out (RFC 2104: the key zero-padded to the
    block, xor-ed by translate) costs half of hmac.new's per call, and no leaf object is made."""
    sha256 = hashlib.sha256
    message = f"yiqi/run-pseudonym/v1:{run_id}".encode()
    prefix = b"\x00" + run_id.to_bytes(8, "big")
    for secret, amount in debits:
        key = bytes(secret)
        if len(key) > _HMAC_BLOCK:
            key = sha256(key).digest()
        key = key.ljust(_HMAC_BLOCK, b"\x00")
        nym = sha256(key.translate(_OPAD) + sha256(key.translate(_IPAD) + message).digest()).digest()
        yield sha256(prefix + nym + amount.to_bytes(8, "big", signed=True)).digest()


@dataclass(frozen=True)
class Debit:
    posting_id: int
    transaction_id: int
    membership_id: int
    secret: bytes | None
    amount_fen: int  # debited: the opposite of the member posting


def _run_transactions(db: Session | Connection, run_id: int) -> list[int]:
    return list(db.execute(text(
        "SELECT id FROM ledger_transactions WHERE reference_type = :ref AND reference_id = :run "
        "AND reason = :reason ORDER BY id"),
        {"ref": RUN_REFERENCE, "run": str(run_id), "reason": DEDUCTION_REASON}).scalars())


_DEBITS_PAGE = (
    "SELECT p.id, p.transaction_id, a.membership_id, s.secret, -p.amount_fen FROM postings p "
    "JOIN accounts a ON a.id = p.account_id LEFT JOIN membership_secrets s ON s.membership_id = a.membership_id "
    "WHERE p.transaction_id = :txn AND a.kind = 'member' AND p.id > :after ORDER BY p.id LIMIT :n")
_DEBITS_IN_TRANSACTION = text(
    "SELECT COUNT(*) FROM postings p JOIN accounts a ON a.id = p.account_id "
    "WHERE p.transaction_id = :txn AND a.kind = 'member'")
# One transaction's member debits in leaf order, read through one server-side cursor: (membership,
# secret or NULL, amount debited).
_TRANSACTION_DEBITS = text(
    "SELECT a.membership_id, s.secret, -p.amount_fen FROM postings p JOIN accounts a ON a.id = p.account_id "
    "LEFT JOIN membership_secrets s ON s.membership_id = a.membership_id "
    "WHERE p.transaction_id = :txn AND a.kind = 'member' ORDER BY p.id"
).execution_options(stream_results=True)


def _debits(session: Session, run_id: int, *, offset: int = 0) -> Iterator[Debit]:
    """The run's member debits in leaf order from `offset`, read in pages (keyset on posting id
    within each transaction; whole transactions before the offset skipped by their count)."""
    for txn in _run_transactions(session, run_id):
        if offset:
            count = session.execute(_DEBITS_IN_TRANSACTION, {"txn": txn}).scalar_one()
            if offset >= count:
                offset -= count
                continue
        after, skip = 0, offset
        offset = 0
        while True:
            rows = session.execute(text(_DEBITS_PAGE + (" OFFSET :skip" if skip else "")),
                                   {"txn": txn, "after": after, "n": PAGE, "skip": skip}).all()
            skip = 0
            for row in rows:
                yield Debit(int(row[0]), int(row[1]), int(row[2]),
                            bytes(row[3]) if row[3] is not None else None, int(row[4]))
            if len(rows) < PAGE:
                break
            after = rows[-1][0]


def _debit_pages(db: Session | Connection, run_id: int) -> Iterator[list[tuple[int, bytes | None, int]]]:
    """The run's member debits in leaf order, a page of (membership, secret or None, amount debited)
    at a time: one streaming query per deduction transaction."""
    for txn in _run_transactions(db, run_id):
        result = db.execute(_TRANSACTION_DEBITS, {"txn": txn})
        try:
            yield from result.partitions(PAGE)
        finally:
            result.close()


# --- member secrets -------------------------------------------------------------------------
SECRET_BYTES = 32
# 32 random bytes drawn by the database, for set-based creation: PostgreSQL's built-in
# gen_random_uuid() reads its strong random source (122 random bits per UUID; two of them,
# hashed to 32 uniform bytes); SQLite's randomblob.
_DATABASE_SECRET = {"postgresql": "sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()))",
                    "sqlite": "randomblob(32)"}
BACKFILL_BATCH = 100_000


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def create_secret(session: Session, membership_id: int) -> None:
    """A new membership's secret, in the transaction that creates the membership (join): a run
    then only reads it."""
    session.add(MembershipSecret(membership_id=membership_id, secret=new_secret()))


def create_secrets(session: Session | Connection, membership_ids: list[int]) -> int:
    """Set-based: the listed memberships that have no secret get one (random bytes from the
    database), a page of ids per statement. Returns how many were created."""
    created = 0
    for start in range(0, len(membership_ids), PAGE):
        created += session.execute(_secrets_insert(session, "m.id IN :ids").bindparams(
            bindparam("ids", expanding=True)), {"ids": membership_ids[start:start + PAGE]}).rowcount
    return created


def create_missing_secrets(session: Session, lo: int, hi: int) -> int:
    """Set-based: every membership with an id in [lo, hi) that has no secret gets one. For
    memberships written in bulk by SQL and for the backfill of memberships created before join
    made them. Returns how many were created."""
    return session.execute(_secrets_insert(session, "m.id >= :lo AND m.id < :hi"), {"lo": lo, "hi": hi}).rowcount


def _secrets_insert(db: Session | Connection, where: str):
    dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
    return text(
        f"INSERT INTO membership_secrets (membership_id, secret) "
        f"SELECT m.id, {_DATABASE_SECRET[dialect.name]} FROM memberships m "
        f"WHERE {where} AND NOT EXISTS (SELECT 1 FROM membership_secrets s WHERE s.membership_id = m.id) "
        "ON CONFLICT (membership_id) DO NOTHING")


def backfill_secrets(session: Session, *, batch: int = BACKFILL_BATCH) -> int:
    """Every membership without a secret gets one, `batch` ids per transaction (set-based; safe to
    run while the app runs and to run again). Returns how many were created."""
    with reading(session):
        first, last = session.execute(select(func.min(Membership.id), func.max(Membership.id))).one()
    created = 0
    for lo in range(first or 0, (last or -1) + 1, batch):
        with atomic(session):
            created += create_missing_secrets(session, lo, lo + batch)
    return created


def _secrets_for(db: Connection, page: list[tuple[int, bytes | None, int]]) -> list[tuple[bytes, int]]:
    """(secret, amount) for a page of debits. Fallback for memberships without a secret (created
    outside join, before the backfill): one is written now, and the stored one read back, so a
    secret another transaction wrote at the same moment is the one the leaf uses."""
    missing = [membership for membership, secret, _ in page if secret is None]
    if not missing:
        return [(secret, amount) for _, secret, amount in page]
    create_secrets(db, missing)
    stored = dict(db.execute(select(MembershipSecret.membership_id, MembershipSecret.secret).where(
        MembershipSecret.membership_id.in_(missing))).tuples().all())
    return [(secret if secret is not None else stored[membership], amount) for membership, secret, amount in page]


@dataclass(frozen=True)
class Tree:
    size: int
    total_fen: int
    root: bytes
    missing_secret: int | None = None  # a membership whose secret is gone (verify reports it)


class _SecretGone(Exception):
    def __init__(self, membership_id: int) -> None:
        super().__init__(membership_id)
        self.membership_id = membership_id


def _leaf_inputs(db: Connection, run_id: int, fill_missing: bool) -> Iterator[list[tuple[bytes, int]]]:
    """Pages of (secret, amount debited) in leaf order. With `fill_missing` (settlement), a
    membership without a secret gets one; without (verify), _SecretGone names the first such one."""
    for page in _debit_pages(db, run_id):
        if fill_missing:
            yield _secrets_for(db, page)
            continue
        gone = next((membership for membership, secret, _ in page if secret is None), None)
        if gone is not None:
            raise _SecretGone(gone)
        yield [(secret, amount) for _, secret, amount in page]


def _read_ahead(pages: Iterator[list], depth: int = 2) -> Iterator[list]:
    """`pages` produced by a thread, up to `depth` ahead, while the caller hashes the previous one:
    the database's work on the next page (psycopg2 waits for it with the GIL released) overlaps
    the hashing, two cores instead of one taking turns. Until this generator ends, the thread is
    the only one using the session (the caller only hashes); it ends before this returns."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                handoff.put(("page", page))
                if stop.is_set():
                    break
        except BaseException as error:  # handed to the caller, raised there
            handoff.put(("error", error))
        finally:
            pages.close()
            handoff.put(("end", None))

    reader = threading.Thread(target=produce, name="merkle-read-ahead", daemon=True)
    reader.start()
    kind = None
    try:
        while True:
            kind, value = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while kind != "end":  # stopped early: let the reader finish its page and stop
            kind, _ = handoff.get()
        reader.join()


def _leaf_pages(session: Session, run_id: int, fill_missing: bool = False) -> Iterator[list[tuple[bytes, int]]]:
    """_leaf_inputs on the session's connection, in its transaction, read ahead on PostgreSQL (the
    thread uses the connection directly: a scoped or Flask-SQLAlchemy session would look for its
    scope and app context in the thread)."""
    connection = session.connection()
    pages = _leaf_inputs(connection, run_id, fill_missing)
    return _read_ahead(pages) if connection.dialect.name == "postgresql" else pages


def _tree(session: Session, run_id: int, *, fill_missing: bool = False) -> Tree:
    """The run's tree from its ledger debits, streaming (on PostgreSQL, read ahead by a thread).
    With `fill_missing` (settlement), a membership without a secret gets one; without (verify),
    the first such one is reported."""
    tree, total = merkle.StreamingTree(), 0
    try:
        for rows in _leaf_pages(session, run_id, fill_missing):
            tree.push_hashes(leaf_hashes(run_id, rows))
            total += sum(amount for _, amount in rows)
    except _SecretGone as gone:
        return Tree(tree.size, total, b"", missing_secret=gone.membership_id)
    return Tree(tree.size, total, tree.root())


# --- the chain ----------------------------------------------------------------------------
def record_body(record: TransparencyRecord, plan_code: str) -> dict:
    body = {"v": RECORD_VERSION, "plan": plan_code, "sequence": record.sequence, "kind": record.kind,
            "previous": record.previous_hash}
    if record.kind == "run":
        body.update(run_id=record.run_id, tree_size=record.tree_size, total_fen=record.total_fen,
                    root=record.root_hash)
    else:
        body.update(report_id=record.report_id, content_sha256=record.content_sha256)
    return body


def canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_hash_of(body: dict) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def append_record(session: Session, plan_id: int, now: dt.datetime, **fields) -> TransparencyRecord:
    """The plan's next link, inside the caller's transaction. The plan row is locked so two writers
    (a run settling, a report freezing) take turns; (plan, sequence) is unique besides."""
    plan = session.execute(select(Plan).where(Plan.id == plan_id).with_for_update()).scalar_one()
    head = session.execute(select(TransparencyRecord).where(TransparencyRecord.plan_id == plan_id)
                           .order_by(TransparencyRecord.sequence.desc()).limit(1)).scalar_one_or_none()
    record = TransparencyRecord(plan_id=plan_id, sequence=head.sequence + 1 if head else 1,
                                previous_hash=head.record_hash if head else GENESIS, created_at=now, **fields)
    record.record_hash = record_hash_of(record_body(record, plan.code))
    session.add(record)
    session.flush()
    return record


def commit_run(session: Session, run: ApportionmentRun, now: dt.datetime) -> TransparencyRecord:
    """Called by settlement, inside its transaction: the run's tree from its ledger debits, and its
    record appended to the plan's chain. Once per run."""
    existing = session.execute(select(TransparencyRecord).where(TransparencyRecord.run_id == run.id)).scalar_one_or_none()
    if existing is not None:
        return existing
    tree = _tree(session, run.id, fill_missing=True)
    return append_record(session, run.plan_id, now, kind="run", run_id=run.id, tree_size=tree.size,
                         total_fen=tree.total_fen, root_hash=tree.root.hex())


def record_out(record: TransparencyRecord, plan_code: str) -> dict:
    return {**record_body(record, plan_code), "record_hash": record.record_hash, "created_at": record.created_at}


def chain(session: Session, plan_code: str) -> list[dict]:
    plan, _ = get_plan(session, plan_code)
    records = session.execute(select(TransparencyRecord).where(TransparencyRecord.plan_id == plan.id)
                              .order_by(TransparencyRecord.sequence)).scalars()
    return [record_out(r, plan.code) for r in records]


def _run_record(session: Session, plan_code: str, run_id: int) -> tuple[Plan, TransparencyRecord]:
    plan, _ = get_plan(session, plan_code)
    record = session.execute(select(TransparencyRecord).where(
        TransparencyRecord.run_id == run_id, TransparencyRecord.plan_id == plan.id)).scalar_one_or_none()
    if record is None:
        raise NotFound("这次分摊还没有可核验的记录", code="run_record_not_found", details={"run_id": run_id})
    return plan, record


def run_record(session: Session, plan_code: str, run_id: int) -> dict:
    plan, record = _run_record(session, plan_code, run_id)
    return record_out(record, plan.code)


def leaves_page(session: Session, plan_code: str, run_id: int, *, offset: int, limit: int) -> dict:
    """Public: a page of the run's leaves (pseudonym and amount; nothing names a member)."""
    if not 1 <= limit <= MAX_LEAVES_PAGE or offset < 0:
        raise InvalidRequest("分页参数无效", code="page_invalid", details={"max_limit": MAX_LEAVES_PAGE})
    plan, record = _run_record(session, plan_code, run_id)
    items = []
    for index, debit in enumerate(_debits(session, run_id, offset=offset), start=offset):
        if len(items) == limit:
            break
        if debit.secret is None:
            raise NotFound("分摊记录不完整", code="run_record_incomplete", details={"run_id": run_id})
        p = pseudonym(debit.secret, run_id)
        items.append({"index": index, "pseudonym": p.hex(), "amount_fen": debit.amount_fen,
                      "leaf": leaf_bytes(run_id, p, debit.amount_fen).hex()})
    following = offset + len(items)
    return {"run_id": run_id, "tree_size": record.tree_size, "root": record.root_hash, "items": items,
            "next_offset": following if following < record.tree_size else None}


def debit_proof(session: Session, membership_id: int, run_id: int) -> dict:
    """The member's own inclusion proof (the caller has checked the membership is theirs)."""
    run = session.get(ApportionmentRun, run_id)
    if run is None:
        raise NotFound("没有找到这次分摊", code="run_not_found", details={"run_id": run_id})
    plan_code = session.get(Plan, run.plan_id).code
    _, record = _run_record(session, plan_code, run_id)
    mine = session.execute(text(
        "SELECT p.id, p.transaction_id, -p.amount_fen FROM postings p JOIN accounts a ON a.id = p.account_id "
        "WHERE a.membership_id = :m AND a.kind = 'member' AND p.transaction_id IN "
        "(SELECT id FROM ledger_transactions WHERE reference_type = :ref AND reference_id = :run AND reason = :reason)"),
        {"m": membership_id, "ref": RUN_REFERENCE, "run": str(run_id), "reason": DEDUCTION_REASON}).first()
    if mine is None:
        raise NotFound("这次分摊没有从这份互助扣款", code="debit_not_found", details={"run_id": run_id})
    posting_id, txn = int(mine[0]), int(mine[1])
    index = session.execute(text(
        "SELECT COUNT(*) FROM postings p JOIN accounts a ON a.id = p.account_id WHERE a.kind = 'member' "
        "AND p.transaction_id IN (SELECT id FROM ledger_transactions WHERE reference_type = :ref "
        "AND reference_id = :run AND reason = :reason) AND (p.transaction_id < :txn OR (p.transaction_id = :txn "
        "AND p.id < :posting))"),
        {"ref": RUN_REFERENCE, "run": str(run_id), "reason": DEDUCTION_REASON, "txn": txn,
         "posting": posting_id}).scalar_one()
    hashes = (h for rows in _leaf_pages(session, run_id) for h in leaf_hashes(run_id, rows))
    try:
        path, _, root = merkle.inclusion_proof_of_hashes(hashes, int(index), record.tree_size)
    except _SecretGone:
        raise NotFound("分摊记录不完整", code="run_record_incomplete", details={"run_id": run_id}) from None
    secret, amount = session.get(MembershipSecret, membership_id).secret, int(mine[2])
    leaf = leaf_bytes(run_id, pseudonym(secret, run_id), amount)  # the one hashed at `index` (its posting)
    return {
        "run_id": run_id, "plan_code": plan_code, "member_secret": secret.hex(),
        "pseudonym": pseudonym(secret, run_id).hex(), "amount_fen": amount,
        "leaf": leaf.hex(), "leaf_index": int(index), "tree_size": record.tree_size,
        "audit_path": [h.hex() for h in path], "root": record.root_hash, "computed_root": root.hex(),
        "record": record_out(record, plan_code),
    }


# --- verification -------------------------------------------------------------------------
@dataclass
class VerifyReport:
    checked_runs: int = 0
    checked_reports: int = 0
    checked_records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_record(session: Session, plan: Plan, record: TransparencyRecord, previous: str,
                  expected_sequence: int, report: VerifyReport) -> str | None:
    """The first problem with this record, or None."""
    what = f"plan {plan.code} record {record.sequence}"
    if record.kind == "run":
        what = f"run {record.run_id} ({what})"
    if record.sequence != expected_sequence:
        return f"{what}: sequence {record.sequence}, expected {expected_sequence}"
    if record.previous_hash != previous:
        return f"{what}: previous hash {record.previous_hash} does not link to {previous}"
    if record_hash_of(record_body(record, plan.code)) != record.record_hash:
        return f"{what}: record hash does not match its content"
    report.checked_records += 1
    if record.kind == "run":
        report.checked_runs += 1
        tree = _tree(session, record.run_id)
        if tree.missing_secret is not None:
            return f"{what}: membership {tree.missing_secret} has no secret, its leaf cannot be recomputed"
        if (tree.size, tree.total_fen, tree.root.hex()) != (record.tree_size, record.total_fen, record.root_hash):
            return (f"{what}: the ledger's debits give {tree.size} leaves, {tree.total_fen} fen, root "
                    f"{tree.root.hex()}; published {record.tree_size} leaves, {record.total_fen} fen, root "
                    f"{record.root_hash}")
    else:
        report.checked_reports += 1
        frozen = session.get(FinancialReport, record.report_id)
        actual = hashlib.sha256(frozen.body.encode()).hexdigest()
        if actual != record.content_sha256 or actual != frozen.sha256:
            return f"{what}: report {frozen.period} hashes to {actual}, published {record.content_sha256}"
    return None


def verify(session: Session) -> VerifyReport:
    """Every plan's chain link by link, every run root recomputed from the ledger's postings, every
    frozen report's hash; and every executed run has its record. Stops at the first break."""
    report = VerifyReport()
    for plan in session.execute(select(Plan).order_by(Plan.id)).scalars():
        previous = GENESIS
        records = session.execute(select(TransparencyRecord).where(TransparencyRecord.plan_id == plan.id)
                                  .order_by(TransparencyRecord.sequence)).scalars().all()
        for expected, record in enumerate(records, start=1):
            problem = _check_record(session, plan, record, previous, expected, report)
            if problem:
                report.problems.append(problem)
                return report
            previous = record.record_hash
        unrecorded = session.execute(
            select(ApportionmentRun.id).where(ApportionmentRun.plan_id == plan.id,
                                              ApportionmentRun.status == "executed",
                                              ~select(TransparencyRecord.id).where(
                                                  TransparencyRecord.run_id == ApportionmentRun.id).exists())
            .order_by(ApportionmentRun.id).limit(1)).scalar_one_or_none()
        if unrecorded is not None:
            report.problems.append(f"run {unrecorded} (plan {plan.code}): executed but not in the plan's chain")
            return report
    return report


def commit_missing(session: Session, now: dt.datetime) -> list[int]:
    """Executed runs without a record (executed before this feature), committed in run order."""
    done = []
    ids = session.execute(select(ApportionmentRun.id).where(
        ApportionmentRun.status == "executed",
        ~select(TransparencyRecord.id).where(TransparencyRecord.run_id == ApportionmentRun.id).exists())
        .order_by(ApportionmentRun.id)).scalars().all()
    for run_id in ids:
        with atomic(session):
            commit_run(session, session.get(ApportionmentRun, run_id), now)
        done.append(run_id)
    return done


def run_verification(session: Session, run_id: int) -> tuple[str, TransparencyRecord | None, str | None]:
    """One run: ("verified" | "mismatch" | "unrecorded", its record, the problem). Its record's link to
    the plan's previous record and its hash are checked, and its root recomputed from the ledger."""
    record = session.execute(select(TransparencyRecord).where(TransparencyRecord.run_id == run_id)).scalar_one_or_none()
    if record is None:
        return "unrecorded", None, None
    previous = GENESIS if record.sequence == 1 else session.execute(select(TransparencyRecord.record_hash).where(
        TransparencyRecord.plan_id == record.plan_id, TransparencyRecord.sequence == record.sequence - 1)
    ).scalar_one_or_none()
    problem = _check_record(session, session.get(Plan, record.plan_id), record, previous or "(missing)",
                            record.sequence, VerifyReport())
    return ("mismatch" if problem else "verified"), record, problem


def run_records(session: Session, run_ids: list[int]) -> dict[int, TransparencyRecord]:
    if not run_ids:
        return {}
    return {r.run_id: r for r in session.execute(select(TransparencyRecord).where(
        TransparencyRecord.run_id.in_(run_ids))).scalars()}
