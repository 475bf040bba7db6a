"""Helpers for transparency tests: an executed run, the tamperer's SQL, an independent root."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import sqlalchemy as sa

from app.services import apportionment
from tests.support.builders import add_claim, add_members, make_user


def executed_run(session, now: dt.datetime, balances: list[int], *, plan: str = "adult_789", chunk_size: int = 2,
                 aid_fen: int = 1_000) -> tuple[int, list[int]]:
    """A run executed over members holding `balances` (several chunk transactions)."""
    ids = add_members(session, make_user(session, now), plan, balances, now)
    add_claim(session, ids[0], aid_fen, now - dt.timedelta(hours=1))
    run = apportionment.prepare(session, plan, now, chunk_size=chunk_size)
    apportionment.publish(session, run.id, now)
    return apportionment.execute(session, run.id, now).id, ids


def independent_leaf_hashes(session, run_id: int, transaction_id: int | None = None) -> list[bytes]:
    """The run's leaf hashes (or one of its transactions') from plain SQL and hashlib: the leaf format
    written again."""
    rows = session.execute(sa.text(
        "SELECT s.secret, p.amount_fen FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
        "JOIN accounts a ON a.id = p.account_id JOIN membership_secrets s ON s.membership_id = a.membership_id "
        "WHERE t.reference_type = 'apportionment_run' AND t.reference_id = :r AND t.reason = 'deduction' "
        "AND a.kind = 'member' AND (CAST(:t AS BIGINT) IS NULL OR t.id = :t) ORDER BY t.id, p.id"),
        {"r": str(run_id), "t": transaction_id}).all()
    hashes = []
    for secret, amount in rows:
        nym = hmac.new(bytes(secret), b"yiqi/run-pseudonym/v1:%d" % run_id, hashlib.sha256).digest()
        leaf = run_id.to_bytes(8, "big") + nym + (-amount).to_bytes(8, "big", signed=True)
        hashes.append(hashlib.sha256(b"\x00" + leaf).digest())
    return hashes


def independent_root(session, run_id: int) -> tuple[int, str]:
    """(leaves, root) from plain SQL and hashlib: the leaf format and RFC 6962, written again."""
    hashes = independent_leaf_hashes(session, run_id)

    def mth(hs):
        if not hs:
            return hashlib.sha256(b"").digest()
        if len(hs) == 1:
            return hs[0]
        k = 1
        while k * 2 < len(hs):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(hs[:k]) + mth(hs[k:])).digest()

    return len(hashes), mth(hashes).hex()


def tamper(session, statement: str, params: dict, *, table: str = "postings") -> None:
    """An attacker with database access: on PostgreSQL the append-only trigger is switched off
    around the edit (and back on, in the same transaction)."""
    pg = session.get_bind().dialect.name == "postgresql"
    session.commit()  # whatever the session had open; the edit below is one transaction
    if pg:
        session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
    session.execute(sa.text(statement), params)
    if pg:
        session.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))
    session.commit()


def a_debit(session, run_id: int, *, last: bool = False) -> int:
    """The id of the run's first (or last) member debit posting."""
    return session.execute(sa.text(
        "SELECT p.id FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
        "JOIN accounts a ON a.id = p.account_id WHERE t.reference_id = :r AND t.reason = 'deduction' "
        f"AND a.kind = 'member' ORDER BY p.id {'DESC' if last else 'ASC'} LIMIT 1"), {"r": str(run_id)}).scalar_one()
