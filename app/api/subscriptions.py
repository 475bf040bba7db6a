"""Subscribe-message consent: what wx.requestSubscribeMessage accepted becomes sends we may make."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from app.extensions import db
from app.services import subscriptions

from .error_docs import errors
from .subscriptions_schemas import ConsentIn, SubscriptionsOut
from .schemas import ErrorEnvelope
from .security import BEARER, member_required, services

blp = Blueprint("subscriptions", __name__, url_prefix="/api/v1/subscriptions",
                description="Subscribe-message templates and the user's remaining sends")


def _listing(quotas: dict[str, int]) -> dict:
    return {"items": [{"key": t.key, "template_id": t.id, "title": t.title, "remaining": quotas.get(t.key, 0)}
                      for t in services().subscribe_templates.values()]}


@blp.route("", methods=["GET"])
@member_required
@blp.response(200, SubscriptionsOut)
@blp.doc(security=BEARER)
def list_templates():
    return _listing(subscriptions.quotas_of(db.session, g.user_id))


@blp.route("", methods=["POST"])
@member_required
@blp.arguments(ConsentIn)
@blp.response(200, SubscriptionsOut)
@blp.alt_response(400, schema=ErrorEnvelope, description="an unknown template")
@blp.doc(security=BEARER)
@errors("unknown_template")
def accept(body):
    """Each accepted template allows one more message of it (WeChat's rule)."""
    container = services()
    quotas = subscriptions.consent(db.session, container.subscribe_templates, user_id=g.user_id,
                                   accepted=body["accepted"], now=container.clock.now())
    return _listing(quotas)
