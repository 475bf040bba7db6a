"""HTTP ↔ service translation. Every blueprint lives under /api/v1."""
from __future__ import annotations

from flask import Flask, jsonify, request

from .errors import register_error_handlers


def register_blueprints(app: Flask, api) -> None:
    from . import auth, memberships, plans

    for module in (auth, plans, memberships):
        api.register_blueprint(module.blp)
    register_error_handlers(app)

    @app.before_request
    def limit_json_bodies():
        # Uploads are multipart and bounded by MAX_CONTENT_LENGTH; JSON bodies are small.
        if not (request.mimetype or "").startswith("multipart/"):
            request.max_content_length = app.config["MAX_JSON_BODY_BYTES"]

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})
