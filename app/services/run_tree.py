"""A run's Merkle tree from its ledger debits (RFC 6962; app/services/merkle.py).

A leaf is 48 bytes: run id (8, big-endian) ‖ pseudonym (32) ‖ amount debited in fen (8, big-endian,
signed). The pseudonym is HMAC-SHA256(member secret, "yiqi/run-pseudonym/v1:{run id}"): random per
run for everyone else, recomputable by the member from the secret shown only to them
(app/services/membership_secrets.py). Leaves are in ledger order: the run's deduction transactions by
id, then their member postings by id.

The tree is computed streaming, pages of postings read in order (one server-side cursor per
transaction, read ahead by a thread on PostgreSQL) with O(log n) hashes held, so a run of millions
of payers costs one pass and no memory to speak of. Each chunk stores its own leaf hashes as it runs
(on PostgreSQL inside the chunk's statement, with pgcrypto's hmac(); elsewhere, or for a payer without
a secret, store_leaves here); settlement combines them (run_tree with `stored`) and drops them;
verification and the proofs always read the ledger and hash in Python. The plan's chain, the public views and verification are in
app/services/transparency.py."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import queue
import threading
from dataclasses import dataclass
from typing import Iterable, Iterator

from sqlalchemy import delete, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.models import MembershipSecret, RunDebitLeaves

from . import merkle
from .membership_secrets import create_secrets

PAGE = 10_000
# The ledger's marks of a run's member debits (app/services/apportionment writes them).
RUN_REFERENCE = "apportionment_run"
DEDUCTION_REASON = "deduction"


# --- leaves -------------------------------------------------------------------------------
_HMAC_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


LEAF_HASH_PREFIX = b"\x00"  # RFC 6962's leaf marker (merkle.leaf_hash)


def pseudonym_message(run_id: int) -> bytes:
    """What the member's secret signs for a run (HMAC-SHA256)."""
    return f"yiqi/run-pseudonym/v1:{run_id}".encode()


def leaf_run_bytes(run_id: int) -> bytes:
    return run_id.to_bytes(8, "big")


def pseudonym(secret: bytes, run_id: int) -> bytes:
    return hmac.new(secret, pseudonym_message(run_id), hashlib.sha256).digest()


def leaf_bytes(run_id: int, pseudonym_: bytes, amount_fen: int) -> bytes:
    return leaf_run_bytes(run_id) + pseudonym_ + amount_fen.to_bytes(8, "big", signed=True)


def leaf_hashes(run_id: int, debits: Iterable[tuple[bytes, int]]) -> Iterator[bytes]:
    """merkle.leaf_hash(leaf_bytes(run_id, pseudonym(secret, run_id), amount)) for each (secret,
    amount debited), in a tight loop: HMAC-SHA256 written out (RFC 2104: the key zero-padded to the
    block, xor-ed by translate) costs half of hmac.new's per call, and no leaf object is made."""
    sha256 = hashlib.sha256
    message = pseudonym_message(run_id)
    prefix = LEAF_HASH_PREFIX + leaf_run_bytes(run_id)
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
_TRANSACTION_DEBITS_SQL = (
    "SELECT a.membership_id, s.secret, -p.amount_fen FROM postings p JOIN accounts a ON a.id = p.account_id "
    "LEFT JOIN membership_secrets s ON s.membership_id = a.membership_id "
    "WHERE p.transaction_id = {txn} AND a.kind = 'member' ORDER BY p.id")
_TRANSACTION_DEBITS = text(_TRANSACTION_DEBITS_SQL.format(txn=":txn")).execution_options(stream_results=True)
_TRANSACTION_DEBITS_DRIVER = _TRANSACTION_DEBITS_SQL.format(txn="%(txn)s")  # psycopg2's placeholder
_cursor_numbers = itertools.count()


def debits(session: Session, run_id: int, *, offset: int = 0) -> Iterator[Debit]:
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


def debit_pages(db: Connection, transactions: list[int]) -> Iterator[list[tuple[int, bytes | None, int]]]:
    """The member debits of a run's deduction `transactions` (in leaf order: give them by id), a page of
    (membership, secret or None, amount debited) at a time: one streaming query per transaction. On
    PostgreSQL through the driver's own server-side cursor, in the connection's transaction: the tree of
    1,000,000 debits took 10.2-10.5 s with SQLAlchemy's result rows, 7.7-8.3 s without them."""
    if db.dialect.name == "postgresql":
        yield from _driver_debit_pages(db, transactions)
        return
    for txn in transactions:
        result = db.execute(_TRANSACTION_DEBITS, {"txn": txn})
        try:
            yield from result.partitions(PAGE)
        finally:
            result.close()


def _driver_debit_pages(db: Connection, transactions: list[int]) -> Iterator[list[tuple[int, bytes | None, int]]]:
    dbapi = db.connection.dbapi_connection
    for txn in transactions:
        # Named: a server-side cursor (psycopg2), its name unique while the transaction lasts.
        cursor = dbapi.cursor(name=f"run_debits_{txn}_{next(_cursor_numbers)}")
        cursor.itersize = PAGE
        try:
            cursor.execute(_TRANSACTION_DEBITS_DRIVER, {"txn": txn})
            while page := cursor.fetchmany(PAGE):
                yield page
        finally:
            cursor.close()


