from __future__ import annotations

import datetime as dt

from flask import current_app
from flask_smorest import Blueprint

from app.extensions import db
from app.services import plan_stats, wind_down
from app.services import plans as plan_service

from .error_docs import errors
from .public_cache import cached_public_json
from .schemas import ErrorEnvelope, PlanList, PlanOut
from .security import services

blp = Blueprint("plans", __name__, url_prefix="/api/v1/plans", description="The plan catalogue")


def runs_per_year() -> int:
    return 12 * len(current_app.config["APPORTIONMENT_DAYS_OF_MONTH"])


def _plan_figures() -> dict[int, dict]:
    """Per plan id, from plan_stats (at most a scheduler period old; see app/services/plan_stats.py)."""
    max_age = dt.timedelta(seconds=current_app.config["PLAN_STATS_MAX_AGE_SECONDS"])
    return plan_stats.read(db.session, services().clock.now(), runs_per_year(), max_age=max_age,
                           may_refresh=_claim_stale_refresh)


def _claim_stale_refresh() -> bool:
    """With Redis, one request per minute across all workers refreshes stale figures; the others answer
    with the stale ones. Without Redis (one process, development), every stale read refreshes."""
    redis = services().redis
    if redis is None:
        return True
    try:
        return bool(redis.set("yiqi:plan_stats:refreshing", "1", nx=True, ex=60))
    except Exception:  # Redis down: refresh rather than serve figures of unknown age
        return True


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
        "counts": {"members": figures["members"], "observing": figures["observing"], "protected": figures["protected"]},
        "balances_held_fen": figures["balances_held_fen"],
        "aid_paid_fen": figures["aid_paid_fen"],
        "estimated_annual_fen": figures["estimated_annual_fen"],
        **wind_down_fields(plan),
    }


def wind_down_fields(plan) -> dict:
    """status open|closing|closed and the wind-down (null while the plan is open)."""
    view = wind_down.public_view(db.session, plan.code)
    return {"status": "open" if view is None else ("closed" if view["status"] == "closed" else "closing"),
            "wind_down": view}


@blp.route("", methods=["GET"])
@blp.response(200, PlanList)
def list_plans():
    """The six plans, their rules in plain words and their figures (members, balances held, aid paid,
    estimated annual cost), at most about a minute old. Cacheable: ETag, Cache-Control: public."""
    def build():
        figures = _plan_figures()
        return {"items": [plan_out(p, v, figures[p.id]) for p, v in plan_service.list_plans(db.session)]}

    return cached_public_json("plans", PlanList, build)


@blp.route("/<string:code>", methods=["GET"])
@blp.response(200, PlanOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("plan_not_found")
def get_plan(code):
    """One plan, as on the home page plus its rules in full. Cacheable: ETag, Cache-Control: public."""
    def build():
        plan, version = plan_service.get_plan(db.session, code)  # an unknown code: 404, nothing cached
        return plan_out(plan, version, _plan_figures()[plan.id])

    return cached_public_json(f"plan:{code}", PlanOut, build)
