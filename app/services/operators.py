"""Operator accounts (reviewers, investigators, finance, auditors), password login, and the
append-only operator audit log. Passwords are hashed with Argon2id (argon2-cffi)."""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import OPERATOR_ROLES, InvestigationOrganisation, Operator, OperatorAuditEntry

from . import audit_chain
from .errors import Conflict, Forbidden, InvalidRequest, NotFound, TooManyRequests, Unauthorized
from .unit_of_work import atomic

_hasher = PasswordHasher()
_USERNAME = re.compile(r"^[a-z0-9_.-]{3,60}$")
MIN_PASSWORD_LENGTH = 12
# Verified when the username is unknown, so a wrong username costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def ensure_organisation(session: Session, name: str, now: dt.datetime) -> InvestigationOrganisation:
    name = (name or "").strip()
    if not 2 <= len(name) <= 100:
        raise InvalidRequest("调查机构名称应为2至100个字符", code="organisation_name_invalid")
    found = session.execute(select(InvestigationOrganisation).where(InvestigationOrganisation.name == name)).scalar_one_or_none()
    if found is None:
        found = InvestigationOrganisation(name=name, created_at=now)
        session.add(found)
        session.flush()
    return found


def create_operator(session: Session, *, username: str, password: str, roles: list[str] | tuple[str, ...],
                    organisation: str | None, now: dt.datetime) -> Operator:
    roles = sorted(set(roles))
    if not roles or any(r not in OPERATOR_ROLES for r in roles):
        raise InvalidRequest(f"角色只能是 {', '.join(OPERATOR_ROLES)}", code="operator_role_invalid")
    if not _USERNAME.match(username or ""):
        raise InvalidRequest("用户名为3至60个小写字母、数字或 _.-", code="operator_username_invalid")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"密码至少{MIN_PASSWORD_LENGTH}个字符", code="operator_password_weak")
    if "investigator" in roles and not organisation:
        raise InvalidRequest("调查员必须属于一个调查机构", code="operator_organisation_required")
    if organisation and "investigator" not in roles:
        raise InvalidRequest("只有调查员属于调查机构", code="operator_organisation_unexpected")
    with atomic(session):
        org_id = ensure_organisation(session, organisation, now).id if organisation else None
        operator = Operator(username=username, password_hash=hash_password(password), roles=",".join(roles),
                            organisation_id=org_id, active=True, created_at=now)
        session.add(operator)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("用户名已存在", code="operator_exists") from None
        record_audit(session, operator_id=None, action="operator.created", target_type="operator",
                     target_id=operator.id, after={"roles": roles, "organisation_id": org_id}, now=now)
    return operator


@dataclass(frozen=True)
class LockoutPolicy:
    """After `threshold` wrong passwords in a row an account is locked for `minutes` (guessing by
    many addresses, which per-address rate limits cannot see). Each lock is in the audit log."""

    threshold: int = 10
    minutes: int = 15


def ensure_not_locked(operator: Operator | None, now: dt.datetime) -> None:
    if operator is not None and operator.locked_until is not None and now < operator.locked_until:
        # Locked: the password is not even checked, so guessing on learns nothing.
        raise _locked(operator.locked_until, now)


def authenticate(session: Session, *, username: str, password: str, now: dt.datetime,
                 lockout: LockoutPolicy = LockoutPolicy()) -> Operator:
    operator = session.execute(select(Operator).where(Operator.username == username)).scalar_one_or_none()
    ensure_not_locked(operator, now)
    try:
        _hasher.verify(operator.password_hash if operator else _DUMMY_HASH, password)
        ok = operator is not None and operator.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        if operator is not None:
            count_failure(session, operator.id, now, lockout)
        raise Unauthorized("用户名或密码错误", code="operator_login_failed")
    with atomic(session):
        values = {"last_login_at": now, "failed_logins": 0, "locked_until": None}
        if _hasher.check_needs_rehash(operator.password_hash):
            values["password_hash"] = hash_password(password)
        session.execute(update(Operator).where(Operator.id == operator.id).values(**values)
                        .execution_options(synchronize_session=False))
        record_audit(session, operator_id=operator.id, action="operator.login", target_type="operator",
                     target_id=operator.id, now=now)
    session.refresh(operator)
    return operator


def _locked(until: dt.datetime, now: dt.datetime) -> TooManyRequests:
    return TooManyRequests("登录失败次数过多，账号已暂时锁定，请稍后再试", code="operator_locked",
                           retry_after_seconds=math.ceil((until - now).total_seconds()))


def count_failure(session: Session, operator_id: int, now: dt.datetime, lockout: LockoutPolicy) -> None:
    """One more wrong password or second-factor code (atomic increment); the one that reaches the threshold locks the account."""
    with atomic(session):
        failures = session.execute(
            update(Operator).where(Operator.id == operator_id).values(failed_logins=Operator.failed_logins + 1)
            .returning(Operator.failed_logins).execution_options(synchronize_session=False)).scalar_one()
        if failures < lockout.threshold:
            return
        until = now + dt.timedelta(minutes=lockout.minutes)
        session.execute(update(Operator).where(Operator.id == operator_id)
                        .values(failed_logins=0, locked_until=until).execution_options(synchronize_session=False))
        record_audit(session, operator_id=None, action="operator.locked", target_type="operator",
                     target_id=operator_id, now=now,
                     after={"failed_logins": failures, "locked_until": until.isoformat()})
    raise _locked(until, now)


def get_operator(session: Session, operator_id: int) -> Operator:
    operator = session.get(Operator, operator_id)
    if operator is None or not operator.active:
        raise Unauthorized("登录凭证无效，请重新登录", code="token_invalid")
    return operator


def require_role(operator: Operator, *roles: str) -> None:
    if not operator.role_set.intersection(roles):
        raise Forbidden("你的角色不能做这件事", code="operator_role_forbidden", details={"required": list(roles)})


def list_organisations(session: Session) -> list[InvestigationOrganisation]:
    return list(session.execute(select(InvestigationOrganisation).order_by(InvestigationOrganisation.id)).scalars())


def get_organisation(session: Session, organisation_id: int) -> InvestigationOrganisation:
    found = session.get(InvestigationOrganisation, organisation_id)
    if found is None:
        raise NotFound("没有这个调查机构", code="organisation_not_found")
    return found


def record_audit(session: Session, *, operator_id: int | None, action: str, target_type: str,
                 target_id: int | None, now: dt.datetime, before: dict | None = None, after: dict | None = None) -> None:
    """Append one entry inside the caller's transaction. Callers pass ids, statuses, amounts and
    masked values only (never names, ID numbers or typed text)."""
    audit_chain.append(session, operator_id=operator_id, action=action, target_type=target_type,
                       target_id=target_id, before=before, after=after, now=now)


def audit_entries(session: Session, *, claim_id: int | None = None, limit: int = 200) -> list[OperatorAuditEntry]:
    query = select(OperatorAuditEntry).order_by(OperatorAuditEntry.id.desc()).limit(limit)
    if claim_id is not None:
        query = query.where(OperatorAuditEntry.target_type == "claim", OperatorAuditEntry.target_id == claim_id)
    return list(session.execute(query).scalars())
