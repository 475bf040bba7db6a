"""The application factory. It never creates tables: `flask db upgrade` does (Alembic)."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import BaseConfig, load_config

from .container import Container, container_of, install
from .extensions import EnvelopeApi, db, migrate


def _fill_wechat_settings_from_dev_keys(app: Flask) -> None:
    """Development and tests talk to the local emulator with locally generated keys."""
    keys_dir = app.config.get("WECHAT_KEYS_DIR")
    if not keys_dir or app.config.get("WECHAT_APPID"):
        return
    from wechat.keys import generate_dev_keys, load_keys

    generate_dev_keys(keys_dir)
    keys = load_keys(keys_dir)
    app.config.update(
        WECHAT_APPID=keys.appid,
        WECHAT_SECRET=keys.secret,
        WECHAT_PAY_MCHID=keys.mchid,
        WECHAT_PAY_MERCHANT_SERIAL=keys.merchant_serial,
        WECHAT_PAY_MERCHANT_KEY_PEM=keys.merchant_private_key,
        WECHAT_PAY_APIV3_KEY=keys.apiv3_key,
        WECHAT_PAY_PLATFORM_PUBLIC_KEY_PEM=keys.platform_public_key,
        WECHAT_PAY_PLATFORM_PUBLIC_KEY_ID=keys.platform_public_key_id,
    )


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):  # pragma: no cover - trivial
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def create_app(config: BaseConfig | dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    if config is None:
        config = load_config()
    app.config.update(config.as_dict() if isinstance(config, BaseConfig) else config)
    if app.config.get("SQLALCHEMY_DATABASE_URI", "").startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    _fill_wechat_settings_from_dev_keys(app)
    app.json.ensure_ascii = False  # Chinese messages readable on the wire
    logging.getLogger("wechatpy").setLevel(logging.WARNING)

    from .api import register_converters

    register_converters(app)  # before any route is added
    db.init_app(app)
    if app.config.get("DB_PING_IDLE_SECONDS") is not None and not app.config["SQLALCHEMY_DATABASE_URI"].startswith(
            "sqlite") and not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping"):
        from .db_pool import ping_idle_connections

        with app.app_context():
            ping_idle_connections(db.engine, app.config["DB_PING_IDLE_SECONDS"])
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"), compare_type=True)
    # One Api per app: the OpenAPI document belongs to the app, not to the process.
    from .api.error_docs import ErrorCodesPlugin

    api = EnvelopeApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer"},
    }}, "extra_plugins": [ErrorCodesPlugin()]})
    install(app, Container(config=app.config))

    from .api import register_blueprints

    from .api.rate_limits import init_rate_limits

    init_rate_limits(app)
    register_blueprints(app, api)
    from .console import init_console

    init_console(app)
    from . import metrics

    metrics.init_app(app)
    if app.config.get("PROXY_FIX_X_FOR"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"])
    from .cli import register_cli

    register_cli(app)
    if app.config.get("PII_KEY_CHECK_ON_START"):
        _check_pii_keys(app)
    return app


def _check_pii_keys(app: Flask) -> None:
    """Production: refuse to start when stored data references a PII key that is not configured."""
    from config import ConfigError

    from .services.pii_rotation import MissingKey, check_configured_keys

    services = container_of(app)
    with app.app_context():
        try:
            check_configured_keys(db.session, services.pii, services.clock.now())
        except MissingKey as exc:
            raise ConfigError(str(exc)) from None
        finally:
            db.session.remove()
