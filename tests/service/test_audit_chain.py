"""The operator audit log's hash chains (both databases): verified, a changed, removed or rewritten
entry named by `flask audit verify`, daily published heads; on PostgreSQL concurrent appends to
one stream never fork it."""
import datetime as dt
import json
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditChainHead, OperatorAuditEntry
from app.services import audit_chain, operators
from app.services.unit_of_work import atomic


def append(clock, action, target_type="operator", target_id=None, **after):
    with atomic(db.session):
        operators.record_audit(db.session, operator_id=None, action=action, target_type=target_type,
                               target_id=target_id, after=after, now=clock.now())
    clock.advance(seconds=1)


def tamper(sql, **params):
    """What a database administrator could do behind the application's back (on PostgreSQL the
    append-only trigger has to be switched off first)."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(sql), params)


def cli_verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


@pytest.fixture
def log(app, clock):
    append(clock, "operator.created", target_id=1, roles=["reviewer"])
    append(clock, "claim.reviewed", "claim", 7, status="under_review")
    append(clock, "operator.login", target_id=1)
    append(clock, "claim.assigned", "claim", 7, organisation_id=3)
    append(clock, "claim.reviewed", "claim", 8, status="under_review")
    return {e.action + str(e.target_id): e.id for e in db.session.execute(sa.select(OperatorAuditEntry)).scalars()}


def test_entries_chain_per_stream(app, log):
    rows = db.session.execute(sa.select(OperatorAuditEntry).order_by(OperatorAuditEntry.id)).scalars().all()
    assert [(r.stream, r.seq) for r in rows] == [("global", 1), ("claim:7", 1), ("global", 2), ("claim:7", 2),
                                                 ("claim:8", 1)]
    assert rows[0].prev_hash == audit_chain.GENESIS and rows[2].prev_hash == rows[0].entry_hash
    assert rows[3].prev_hash == rows[1].entry_hash
    heads = dict(db.session.execute(sa.select(AuditChainHead.stream, AuditChainHead.seq)).all())
    assert heads == {"global": 2, "claim:7": 2, "claim:8": 1}
    result = cli_verify(app)
    assert result.exit_code == 0 and "checked 5 entries in 3 streams" in result.output


def test_a_changed_entry_is_named(app, log):
    changed = log["claim.assigned7"]
    tamper("UPDATE operator_audit_log SET after = :a WHERE id = :id", a='{"organisation_id": 4}', id=changed)
    result = cli_verify(app)
    assert result.exit_code == 1
    assert f"audit entry {changed} (stream claim:7, seq 2): content does not match its hash" in result.output


def test_a_removed_entry_and_a_removed_tail_are_named(app, log):
    tamper("DELETE FROM operator_audit_log WHERE id = :id", id=log["claim.reviewed7"])
    report = audit_chain.verify(db.session)
    assert report.problems[0] == (f"audit entry {log['claim.assigned7']} (stream claim:7, seq 2): expected seq 1 — "
                                  "an entry is missing or was inserted")
    tamper("DELETE FROM operator_audit_log WHERE id = :id", id=log["operator.login1"])
    report = audit_chain.verify(db.session)
    assert "stream global: head says seq 2 but the chain ends at seq 1" in report.problems[-1]


def test_a_consistent_rewrite_disagrees_with_the_published_head(app, log, clock):
    assert audit_chain.publish_heads(db.session, clock.now()) == 3
    assert audit_chain.publish_heads(db.session, clock.now()) == 0  # once a day
    published = app.test_client().get("/api/v1/audit/heads?stream=global").get_json()["items"]
    assert [(h["stream"], h["seq"]) for h in published] == [("global", 2)]
    # Rewrite the global stream's first entry and recompute every later hash and the head: the chain
    # itself is consistent again, but the head shown yesterday is not.
    rows = db.session.execute(sa.select(OperatorAuditEntry).where(OperatorAuditEntry.stream == "global")
                              .order_by(OperatorAuditEntry.seq)).scalars().all()
    prev = audit_chain.GENESIS
    for row in rows:
        after = {"roles": ["finance"]} if row.seq == 1 else row.after
        new_hash = audit_chain.compute_hash(prev, stream=row.stream, seq=row.seq, operator_id=row.operator_id,
                                            action=row.action, target_type=row.target_type, target_id=row.target_id,
                                            before=row.before, after=after, created_at=row.created_at)
        tamper("UPDATE operator_audit_log SET after = :a, prev_hash = :p, entry_hash = :h WHERE id = :id",
               a=json.dumps(after), p=prev, h=new_hash, id=row.id)
        prev = new_hash
    tamper("UPDATE audit_chain_heads SET entry_hash = :h WHERE stream = 'global'", h=prev)
    db.session.expire_all()
    result = cli_verify(app)
    assert result.exit_code == 1
    assert "stream global: the head published on" in result.output and "rewritten after publication" in result.output


def test_the_scheduler_publishes_heads_daily(app, log, clock, runner):
    from app.jobs.schedule import TASKS

    names = {t.name: t.every for t in TASKS}
    assert names["audit.publish_heads"] == dt.timedelta(days=1) and names["privacy.retention"] == dt.timedelta(days=1)
    result = runner.invoke(args=["audit", "publish-heads", "--at", clock.now().isoformat()])
    assert "heads published: 3" in result.output


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_appends_to_one_stream_never_fork(app, db_url, clock):
    engine = sa.create_engine(db_url, pool_size=8)
    start = threading.Barrier(8)
    errors = []

    def worker(n):
        try:
            with Session(engine) as s, atomic(s):
                start.wait()
                audit_chain.append(s, operator_id=None, action="claim.reviewed", target_type="claim", target_id=42,
                                   after={"n": n}, now=clock.now())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert errors == []
    seqs = db.session.execute(sa.select(OperatorAuditEntry.seq).where(OperatorAuditEntry.stream == "claim:42")
                              .order_by(OperatorAuditEntry.id)).scalars().all()
    assert seqs == list(range(1, 9))
    assert audit_chain.verify(db.session).ok
