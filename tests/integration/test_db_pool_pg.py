"""app/db_pool.py on PostgreSQL: a pooled connection is pinged only after sitting idle, a dead idle one
is replaced before use, and the app's engine uses it instead of a ping per checkout."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db_pool import ping_idle_connections
from app.extensions import db


@pytest.fixture
def engine(postgresql_url):
    engine = sa.create_engine(postgresql_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _pings(engine, monkeypatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(postgresql_url, pid: int) -> None:
    other = sa.create_engine(postgresql_url, poolclass=sa.pool.NullPool)
    with other.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    other.dispose()


def test_a_connection_back_moments_ago_is_not_pinged_an_idle_one_is(engine, monkeypatch):
    pings = _pings(engine, monkeypatch)
    ping_idle_connections(engine, idle_seconds=3600)
    first = _backend_pid(engine)  # a new connection: not pinged
    assert _backend_pid(engine) == first and pings == []  # back from its use moments ago: not pinged
    engine.dispose()
    ping_idle_connections(engine, idle_seconds=0)  # now every return counts as idle
    _backend_pid(engine)
    assert _backend_pid(engine) and len(pings) == 1


def test_a_dead_idle_connection_is_replaced_before_use(engine, postgresql_url):
    ping_idle_connections(engine, idle_seconds=0)
    dead = _backend_pid(engine)
    _terminate(postgresql_url, dead)
    assert _backend_pid(engine) != dead  # the ping found it dead; the pool connected again


def test_a_dead_busy_connection_fails_one_use_then_the_pool_is_renewed(engine, postgresql_url):
    """The trade-off, stated in app/db_pool.py: within the idle period there is no ping."""
    ping_idle_connections(engine, idle_seconds=3600)
    dead = _backend_pid(engine)
    _terminate(postgresql_url, dead)
    with pytest.raises(sa.exc.OperationalError):
        _backend_pid(engine)
    assert _backend_pid(engine) != dead


def test_the_app_pings_idle_connections_not_every_checkout(app, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite: no pool to ping")
    assert app.config["DB_PING_IDLE_SECONDS"] == 5.0
    assert not db.engine.pool._pre_ping
    assert len(db.engine.pool.dispatch.checkout) >= 1 and len(db.engine.pool.dispatch.checkin) >= 1
