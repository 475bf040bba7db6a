"""Fixtures: databases (SQLite and PostgreSQL, migrated by Alembic), the WeChat emulator over real
HTTP, and the app/client/runner trio of the Flask tutorial (the app with a frozen clock on a clean
database with the plan catalogue loaded). Helpers live in tests/support (import from `tests.support`).

PostgreSQL and Redis: with CI=true an unreachable server is a failure, never a skip.
TEST_DATABASE_URL / TEST_REDIS_URL point a developer's run at other servers or databases."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.container import container_of
from app.extensions import db
from app.services.clock import FrozenClock
from tests.support.environment import (IN_CI, PG_URL, REDIS_URL, START, ensure_database, migrate, running_app,
                                       unreachable)
from tests.support.fixtures import alice, bob  # noqa: F401 - fixtures for every test


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
    if state.pay is not None:
        state.pay.set_merchant_balance(None)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    engine = sa.create_engine(PG_URL)
    try:
        ensure_database(PG_URL)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    except sa.exc.OperationalError as exc:
        unreachable(f"PostgreSQL at {PG_URL}", exc)
    finally:
        engine.dispose()
    migrate(PG_URL)
    return PG_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        unreachable(f"Redis at {REDIS_URL}", exc)
    client.flushdb()
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """Database tests run on both backends (tests marked `no_database` once, on SQLite)."""
    return request.getfixturevalue(f"{request.param}_url")


def pytest_configure(config):
    config.addinivalue_line("markers", "no_database: the test's own steps run no SQL (the app needs a database "
                                       "to start): it runs once, on SQLite, and fails if it runs any SQL")


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc):
    if "db_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("no_database"):
        # As a marker, before pytest reads the markers: db_url's own params are then not used.
        metafunc.definition.add_marker(pytest.mark.parametrize("db_url", ["sqlite"], indirect=True))


@pytest.fixture(autouse=True)
def no_sql_unless_allowed(request):
    """A `no_database` test that runs SQL (after the app's setup) fails: the mark cannot lie."""
    if request.node.get_closest_marker("no_database") is None:
        yield
        return
    request.getfixturevalue("app")  # its setup (clean database, catalogue) comes first
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    yield
    sa.event.remove(engine, "before_cursor_execute", record)
    assert not statements, f"marked no_database but ran SQL: {statements[:3]}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


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
def runner(app):
    """The app's CLI, as `flask ...` runs it."""
    return app.test_cli_runner()


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
