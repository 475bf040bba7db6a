"""Apportionment views: a plan's runs (public) and a member's deductions."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from app.extensions import db
from app.services import apportionment as service
from app.services import memberships as membership_service

from .error_docs import errors
from .apportionment_schemas import DeductionList, DeductionQuery, RunList, RunOut, RunQuery
from .pagination import cursor
from .schemas import ErrorEnvelope
from .security import BEARER, member_required

blp = Blueprint("apportionment", __name__, url_prefix="/api/v1",
                description="Pooled-deduction runs and the deductions each member paid")


@blp.route("/plans/<string:code>/runs", methods=["GET"])
@blp.arguments(RunQuery, location="query")
@blp.response(200, RunList)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("plan_not_found")
def list_runs(query, code):
    """A plan's published and executed runs, newest first, pages of `limit` by keyset (follow next_cursor)."""
    after = query.get("cursor")
    page = service.public_runs(db.session, code, limit=query["limit"] + 1, before_id=after[0] if after else None)
    more, page = len(page) > query["limit"], page[:query["limit"]]
    return {"items": page, "next_cursor": cursor(page[-1]["id"]) if more else None}


@blp.route("/plans/<string:code>/runs/<int:run_id>", methods=["GET"])
@blp.response(200, RunOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("plan_not_found", "run_not_found")
def get_run(code, run_id):
    """One run with its anonymised cases."""
    return service.public_run(db.session, code, run_id)


@blp.route("/memberships/<int:membership_id>/deductions", methods=["GET"])
@member_required
@blp.arguments(DeductionQuery, location="query")
@blp.response(200, DeductionList)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("membership_not_found")
def list_deductions(query, membership_id):
    """Each run this membership paid, the share, and the cases it funded with each one's part."""
    membership_service.get_for_user(db.session, g.user_id, membership_id)  # someone else's: 404
    return {"items": service.deductions(db.session, membership_id, limit=query["limit"])}