def secrets_for(db: Connection, page: list[tuple[int, bytes | None, int]]) -> list[tuple[bytes, int]]:
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


class SecretGone(Exception):
    def __init__(self, membership_id: int) -> None:
        super().__init__(membership_id)
        self.membership_id = membership_id


def leaf_inputs(db: Connection, transactions: list[int], fill_missing: bool) -> Iterator[list[tuple[bytes, int]]]:
    """Pages of (secret, amount debited) in leaf order. With `fill_missing` (chunks, settlement), a
    membership without a secret gets one; without (verify), SecretGone names the first such one."""
    for page in debit_pages(db, transactions):
        if fill_missing:
            yield secrets_for(db, page)
            continue
        gone = next((membership for membership, secret, _ in page if secret is None), None)
        if gone is not None:
            raise SecretGone(gone)
        yield [(secret, amount) for _, secret, amount in page]


def read_ahead(pages: Iterator[list], depth: int = 2) -> Iterator[list]:
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


def leaf_pages(session: Session, run_id: int, fill_missing: bool = False, *,
               transactions: list[int] | None = None) -> Iterator[list[tuple[bytes, int]]]:
    """leaf_inputs of the run (or of some of its `transactions`) on the session's connection, in its
    transaction, read ahead on PostgreSQL (the thread uses the connection directly: a scoped or
    Flask-SQLAlchemy session would look for its scope and app context in the thread)."""
    connection = session.connection()
    if transactions is None:
        transactions = _run_transactions(connection, run_id)
    pages = leaf_inputs(connection, transactions, fill_missing)
    return read_ahead(pages) if connection.dialect.name == "postgresql" else pages


def run_tree(session: Session, run_id: int, *, fill_missing: bool = False, stored: bool = False) -> Tree:
    """The run's tree from its ledger debits, streaming (on PostgreSQL, read ahead by a thread).
    With `fill_missing` (settlement), a membership without a secret gets one; without (verify),
    the first such one is reported. With `stored` (settlement), a transaction whose chunk stored its
    leaf hashes (store_leaves) is taken from them, the others are read from the ledger."""
    tree, total = merkle.StreamingTree(), 0
    transactions = _run_transactions(session, run_id)
    kept = _stored_totals(session, run_id) if stored else {}
    try:
        for from_store, group in itertools.groupby(transactions, key=kept.__contains__):
            if from_store:
                for txn in group:
                    tree.push_hashes(_stored_hashes(session, run_id, txn))
                    total += kept[txn]
                continue
            for rows in leaf_pages(session, run_id, fill_missing, transactions=list(group)):
                tree.push_hashes(leaf_hashes(run_id, rows))
                total += sum(amount for _, amount in rows)
    except SecretGone as gone:
        return Tree(tree.size, total, b"", missing_secret=gone.membership_id)
    return Tree(tree.size, total, tree.root())


# --- leaves stored by the chunks ------------------------------------------------------------


def store_leaves(session: Session, run_id: int, transaction_id: int) -> None:
    """A chunk's leaf hashes, written in the chunk's transaction right after its debits: the chunk
    does the per-payer hashing (in parallel when several workers run chunks) and settlement only
    combines (run_tree with `stored`). A membership without a secret gets one here, as at settlement."""
    hashes, total = bytearray(), 0
    for rows in leaf_pages(session, run_id, True, transactions=[transaction_id]):
        for leaf in leaf_hashes(run_id, rows):
            hashes += leaf
        total += sum(amount for _, amount in rows)
    session.execute(insert(RunDebitLeaves).values(run_id=run_id, transaction_id=transaction_id,
                                                  leaf_count=len(hashes) // 32, total_fen=total, hashes=bytes(hashes)))


def drop_stored_leaves(session: Session, run_id: int) -> None:
    """Once the run's root is committed: the ledger stays the source of every leaf."""
    session.execute(delete(RunDebitLeaves).where(RunDebitLeaves.run_id == run_id))


def _stored_totals(session: Session, run_id: int) -> dict[int, int]:
    return dict(session.execute(select(RunDebitLeaves.transaction_id, RunDebitLeaves.total_fen)
                                .where(RunDebitLeaves.run_id == run_id)).tuples().all())


def _stored_hashes(session: Session, run_id: int, transaction_id: int) -> Iterator[bytes]:
    """One transaction's stored hashes, 32 bytes each (one chunk's in memory at a time)."""
    blob = session.execute(select(RunDebitLeaves.hashes).where(
        RunDebitLeaves.run_id == run_id, RunDebitLeaves.transaction_id == transaction_id)).scalar_one()
    view = memoryview(blob)
    return (bytes(view[i:i + 32]) for i in range(0, len(view), 32))
