"""Probes for the orchestrator: `/livez` (the process answers) and `/readyz` (it can do its work:
PostgreSQL and Redis reachable, the database's migrations at the code's head)."""
from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.extensions import db

from .errors import envelope
from .error_docs import errors

log = logging.getLogger(__name__)

blp = Blueprint("health", __name__, url_prefix="/", description="Liveness and readiness probes")

PROBE_TIMEOUT_SECONDS = 2
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


class LiveOut(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class ReadyOut(Schema):
    status = fields.String(required=True, metadata={"example": "ready"})
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                         metadata={"example": {"database": "ok", "migrations": "ok", "redis": "ok"}})


@blp.route("livez", methods=["GET"])
@blp.response(200, LiveOut)
def livez():
    """The process is up and answering (nothing else is checked: restarting it would not help)."""
    return {"status": "ok"}


def _head_revisions() -> set[str]:
    """The code's migration heads, read once per app from migrations/."""
    cache = current_app.extensions.setdefault("yiqi_migration_heads", {})
    if "heads" not in cache:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        cache["heads"] = set(ScriptDirectory.from_config(config).get_heads())
    return cache["heads"]


def _check_database() -> tuple[str, str]:
    """(database, migrations) states; a failure names its kind only (URLs carry passwords)."""
    from alembic.runtime.migration import MigrationContext

    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        log.warning("readiness: database unreachable: %s", type(error).__name__)
        return f"unreachable ({type(error).__name__})", "unknown"
    heads = _head_revisions()
    if current == heads:
        return "ok", "ok"
    return "ok", f"not at head (database: {', '.join(sorted(current)) or 'none'}; code: {', '.join(sorted(heads))})"


def _check_redis() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "not configured"  # the embedded default: jobs inline, nothing to reach
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
                                  socket_timeout=PROBE_TIMEOUT_SECONDS)
    try:
        client.ping()
    except redis.RedisError as error:
        log.warning("readiness: redis unreachable: %s", type(error).__name__)
        return f"unreachable ({type(error).__name__})"
    finally:
        client.close()
    return "ok"


@blp.route("readyz", methods=["GET"])
@blp.response(200, ReadyOut)
@errors("not_ready")
def readyz():
    """PostgreSQL and Redis reachable and migrations at head; otherwise 503 naming what is down."""
    database, migrations = _check_database()
    checks = {"database": database, "migrations": migrations, "redis": _check_redis()}
    down = sorted(name for name, state in checks.items() if state not in ("ok", "not configured"))
    if down:
        return envelope(503, "not_ready", "服务暂不可用：" + "、".join(down),
                        {"checks": checks, "down": down})
    return {"status": "ready", "checks": checks}
