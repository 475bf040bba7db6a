"""The console's second factor: TOTP (RFC 6238, pyotp). Required of finance (money moves) and of
reviewers (they may reveal a claimant's identity). The secret is encrypted at rest like personal data;
a code is accepted once (its time step is remembered) and a wrong code counts towards the lock-out."""
from __future__ import annotations

import datetime as dt

import pyotp
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.models import Operator

from .errors import Conflict, Unauthorized
from .operators import LockoutPolicy, count_failure, ensure_not_locked, record_audit
from .pii import PiiProtector
from .unit_of_work import atomic

ROLES_NEEDING_TOTP = frozenset({"finance", "reviewer"})
ISSUER = "一起互助运营后台"


def required_for(operator: Operator) -> bool:
    return bool(operator.role_set & ROLES_NEEDING_TOTP)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def _accepted_step(secret: str, code: str, now: dt.datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (this one or one either side, for clock drift), unless already used."""
    code = (code or "").strip()
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if (last_step is None or candidate > last_step) and pyotp.utils.strings_equal(
                totp.generate_otp(candidate), code):
            return candidate
    return None


def enrol(session: Session, pii: PiiProtector, operator: Operator, *, secret: str, code: str, now: dt.datetime,
          lockout: LockoutPolicy) -> None:
    """Store `secret` once the operator proves their authenticator produces its codes."""
    ensure_not_locked(operator, now)
    if operator.totp_enrolled_at is not None:
        raise Conflict("已经绑定过动态口令", code="totp_already_enrolled")
    step = _accepted_step(secret, code, now, None)
    if step is None:
        count_failure(session, operator.id, now, lockout)
        raise Unauthorized("动态口令不正确", code="totp_invalid")
    with atomic(session):
        session.execute(update(Operator).where(Operator.id == operator.id, Operator.totp_enrolled_at.is_(None))
                        .values(totp_secret_encrypted=pii.encrypt(secret), totp_enrolled_at=now, totp_last_step=step)
                        .execution_options(synchronize_session=False))
        record_audit(session, operator_id=operator.id, action="operator.totp_enrolled", target_type="operator",
                     target_id=operator.id, now=now)
    session.refresh(operator)


def verify(session: Session, pii: PiiProtector, operator: Operator, *, code: str, now: dt.datetime,
           lockout: LockoutPolicy) -> None:
    """Accept a fresh code (atomically marking its step used) or count a failure."""
    ensure_not_locked(operator, now)
    if operator.totp_enrolled_at is None or operator.totp_secret_encrypted is None:
        raise Conflict("尚未绑定动态口令", code="totp_not_enrolled")
    step = _accepted_step(pii.decrypt(operator.totp_secret_encrypted), code, now, operator.totp_last_step)
    if step is not None:
        with atomic(session):
            # Two requests racing with one code: only one moves the step forward.
            taken = session.execute(update(Operator).where(
                Operator.id == operator.id,
                (Operator.totp_last_step.is_(None)) | (Operator.totp_last_step < step))
                .values(totp_last_step=step).execution_options(synchronize_session=False)).rowcount
        if taken:
            session.refresh(operator)
            return
    count_failure(session, operator.id, now, lockout)
    raise Unauthorized("动态口令不正确", code="totp_invalid")
