"""A reviewer reveals a claimant's full name and ID number for one case, stating why. Every reveal is
an entry in the operators' audit log (the reason included, never the revealed values), which auditors read."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.models import Membership
from app.models.operators import Operator

from .claims import get_for_operator
from .errors import InvalidRequest
from .operators import record_audit, require_role
from .pii import PiiProtector
from .unit_of_work import atomic

REASON_MIN, REASON_MAX = 5, 200


@dataclass(frozen=True)
class RevealedIdentity:
    claim_id: int
    membership_id: int
    name: str
    id_number: str


def reveal(session: Session, pii: PiiProtector, operator: Operator, claim_id: int, reason: str,
           now: dt.datetime) -> RevealedIdentity:
    require_role(operator, "reviewer")
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise InvalidRequest(f"请写明查看身份的理由（{REASON_MIN}至{REASON_MAX}个字）", code="reveal_reason_required")
    claim = get_for_operator(session, operator, claim_id)
    membership = session.get(Membership, claim.membership_id)
    with atomic(session):
        # Audited first, in the same transaction: no reveal without its entry.
        record_audit(session, operator_id=operator.id, action="identity.revealed", target_type="claim",
                     target_id=claim.id, after={"membership_id": membership.id, "reason": reason}, now=now)
    return RevealedIdentity(claim.id, membership.id, pii.decrypt(membership.person_name_encrypted),
                            pii.decrypt(membership.person_id_encrypted))
