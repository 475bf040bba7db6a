"""Consents (docs/privacy.md): what the mini-program sends once the payer ticked the boxes, and the
service calls that need them."""
from __future__ import annotations

import dataclasses

from app.services import consents as _consents
from config import PRIVACY_POLICY_FILE

POLICY = _consents.load_policy(str(PRIVACY_POLICY_FILE))
JOIN_CONSENT = {"policy_version": POLICY.version, "scopes": list(_consents.JOIN_SCOPES)}
CLAIM_CONSENT = {"policy_version": POLICY.version, "scopes": list(_consents.CLAIM_SCOPES)}


def join_consented(session, pii, *, user_id, request, now):
    """memberships.join with the payer's consents given under the current policy."""
    from app.services import memberships

    return memberships.join(session, pii, user_id=user_id, now=now, policy=POLICY,
                            request=dataclasses.replace(request, consent=_consents.for_join(POLICY)))


def report_consented(session, *, user_id, request, now):
    """claims.report with the payer's consents given under the current policy."""
    from app.services import claims

    return claims.report(session, user_id=user_id, now=now, policy=POLICY,
                         request=dataclasses.replace(request, consent=_consents.for_claim(POLICY)))
