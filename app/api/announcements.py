"""Public announcements (公示) of approved cases, anonymised, and members' objections."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from app.extensions import db
from app.services import claims as claim_service

from .error_docs import errors
from .claims_schemas import AnnouncementList, AnnouncementOut, AnnouncementQuery, ObjectionIn, ObjectionOut
from .pagination import cursor, from_timestamp_key, timestamp_key
from .public_cache import cached_public_json
from .rate_limits import by_member, rate_limited
from .schemas import ErrorEnvelope
from .security import BEARER, member_required, services

blp = Blueprint("announcements", __name__, url_prefix="/api/v1/announcements",
                description="Public, anonymised announcements of approved cases")


def announcement_out(a: claim_service.Announcement) -> dict:
    """Only what the public may see: never the full name, ID number, phone, hospital or documents."""
    c = a.claim
    return {
        "id": c.id, "plan_code": a.plan_code, "plan_name": a.plan_name, "person": a.person_name_masked,
        "age_years": a.age_years, "sex": a.sex, "incident_type": c.incident_type, "illness": c.diagnosis,
        "hospital_city": c.city, "approved_aid_fen": c.approved_aid_fen, "organisation": a.organisation,
        "investigation_summary": c.investigation_summary, "status": c.status,
        "publicity_started_at": c.publicity_started_at, "publicity_ends_at": c.publicity_ends_at,
        "objections": a.objections,
    }


@blp.route("", methods=["GET"])
@blp.arguments(AnnouncementQuery, location="query")
@blp.response(200, AnnouncementList)
def list_announcements(query):
    """Newest first, pages of `limit` (100 at most) by keyset: follow next_cursor until it is null.
    The first page of all plans (what the mini-program opens) is cached like the home page."""
    def build():
        after = query.get("cursor")
        page = claim_service.list_announcements(
            db.session, query.get("plan_code"), limit=query["limit"] + 1,
            after=(from_timestamp_key(after[0]), after[1]) if after else None)
        more, page = len(page) > query["limit"], page[:query["limit"]]
        last = page[-1].claim if page else None
        return {"items": [announcement_out(a) for a in page],
                "next_cursor": cursor(timestamp_key(last.publicity_started_at), last.id) if more else None}

    if query.get("cursor") is None and query.get("plan_code") is None:  # a bounded set of keys: limit 1..100
        return cached_public_json(f"announcements:{query['limit']}", AnnouncementList, build)
    return build()


@blp.route("/<int:claim_id>", methods=["GET"])
@blp.response(200, AnnouncementOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("announcement_not_found")
def get_announcement(claim_id):
    return announcement_out(claim_service.get_announcement(db.session, claim_id))


@blp.route("/<int:claim_id>/objections", methods=["POST"])
@member_required
@rate_limited(blp, "RATELIMIT_OBJECTION", by_member, "objection")
@blp.arguments(ObjectionIn)
@blp.response(201, ObjectionOut)
@blp.alt_response(403, schema=ErrorEnvelope, description="not a member of the same plan, or the claimant")
@blp.alt_response(409, schema=ErrorEnvelope, description="already objected, or publicity over")
@blp.doc(security=BEARER)
@errors("announcement_not_found", "not_plan_member", "objection_by_claimant", "objection_exists",
        "objection_reason_invalid", "publicity_over")
def object_to(body, claim_id):
    """Object to a case in publicity (once per member per case), with a reason."""
    return claim_service.object_to(db.session, user_id=g.user_id, claim_id=claim_id, reason=body["reason"],
                                   now=services().clock.now())
