"""The servers and the app under test: where PostgreSQL and Redis are, the app's test configuration,
a clean migrated database, and the app on it with a frozen clock.

PostgreSQL and Redis: with CI=true an unreachable server is a failure, never a skip.
TEST_DATABASE_URL / TEST_REDIS_URL point a developer's run at other servers or databases."""
from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from app import create_app
from app.container import container_of
from app.extensions import db
from app.models import Base
from app.services.clock import FrozenClock
from config import TestingConfig

IN_CI = os.environ.get("CI", "").lower() == "true"
# Under pytest-xdist (`make test` runs `pytest -n 2`) each worker gets a database and a Redis db of its
# own: the suite truncates tables and flushes Redis between tests, so workers must not share them.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", … or "" in one process


def _per_worker_database(url: str) -> str:
    if not XDIST_WORKER:
        return url
    parsed = sa.engine.make_url(url)
    return parsed.set(database=f"{parsed.database}_{XDIST_WORKER}").render_as_string(hide_password=False)


def _per_worker_redis(url: str) -> str:
    if not XDIST_WORKER:
        return url
    parsed = urlsplit(url)
    number = int(parsed.path.strip("/") or 0) - int(XDIST_WORKER.removeprefix("gw"))  # 14, 13, … (16 dbs)
    return urlunsplit(parsed._replace(path=f"/{number}"))


PG_URL = _per_worker_database(os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
REDIS_URL = _per_worker_redis(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14"))
START = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.timezone.utc)


def unreachable(what: str, error: Exception):
    """A server or library the test needs is missing: a failure in CI, a skip on a developer's machine."""
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(message)


def app_config(url: str, keys_dir=None, emulator_url=None) -> dict:
    """The testing configuration on the database at `url`, with WeChat at the emulator when given."""
    cfg = TestingConfig().as_dict()
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    if keys_dir is not None:
        cfg["WECHAT_KEYS_DIR"] = str(keys_dir)
    if emulator_url is not None:
        cfg["WECHAT_API_BASE"] = emulator_url
        cfg["WECHAT_PAY_GATEWAY"] = emulator_url.rstrip("/")
    return cfg


def ensure_database(url: str) -> None:
    """PostgreSQL: the database at `url` exists (a worker's own is created on its first run)."""
    parsed = sa.engine.make_url(url)
    name = parsed.database
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def migrate(url: str) -> None:
    """The database at `url` upgraded to the migrations' head (create_app never creates tables)."""
    app = create_app(app_config(url))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()


def clean_database(engine: sa.Engine) -> None:
    """Every row gone, identities restarted; the schema (and alembic_version) kept."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    extra = [n for n in sa.inspect(engine).get_table_names() if n not in tables and n != "alembic_version"]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables + extra)} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(sa.text("PRAGMA foreign_keys=OFF"))
            # Postings first: an account with postings refuses DELETE (trigger accounts_permanent, 0020).
            for name in ["postings"] + [n for n in extra + tables if n != "postings"]:
                conn.execute(sa.text(f"DELETE FROM {name}"))
            if sa.inspect(conn).has_table("sqlite_sequence"):
                conn.execute(sa.text("DELETE FROM sqlite_sequence"))
            conn.execute(sa.text("PRAGMA foreign_keys=ON"))


def load_plans(application, session, now: dt.datetime) -> None:
    from app.services.plans import load_catalogue

    load_catalogue(session, application.config["PLANS_FILE"], now)


@contextmanager
def running_app(url: str, keys_dir, emulator_url: str, clock: FrozenClock, **settings):
    """The app on a clean, migrated database at `url` with the plan catalogue loaded."""
    application = create_app(app_config(url, keys_dir, emulator_url))
    application.config.update(settings)
    container_of(application).override(clock=clock)
    with application.app_context():
        clean_database(db.engine)
        load_plans(application, db.session, clock.now())
        db.session.remove()
        yield application
        db.session.remove()
        db.engine.dispose()


def reset_database(app, session, clock) -> None:
    """An empty database with the catalogue loaded: each hypothesis example starts afresh."""
    session.remove()  # an idle transaction would block TRUNCATE on PostgreSQL
    clean_database(db.engine)
    load_plans(app, session, clock.now())
