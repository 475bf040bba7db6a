"""Dead pooled connections found before use, without a round trip per request.

SQLAlchemy's pool_pre_ping sends `SELECT 1` on every checkout: on the member page (GET
/memberships/{id}) that was one of two round trips, as long as the query itself on a busy box
(bench/profile_api.py). Here a connection is pinged only when it comes back to a request after sitting
in the pool longer than DB_PING_IDLE_SECONDS: idle connections are the ones a database restart,
PgBouncer's or a firewall's idle timeout kill unnoticed. A connection returned moments ago by a
request that used it is handed out as is. If the database restarts within those seconds, the first
request on such a connection fails and SQLAlchemy invalidates the whole pool (every connection older
than the failure is replaced at its next checkout) — the same failure requests in flight during the
restart see in any case. A dead connection found by the ping is replaced before the request gets it
(DisconnectionError: the pool retries with a new connection)."""
from __future__ import annotations

import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

_RETURNED_AT = "yiqi_returned_at"


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def returned(dbapi_connection, record):
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def handed_out(dbapi_connection, record, proxy):
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return  # just connected (record.info starts empty), or back from a request moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError("pooled connection found dead by its ping") from error
            raise
