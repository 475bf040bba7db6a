"""Migration 0012 on a database with history (SQLite file): existing operator audit entries are
chained in id order, per stream, and verify; keys already in use are registered as v1; and it
downgrades cleanly."""
import datetime as dt

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.services import operators
from app.services.audit_chain import verify
from app.services.unit_of_work import atomic
from tests.support import app_config

ENTRIES = [("operator", 1), ("claim", 5), ("claim", 5), ("operator", None), ("claim", 6)]


def test_existing_audit_entries_are_chained_and_verify(tmp_path):
    from flask_migrate import downgrade, upgrade

    app = create_app(app_config(f"sqlite:///{tmp_path / 'old.sqlite3'}", None, None))
    with app.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO users (openid, invite_code, created_at, last_login_at) "
                                 "VALUES ('o1', 'i1', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
            for i, (target_type, target_id) in enumerate(ENTRIES):
                conn.execute(sa.text(
                    "INSERT INTO operator_audit_log (operator_id, action, target_type, target_id, before, after, "
                    "created_at) VALUES (NULL, 'claim.reviewed', :t, :id, :b, :a, :at)"),
                    {"t": target_type, "id": target_id, "b": '{"status": "submitted"}',
                     "a": f'{{"amount_fen": {i}, "person": "张*"}}', "at": f"2026-01-01 03:0{i}:07.123456"})
        upgrade()
        rows = db.session.execute(sa.text("SELECT stream, seq FROM operator_audit_log ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("global", 1), ("claim:5", 1), ("claim:5", 2), ("global", 2),
                                            ("claim:6", 1)]
        report = verify(db.session)
        assert report.ok and (report.entries, report.streams) == (5, 3)
        assert db.session.execute(sa.text("SELECT kind, key_id FROM pii_keys ORDER BY kind")).all() == [
            ("encryption", "v1"), ("hash", "v1")]
        with atomic(db.session):  # new entries continue the migrated chains
            operators.record_audit(db.session, operator_id=None, action="claim.assigned", target_type="claim",
                                   target_id=5, now=dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc))
        assert verify(db.session).ok
        db.session.remove()
        downgrade(revision="0007")
        assert "consents" not in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()
