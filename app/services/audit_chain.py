"""The operator audit log as hash chains: tamper-evident without trusting the database's operator.

Each entry belongs to a stream (a claim's case, or `global` for everything else), carries its
sequence number in the stream, the previous entry's hash and its own:
entry_hash = SHA-256(prev_hash ‖ canonical JSON of the entry). An edited, removed or inserted row
breaks the chain at that point (`flask audit verify`). The heads are published daily
(audit_published_heads, `GET /api/v1/audit/heads`), so even a rewrite that recomputes every later
hash disagrees with a head that was already shown."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import Date, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from app.models import AuditChainHead, AuditPublishedHead, OperatorAuditEntry, UTCDateTime

from .clock import china_date
from .sql import insert_for
from .unit_of_work import atomic

GENESIS = "0" * 64
GLOBAL_STREAM = "global"


def stream_of(target_type: str, target_id: int | None) -> str:
    """A case's entries form their own chain (appends on different cases never wait on each other)."""
    if target_type == "claim" and target_id is not None:
        return f"claim:{target_id}"
    return GLOBAL_STREAM


def _utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(prev_hash: str, *, stream: str, seq: int, operator_id: int | None, action: str,
                 target_type: str, target_id: int | None, before: dict, after: dict, created_at: dt.datetime) -> str:
    body = json.dumps(
        {"stream": stream, "seq": seq, "operator_id": operator_id, "action": action, "target_type": target_type,
         "target_id": target_id, "before": before or {}, "after": after or {}, "created_at": _utc_text(created_at)},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _lock_head(session: Session, stream: str, now: dt.datetime) -> tuple[int, str]:
    """The stream's head, locked until the caller's transaction ends (created at genesis if new)."""
    session.execute(insert_for(session, AuditChainHead.__table__).values(
        stream=stream, seq=0, entry_hash=GENESIS, updated_at=now).on_conflict_do_nothing())
    row = session.execute(select(AuditChainHead.seq, AuditChainHead.entry_hash)
                          .where(AuditChainHead.stream == stream).with_for_update()).one()
    return row.seq, row.entry_hash


def append(session: Session, *, operator_id: int | None, action: str, target_type: str, target_id: int | None,
           now: dt.datetime, before: dict | None = None, after: dict | None = None) -> str:
    """Append one entry inside the caller's transaction; returns its hash."""
    stream = stream_of(target_type, target_id)
    seq, prev_hash = _lock_head(session, stream, now)
    seq += 1
    entry_hash = compute_hash(prev_hash, stream=stream, seq=seq, operator_id=operator_id, action=action,
                              target_type=target_type, target_id=target_id, before=before or {},
                              after=after or {}, created_at=now)
    session.execute(insert(OperatorAuditEntry).values(
        operator_id=operator_id, action=action, target_type=target_type, target_id=target_id,
        before=before or {}, after=after or {}, created_at=now, stream=stream, seq=seq, prev_hash=prev_hash,
        entry_hash=entry_hash))
    session.execute(update(AuditChainHead).where(AuditChainHead.stream == stream)
                    .values(seq=seq, entry_hash=entry_hash, updated_at=now)
                    .execution_options(synchronize_session=False))
    return entry_hash


@dataclass
class ChainReport:
    entries: int = 0
    streams: int = 0
    published_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, batch: int = 5_000) -> ChainReport:
    """Recompute every chain (in id order, streamed in batches) and compare with the heads and the
    published heads. Problems are listed in the order found; the first is the first break."""
    report = ChainReport()
    last: dict[str, tuple[int, str]] = {}  # stream → (seq, hash) of its latest entry seen
    broken: set[str] = set()
    hash_at: dict[tuple[str, int], str] = {}
    published = {(p.stream, p.seq): p for p in session.execute(select(AuditPublishedHead)).scalars()}
    after_id = 0
    while True:
        rows = session.execute(select(OperatorAuditEntry).where(OperatorAuditEntry.id > after_id)
                               .order_by(OperatorAuditEntry.id).limit(batch)).scalars().all()
        if not rows:
            break
        for entry in rows:
            report.entries += 1
            after_id = entry.id
            if entry.stream in broken:
                continue
            seq, prev = last.get(entry.stream, (0, GENESIS))
            where = f"audit entry {entry.id} (stream {entry.stream}, seq {entry.seq})"
            problem = None
            if entry.seq != seq + 1:
                problem = f"{where}: expected seq {seq + 1} — an entry is missing or was inserted"
            elif entry.prev_hash != prev:
                problem = f"{where}: prev_hash does not match entry seq {seq}'s hash"
            else:
                recomputed = compute_hash(prev, stream=entry.stream, seq=entry.seq, operator_id=entry.operator_id,
                                          action=entry.action, target_type=entry.target_type,
                                          target_id=entry.target_id, before=entry.before, after=entry.after,
                                          created_at=entry.created_at)
                if recomputed != entry.entry_hash:
                    problem = f"{where}: content does not match its hash (the row was changed)"
            if problem:
                report.problems.append(problem)
                broken.add(entry.stream)
                continue
            last[entry.stream] = (entry.seq, entry.entry_hash)
            if (entry.stream, entry.seq) in published:
                hash_at[(entry.stream, entry.seq)] = entry.entry_hash
        session.expunge_all()
    report.streams = len(last.keys() | broken)
    for head in session.execute(select(AuditChainHead).order_by(AuditChainHead.stream)).scalars():
        if head.stream in broken:
            continue
        seq, entry_hash = last.get(head.stream, (0, GENESIS))
        if (head.seq, head.entry_hash) != (seq, entry_hash):
            report.problems.append(f"stream {head.stream}: head says seq {head.seq} but the chain ends at seq {seq}"
                                   " — entries were removed or the head was changed")
    for (stream, seq), head in sorted(published.items()):
        if stream in broken:
            continue
        report.published_checked += 1
        if hash_at.get((stream, seq)) != head.entry_hash:
            report.problems.append(f"stream {stream}: the head published on {head.day} (seq {seq}) no longer "
                                   "matches the log — it was rewritten after publication")
    return report


def publish_heads(session: Session, now: dt.datetime) -> int:
    """Record today's head of every stream that moved since its last publication (set-based;
    running twice on a day adds nothing)."""
    day = china_date(now)
    published = AuditPublishedHead
    already = select(published.id).where(
        published.stream == AuditChainHead.stream,
        or_(published.seq == AuditChainHead.seq, published.day == day)).exists()
    with atomic(session):
        return session.execute(insert(published).from_select(
            ["stream", "day", "seq", "entry_hash", "published_at"],
            select(AuditChainHead.stream, literal(day, Date()), AuditChainHead.seq, AuditChainHead.entry_hash,
                   literal(now, UTCDateTime())).where(AuditChainHead.seq > 0, ~already),
        )).rowcount


def published_heads(session: Session, *, limit: int = 200, stream: str | None = None) -> list[AuditPublishedHead]:
    query = select(AuditPublishedHead).order_by(AuditPublishedHead.id.desc()).limit(limit)
    if stream:
        query = query.where(AuditPublishedHead.stream == stream)
    return list(session.execute(query).scalars())
