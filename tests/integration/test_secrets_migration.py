"""Migration 0021 on a database with memberships from before join created secrets (SQLite file):
each gets a 32-byte random secret, one that had a secret keeps it, and it is safe to run again."""
import datetime as dt

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import MembershipSecret
from app.services.plans import load_catalogue
from tests.support import add_members, app_config, make_user

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc)


def _secrets() -> dict[int, bytes]:
    return {m: bytes(s) for m, s in db.session.execute(
        sa.select(MembershipSecret.membership_id, MembershipSecret.secret))}


def test_memberships_without_a_secret_get_one(tmp_path):
    from flask_migrate import downgrade, upgrade

    app = create_app(app_config(f"sqlite:///{tmp_path / 'old.sqlite3'}", None, None))
    with app.app_context():
        upgrade()
        load_catalogue(db.session, app.config["PLANS_FILE"], NOW)
        ids = add_members(db.session, make_user(db.session, NOW), "adult_789", [100] * 5, NOW)
        kept = _secrets()[ids[2]]
        # as before 0021: memberships had no secret until their first run settled
        downgrade(revision="0020")
        db.session.execute(sa.delete(MembershipSecret).where(MembershipSecret.membership_id != ids[2]))
        db.session.commit()
        assert set(_secrets()) == {ids[2]}
        upgrade()
        after = _secrets()
        assert set(after) == set(ids) and after[ids[2]] == kept
        assert all(len(s) == 32 for s in after.values()) and len(set(after.values())) == 5
        downgrade(revision="0020")
        upgrade()  # again: nothing to do, nothing changes
        assert _secrets() == after
        db.session.remove()
        db.engine.dispose()
