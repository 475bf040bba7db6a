"""Rule-change proposals: public pages with the live tally, and the payer's answer per membership."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from app.extensions import db
from app.services import rule_changes as service

from .error_docs import errors
from .proposals_schemas import AnswerIn, AnswerOut, MemberProposalList, ProposalList, ProposalOut
from .public_cache import cached_public_json
from .schemas import ErrorEnvelope
from .security import BEARER, member_required, services

blp = Blueprint("proposals", __name__, url_prefix="/api/v1",
                description="Rule changes put to the members: differences, consent window, live tally, answers")


@blp.route("/plans/<string:code>/proposals", methods=["GET"])
@blp.response(200, ProposalList)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("plan_not_found")
def plan_proposals(code):
    """The plan's rule-change proposals, newest first, each with its tally (live while the window is
    open, at most PUBLIC_CACHE_SECONDS old). Cacheable: ETag, Cache-Control: public."""
    return cached_public_json(f"proposals:{code}", ProposalList,
                              lambda: {"items": service.for_plan(db.session, code)})


@blp.route("/proposals/<int:proposal_id>", methods=["GET"])
@blp.response(200, ProposalOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("not_found")
def get_proposal(proposal_id):
    """One proposal: the differences in plain words, the window, the quorum and the tally."""
    return cached_public_json(f"proposal:{proposal_id}", ProposalOut,
                              lambda: service.public(db.session, proposal_id))


@blp.route("/memberships/<int:membership_id>/proposals", methods=["GET"])
@member_required
@blp.response(200, MemberProposalList)
@blp.alt_response(404, schema=ErrorEnvelope, description="not your membership")
@blp.doc(security=BEARER)
@errors("not_found")
def membership_proposals(membership_id):
    """The proposals of the membership's plan with your answer, whether you may answer now, and
    whether you may leave with a full refund (you disagreed with a passed change; notice period)."""
    return {"items": service.for_membership(db.session, user_id=g.user_id, membership_id=membership_id,
                                            now=services().clock.now())}


@blp.route("/memberships/<int:membership_id>/proposals/<int:proposal_id>/answer", methods=["POST"])
@member_required
@blp.arguments(AnswerIn)
@blp.response(200, AnswerOut)
@blp.alt_response(404, schema=ErrorEnvelope, description="not your membership, or no such proposal of its plan")
@blp.alt_response(409, schema=ErrorEnvelope, description="already answered, the window is closed, or the membership ended")
@blp.doc(security=BEARER)
@errors("not_found", "already_answered", "proposal_closed", "membership_ended")
def answer(body, membership_id, proposal_id):
    """Agree or disagree, once per membership, by its payer, while the consent window is open."""
    result = service.answer(db.session, user_id=g.user_id, membership_id=membership_id, proposal_id=proposal_id,
                            answer=body["answer"], now=services().clock.now())
    return {"proposal_id": result.proposal_id, "membership_id": result.membership_id, "answer": result.answer,
            "answered_at": result.answered_at, "tally": result.tally.out()}
