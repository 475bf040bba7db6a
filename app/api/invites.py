"""Invites: the user's code, share path, how many joined through it, and the mini-program code."""
from __future__ import annotations

from flask import Response, g
from flask_smorest import Blueprint

from app.extensions import db
from app.services import invites

from .error_docs import errors
from .invites_schemas import InviteOut
from .schemas import ErrorEnvelope
from .security import BEARER, member_required, services

blp = Blueprint("invites", __name__, url_prefix="/api/v1/invites", description="Invite links and codes")


@blp.route("/me", methods=["GET"])
@member_required
@blp.response(200, InviteOut)
@blp.doc(security=BEARER)
def mine():
    return vars(invites.summary(db.session, g.user_id))


@blp.route("/me/qrcode", methods=["GET"])
@member_required
@blp.alt_response(503, schema=ErrorEnvelope, description="WeChat could not make the code now")
@blp.doc(security=BEARER, responses={"200": {"description": "PNG", "content": {"image/png": {}}}})
@errors("qrcode_unavailable")
def my_qrcode():
    """A mini-program code (getUnlimited; scene = the invite code), made once and cached."""
    container = services()
    png = invites.qrcode(db.session, container.mini_program, user_id=g.user_id, now=container.clock.now())
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=86400"})
