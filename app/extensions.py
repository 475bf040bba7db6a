"""Extensions, created unbound and bound to an app by create_app."""
from __future__ import annotations

from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy

from app.models import Base

db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()


class EnvelopeApi(Api):
    """flask-smorest with our one JSON error envelope (see app.api.errors), documented as such."""

    def _register_responses(self):
        # The OpenAPI document must describe the body we send: {"error": {code, message, details}}.
        from app.api.schemas import ErrorEnvelope

        self.ERROR_SCHEMA = ErrorEnvelope
        super()._register_responses()

    def handle_http_exception(self, error):
        from app.api.errors import http_error_response

        return http_error_response(error)

