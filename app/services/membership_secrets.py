"""Each membership's transparency secret: 32 random bytes, created with the membership (join), the
key of its pseudonym in every run's Merkle tree (app/services/run_tree.py). Shown only to the
member; erased with nothing else when personal data is erased (the leaves stay verifiable)."""
from __future__ import annotations

import secrets

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.models import Membership, MembershipSecret

from .unit_of_work import atomic, reading

PAGE = 10_000
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
