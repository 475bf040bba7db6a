"""HTTP ↔ service translation. Every blueprint lives under /api/v1."""
from __future__ import annotations

import importlib

from flask import Flask, jsonify, request

from werkzeug.routing import IntegerConverter

from .errors import register_error_handlers
from .input_guard import register_input_guard
from .schemas import MAX_ID


# One module per feature, each exporting `blp` (a flask_smorest.Blueprint). One line each.
BLUEPRINT_MODULES = [
    "app.api.auth",
    "app.api.plans",
    "app.api.memberships",
    "app.api.payments",
    "app.api.claims",
    "app.api.announcements",
    "app.api.admin",
    "app.api.subscriptions",
    "app.api.invites",
    "app.api.groups",
    "app.api.apportionment",
    "app.api.health",
    "app.api.privacy",
    "app.api.transparency",
    "app.api.reports",
    "app.api.reconciliation",
    "app.api.proposals",
    "app.api.wind_down",
]


class IdConverter(IntegerConverter):
    """`<int:id>` bounded to BIGINT: a larger number is a 404 like any id that names nothing."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def register_converters(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter


def register_blueprints(app: Flask, api) -> None:
    from .request_ids import register_request_ids

    register_request_ids(app)  # first: every other hook's log lines carry the id
    for name in BLUEPRINT_MODULES:
        api.register_blueprint(importlib.import_module(name).blp)
    register_error_handlers(app)

    @app.before_request
    def limit_json_bodies():
        # Uploads are multipart and bounded by MAX_CONTENT_LENGTH; JSON bodies are small.
        if not (request.mimetype or "").startswith("multipart/"):
            request.max_content_length = app.config["MAX_JSON_BODY_BYTES"]

    register_input_guard(app)  # after the body limit: it reads the body

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})
