"""Bearer-token authentication for operators: a separate token audience from members, so a
member token never opens an operator route and an operator token never opens a member route."""
from __future__ import annotations

from functools import wraps

from flask import g

from app.services.operators import get_operator, require_role

from .security import bearer_token, services

READ_ROLES = ("reviewer", "investigator", "finance", "auditor")


def operator_required(*roles: str):
    """Sets g.operator from a valid operator token holding one of `roles` (all roles when none given)."""
    allowed = roles or READ_ROLES

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            from app.extensions import db

            operator = get_operator(db.session, services().operator_tokens.verify(bearer_token()))
            require_role(operator, *allowed)
            g.operator = operator
            return view(*args, **kwargs)

        return wrapper

    return decorate
