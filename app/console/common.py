"""What the console's screens share: the role groups (the API's), paging and the plan filter."""
from __future__ import annotations

from flask import request

from app.extensions import db
from app.models import Plan
from app.services import console_queries as queries

ALL_ROLES = ("reviewer", "investigator", "finance", "auditor")
MONEY_ROLES = ("finance", "auditor")
AUDIT_ROLES = ("auditor", "reviewer", "finance")  # as GET /api/v1/admin/audit-log
MEMBER_ROLES = ("reviewer", "finance", "auditor")  # third-party investigators look up no members


def page_number() -> int:
    return request.args.get("page", 1, type=int) or 1


def plan_filter() -> tuple[int | None, list[Plan]]:
    """The plan chosen in the URL (?plan=CODE) and every plan, for the filter's choices."""
    all_plans = queries.plans(db.session)
    code = request.args.get("plan") or None
    chosen = next((p.id for p in all_plans if p.code == code), None)
    return chosen, all_plans
