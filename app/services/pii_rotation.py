"""PII key rotation (`flask pii rotate`) and the registry of keys stored data may reference.

A rotation re-encrypts every ciphertext under the newest encryption key and recomputes every look-up
hash with the newest hash key, table by table, in chunks of ids: each chunk reads one id range
(set-based), re-encrypts in Python (AES-GCM needs the key), writes back with one UPDATE … FROM
(unnest of arrays on PostgreSQL, VALUES on SQLite) and records its progress in the same transaction.
Killed anywhere, it resumes after the last committed chunk; a value already under the newest key is never touched, so nothing is encrypted
twice. While it runs, look-ups try both hash keys (PiiProtector.lookup_hashes)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import func, inspect, or_, select, text, update
from sqlalchemy.orm import Session

from app.models import Membership, NameCorrection, Operator, PiiKey, PiiRotation, User

from .pii import PiiProtector
from .sql import insert_for
from .unit_of_work import atomic, reading


class MissingKey(RuntimeError):
    """Stored data references a key that is not configured: the process must not start."""


@dataclass(frozen=True)
class Target:
    model: type
    columns: tuple[str, ...]  # ciphertext columns (NULL or '' = nothing stored)
    hashed: bool = False  # memberships: person_id_hash from person_id_encrypted


TARGETS = (
    Target(Membership, ("person_name_encrypted", "person_id_encrypted"), hashed=True),
    Target(User, ("session_key_encrypted",)),
    Target(NameCorrection, ("new_name_encrypted",)),
    Target(Operator, ("totp_secret_encrypted",)),  # operators' second factor, encrypted like personal data
)


def _stale(target: Target, pii: PiiProtector):
    """Rows of the target still holding a value under an older key (or hash key)."""
    table = target.model.__table__
    conditions = [(table.c[c].is_not(None)) & (table.c[c] != "") & ~table.c[c].startswith(f"{pii.key_id}:")
                  for c in target.columns]
    if target.hashed:
        conditions.append(table.c.erased_at.is_(None) & (table.c.person_id_hash_key != pii.hash_key_id))
    return or_(*conditions)


@dataclass
class RotationResult:
    rows_rewritten: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    finished: bool = False
    retired: list[str] = field(default_factory=list)


def _progress(session: Session, table: str, pii: PiiProtector, now: dt.datetime) -> PiiRotation:
    with atomic(session):
        session.execute(insert_for(session, PiiRotation.__table__).values(
            table_name=table, key_id=pii.key_id, hash_key_id=pii.hash_key_id, last_id=0, rows_rewritten=0,
            started_at=now).on_conflict_do_nothing())
    return session.execute(select(PiiRotation).where(
        PiiRotation.table_name == table, PiiRotation.key_id == pii.key_id,
        PiiRotation.hash_key_id == pii.hash_key_id)).scalar_one()


def _rewrite_chunk(session: Session, pii: PiiProtector, target: Target, low: int, high: int) -> int:
    table = target.model.__table__
    wanted = [table.c.id, *(table.c[c] for c in target.columns)]
    rows = session.execute(select(*wanted).where(table.c.id > low, table.c.id <= high, _stale(target, pii))
                           .order_by(table.c.id)).all()
    if not rows:
        return 0
    values = []
    for row in rows:
        new = {"id": row.id}
        for column in target.columns:
            token = getattr(row, column)
            new[column] = pii.reencrypt(token) if token else token
        if target.hashed:
            number = row.person_id_encrypted and pii.decrypt(row.person_id_encrypted)
            new["hash"] = pii.lookup_hash(number) if number else None
        values.append(new)
    names = ["id", *target.columns] + (["hash"] if target.hashed else [])
    sets = [f"{c} = v.{c}" for c in target.columns]
    if target.hashed:
        # an erased row (no ID number) keeps its placeholder hash
        sets.append("person_id_hash = COALESCE(v.hash, person_id_hash)")
        sets.append(f"person_id_hash_key = CASE WHEN v.hash IS NULL THEN person_id_hash_key ELSE '{pii.hash_key_id}' END")
    if session.get_bind().dialect.name == "postgresql":
        # one array per column: a handful of parameters whatever the chunk size
        arrays = ", ".join(f"CAST(:{n} AS {'bigint' if n == 'id' else 'text'}[])" for n in names)
        source = f"unnest({arrays}) AS v({', '.join(names)})"
        params = {n: [v.get(n) for v in values] for n in names}
        session.execute(text(f"UPDATE {table.name} SET {', '.join(sets)} FROM {source} WHERE {table.name}.id = v.id"),
                        params)
    else:
        placeholders = ", ".join("(" + ", ".join(f":{n}_{i}" for n in names) + ")" for i in range(len(values)))
        params = {f"{n}_{i}": v.get(n) for i, v in enumerate(values) for n in names}
        session.execute(text(f"WITH v({', '.join(names)}) AS (VALUES {placeholders}) "
                             f"UPDATE {table.name} SET {', '.join(sets)} FROM v WHERE {table.name}.id = v.id"), params)
    return len(values)


def rotate(session: Session, pii: PiiProtector, *, now: dt.datetime, chunk_size: int = 5_000,
           max_chunks: int | None = None, on_chunk: Callable[[str, int], None] | None = None) -> RotationResult:
    """Run (or resume) the rotation to pii's newest keys. `max_chunks` stops early (resumable);
    `on_chunk(table, last_id)` is called after each committed chunk."""
    result = RotationResult()
    register_current_keys(session, pii, now)
    for target in TARGETS:
        table = target.model.__table__
        name = table.name
        result.rows_rewritten[name] = 0
        progress = _progress(session, name, pii, now)
        while progress.finished_at is None:
            if max_chunks is not None and result.chunks >= max_chunks:
                return result
            max_id = session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
            low = progress.last_id
            if low >= max_id:
                with atomic(session):
                    # rows a process still on the old key wrote behind the scan: another pass from there
                    leftover = session.execute(select(func.min(table.c.id)).where(_stale(target, pii))).scalar_one()
                    values = ({"last_id": leftover - 1} if leftover is not None else {"finished_at": now})
                    session.execute(update(PiiRotation).where(PiiRotation.id == progress.id).values(**values))
                session.refresh(progress)
                continue
            high = low + chunk_size
            with atomic(session):
                rewritten = _rewrite_chunk(session, pii, target, low, high)
                session.execute(update(PiiRotation).where(PiiRotation.id == progress.id).values(
                    last_id=min(high, max_id), rows_rewritten=PiiRotation.rows_rewritten + rewritten))
            session.refresh(progress)
            result.rows_rewritten[name] += rewritten
            result.chunks += 1
            if on_chunk is not None:
                on_chunk(name, progress.last_id)
    result.retired = retire_unreferenced_keys(session, pii, now)
    result.finished = True
    return result


def register_current_keys(session: Session, pii: PiiProtector, now: dt.datetime) -> None:
    """Every configured key may be referenced (an older one until a rotation retires it); the
    newest, which new writes use, is referenced from now on even if it was retired before."""
    with atomic(session):
        for kind, key_ids, newest in (("encryption", pii.encryption_key_ids, pii.key_id),
                                      ("hash", pii.hash_key_ids, pii.hash_key_id)):
            for key_id in key_ids:
                session.execute(insert_for(session, PiiKey.__table__).values(
                    kind=kind, key_id=key_id, registered_at=now).on_conflict_do_nothing())
            session.execute(update(PiiKey).where(PiiKey.kind == kind, PiiKey.key_id == newest)
                            .values(unreferenced_at=None))


def retire_unreferenced_keys(session: Session, pii: PiiProtector, now: dt.datetime) -> list[str]:
    """After a finished rotation: every older key is no longer referenced, once a last check (one
    query per table) finds no row left under it."""
    for target in TARGETS:
        if session.execute(select(target.model.__table__.c.id).where(_stale(target, pii)).limit(1)).first():
            return []
    with atomic(session):
        retired = session.execute(update(PiiKey).where(
            PiiKey.unreferenced_at.is_(None),
            or_((PiiKey.kind == "encryption") & (PiiKey.key_id != pii.key_id),
                (PiiKey.kind == "hash") & (PiiKey.key_id != pii.hash_key_id)))
            .values(unreferenced_at=now).returning(PiiKey.kind, PiiKey.key_id)).all()
    return [f"{kind} {key_id}" for kind, key_id in retired]


def check_configured_keys(session: Session, pii: PiiProtector, now: dt.datetime) -> None:
    """At start (production): refuse when a key still referenced by stored data is not configured,
    then register the keys new writes will use."""
    if not inspect(session.get_bind()).has_table(PiiKey.__tablename__):
        return  # before `flask db upgrade`
    configured = {"encryption": set(pii.encryption_key_ids), "hash": set(pii.hash_key_ids)}
    with reading(session):
        missing = [f"{k.kind} key {k.key_id}" for k in session.execute(
            select(PiiKey).where(PiiKey.unreferenced_at.is_(None)).order_by(PiiKey.kind, PiiKey.key_id)).scalars()
            if k.key_id not in configured[k.kind]]
    if missing:
        raise MissingKey("stored personal data still uses " + ", ".join(missing)
                         + ", which PII_ENCRYPTION_KEYS / PII_HASH_KEYS do not configure: add it back "
                           "(finish `flask pii rotate` before retiring a key)")
    register_current_keys(session, pii, now)
