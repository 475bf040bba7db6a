from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from app.extensions import db
from app.services import balance_returns
from app.services import memberships as membership_service
from app.services.clock import china_date
from app.services.idcard import age_on

from .error_docs import errors
from .merchant_transfer import with_return_transfer
from .privacy import consent_given
from .schemas import ErrorEnvelope, JoinRequestIn, MembershipList, MembershipOut
from .security import BEARER, member_required, services

blp = Blueprint("memberships", __name__, url_prefix="/api/v1/memberships",
                description="Family memberships of the logged-in user")


def membership_out(view: membership_service.MembershipView, now) -> dict:
    m = view.membership
    days_left = None
    if m.state == "observing" and m.observation_ends_at is not None:
        remaining = m.observation_ends_at - now
        days_left = max(0, remaining.days + (1 if remaining.seconds or remaining.microseconds else 0))
    return {
        "id": m.id,
        "plan_code": view.plan_code,
        "plan_name": view.plan_name,
        "plan_version": view.plan_version,
        "relation": m.relation,
        "person_name": m.person_name_masked,
        "id_number": m.person_id_masked,
        "sex": m.sex,
        "age_years": age_on(m.birth_date, china_date(now))[0],
        "eligibility_group": m.eligibility_group,
        "state": m.state,
        "balance_fen": view.balance_fen,
        "min_prepay_fen": view.rules["min_prepay_fen"],
        "joined_at": m.joined_at,
        "observation_starts_at": m.observation_starts_at,
        "observation_ends_at": m.observation_ends_at,
        "observation_days_left": days_left,
        "protected_at": m.protected_at,
        "suspended_at": m.suspended_at,
        "grace_ends_at": m.grace_ends_at,
        "ended_at": m.ended_at,
        "sponsor_token": m.sponsor_token,
        "balance_return": None if view.has_balance_return is False else
        with_return_transfer(balance_returns.view_for(db.session, m.id)),
    }


@blp.route("", methods=["POST"])
@member_required
@blp.arguments(JoinRequestIn)
@blp.response(201, MembershipOut)
@blp.alt_response(400, schema=ErrorEnvelope, description="a rule refused joining; the message says which")
@blp.alt_response(403, schema=ErrorEnvelope, description="a consent is missing or under an older policy version")
@blp.alt_response(409, schema=ErrorEnvelope, description="this person is already a member of the plan")
@blp.doc(security=BEARER)
@errors("plan_closing", "already_member", "not_eligible", "person_name_invalid", "relation_invalid", "plan_not_found",
        "declaration_incomplete", "health_declaration_refused", "unknown_declaration_question", "id_number_format",
        "id_number_checksum", "id_number_birth_date", "id_number_region", "privacy_policy_consent_required",
        "sensitive_data_consent_required")
def join(body):
    """Join a plan for yourself or a family member (pending until the first prepay)."""
    container = services()
    now = container.clock.now()
    request = membership_service.JoinRequest(
        plan_code=body["plan_code"], person_name=body["person"]["name"], id_number=body["person"]["id_number"],
        relation=body["relation"], answers=body["answers"], consent=consent_given(body.get("consent")),
    )
    membership = membership_service.join(db.session, container.pii, user_id=g.user_id, request=request, now=now,
                                         policy=container.privacy_policy)
    return membership_out(membership_service.get_for_user(db.session, g.user_id, membership.id), now)


@blp.route("", methods=["GET"])
@member_required
@blp.response(200, MembershipList)
@blp.doc(security=BEARER)
def list_mine():
    now = services().clock.now()
    return {"items": [membership_out(v, now) for v in membership_service.list_for_user(db.session, g.user_id)]}


@blp.route("/<int:membership_id>", methods=["GET"])
@member_required
@blp.response(200, MembershipOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("membership_not_found")
def get_one(membership_id):
    now = services().clock.now()
    return membership_out(membership_service.own_view(db.session, g.user_id, membership_id), now)
