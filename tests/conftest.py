"""Fixtures: databases (SQLite and PostgreSQL, migrated by Alembic), the WeChat emulator over
real HTTP, the app with a frozen clock.

PostgreSQL and Redis: with CI=true an unreachable server is a failure, never a skip.
TEST_DATABASE_URL / TEST_REDIS_URL point a developer's run at other servers or databases."""
from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.container import container_of
from app.extensions import db
from app.models import Base
from app.services.clock import FrozenClock
from config import TestingConfig

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
START = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.timezone.utc)


def _unreachable(what: str, error: Exception):
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory) -> Path:
    from wechat.keys import generate_dev_keys

    path = tmp_path_factory.mktemp("wechat-keys")
    generate_dev_keys(path)
    return path


@pytest.fixture(scope="session")
def emulator(keys_dir):
    """A real WeChat emulator on a free port, shared by the session (its state is per-openid)."""
    from wechat.emulator.server import EmulatorServer

    server = EmulatorServer.from_keys_dir(keys_dir, notify_time_scale=0.001)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def emulator_reset(request):
    """After each test that used the emulator: no injected fault left and its clock back to real
    time, so a test that adds faults or moves the clock cannot change a later one's outcome."""
    if "emulator" not in request.fixturenames:
        yield
        return
    # Requested here (already part of the test), so the emulator outlives this fixture's teardown.
    state = request.getfixturevalue("emulator").state
    yield
    with state.lock:
        state.faults.clear()
        state._clock_offset = 0.0  # EmulatorState has advance_clock only; the offset is what it moves


def _migrate(url: str) -> None:
    app = create_app(_config(url, None, None))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()


def _config(url: str, keys_dir, emulator_url) -> dict:
    cfg = TestingConfig().as_dict()
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    if keys_dir is not None:
        cfg["WECHAT_KEYS_DIR"] = str(keys_dir)
    if emulator_url is not None:
        cfg["WECHAT_API_BASE"] = emulator_url
        cfg["WECHAT_PAY_GATEWAY"] = emulator_url.rstrip("/")
    return cfg


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    _migrate(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    engine = sa.create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    except sa.exc.OperationalError as exc:
        _unreachable(f"PostgreSQL at {PG_URL}", exc)
    finally:
        engine.dispose()
    _migrate(PG_URL)
    return PG_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        _unreachable(f"Redis at {REDIS_URL}", exc)
    client.flushdb()
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """Database tests run on both backends."""
    return request.getfixturevalue(f"{request.param}_url")


def clean_database(engine: sa.Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    extra = [n for n in sa.inspect(engine).get_table_names() if n not in tables and n != "alembic_version"]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables + extra)} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(sa.text("PRAGMA foreign_keys=OFF"))
            for name in extra + tables:
                conn.execute(sa.text(f"DELETE FROM {name}"))
            if sa.inspect(conn).has_table("sqlite_sequence"):
                conn.execute(sa.text("DELETE FROM sqlite_sequence"))
            conn.execute(sa.text("PRAGMA foreign_keys=ON"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@contextmanager
def running_app(url: str, keys_dir, emulator_url: str, clock: FrozenClock, **settings):
    """The app on a clean, migrated database at `url` with the plan catalogue loaded."""
    application = create_app(_config(url, keys_dir, emulator_url))
    application.config.update(settings)
    container_of(application).override(clock=clock)
    with application.app_context():
        clean_database(db.engine)
        from app.services.plans import load_catalogue

        load_catalogue(db.session, application.config["PLANS_FILE"], clock.now())
        db.session.remove()
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(db_url, keys_dir, emulator, clock, tmp_path):
    """The app on a clean, migrated database with the plan catalogue loaded."""
    with running_app(db_url, keys_dir, emulator.url, clock,
                     CLAIM_DOCUMENTS_DIR=str(tmp_path / "claim-documents")) as application:
        yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def services(app):
    """The app's Container (app/container.py). The one way a test replaces a collaborator:
    `services.override(pay=fake, clock=clock)` (or `container_of(app).override(...)` where no fixture
    reaches); `override(name=None)` puts the wired one back. App code reaches it with
    `current_services()` in a request, command or job, `container_of(app)` with an app at hand."""
    return container_of(app)


# Hypothesis: random examples on developer machines (finding new cases), the same examples in CI
# (a property failure there is reproducible from the log, never a coin toss on main).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    _hypothesis_settings.load_profile("ci")
