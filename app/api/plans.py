from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from app.extensions import db
from app.services import plans as plan_service

from .error_docs import errors
from .schemas import ErrorEnvelope, PlanList, PlanOut

blp = Blueprint("plans", __name__, url_prefix="/api/v1/plans", description="The plan catalogue")


def _plan_figures() -> dict:
    container = current_app.extensions["yiqi"]
    runs_per_year = 12 * len(current_app.config["APPORTIONMENT_DAYS_OF_MONTH"])
    return {
        "counts": plan_service.member_counts(db.session),
        "held": plan_service.balances_held(db.session),
        "aid_paid": plan_service.aid_paid(db.session),
        "annual": plan_service.annual_cost_estimates(db.session, container.clock.now(), runs_per_year),
    }


def plan_out(plan, version, figures: dict) -> dict:
    rules = version.rules
    return {
        "code": plan.code,
        "name": rules["name"],
        "summary": rules["summary"],
        "version": version.version,
        "covered_incidents": rules["covered_incidents"],
        "observation_days": rules["observation_days"],
        "max_aid_fen": rules["max_aid_fen"],
        "share_cap_fen": rules["share_cap_fen"],
        "min_prepay_fen": rules["min_prepay_fen"],
        "management_fee_bp": rules["management_fee_bp"],
        "eligibility": [
            {
                "label": g["label"],
                "min_age_years": g["min_age"].get("years"),
                "min_age_days": g["min_age"].get("days"),
                "max_age_years": g["max_age_years"],
                "sex": g.get("sex"),
                "required_answers": g.get("required_answers", []),
            }
            for g in rules["eligibility"]
        ],
        "aid_table": rules["aid_table"],
        "exclusions": rules["exclusions"],
        "health_questions": rules["health_questions"],
        "eligibility_questions": rules["eligibility_questions"],
        "rules_in_words": plan_service.rules_in_plain_words(rules),
        "counts": figures["counts"].get(plan.id, {"members": 0, "observing": 0, "protected": 0}),
        "balances_held_fen": figures["held"].get(plan.id, 0),
        "aid_paid_fen": figures["aid_paid"].get(plan.id, 0),
        "estimated_annual_fen": figures["annual"].get(plan.id),
    }


@blp.route("", methods=["GET"])
@blp.response(200, PlanList)
def list_plans():
    """The six plans, their rules in plain words and live member counts."""
    figures = _plan_figures()
    return {"items": [plan_out(p, v, figures) for p, v in plan_service.list_plans(db.session)]}


@blp.route("/<string:code>", methods=["GET"])
@blp.response(200, PlanOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("plan_not_found")
def get_plan(code):
    plan, version = plan_service.get_plan(db.session, code)
    return plan_out(plan, version, _plan_figures())
