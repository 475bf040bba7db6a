"""Consents (PIPL art. 14, 28–29): the versioned policy texts and the consents members give.

Joining needs the payer's consent to the privacy policy and, separately, to processing the
covered person's sensitive data (ID number, health answers); reporting a claim needs the policy and,
separately, consent to processing medical documents. Each is recorded with the policy version, the
time, who gave it and for which membership or claim. A new policy version is asked again: a
consent under an older version does not count."""
from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.models import CONSENT_SCOPES, Claim, Consent, Membership

from .errors import Forbidden, InvalidRequest, NotFound
from .unit_of_work import atomic

JOIN_SCOPES = ("privacy_policy", "sensitive_personal_data")
CLAIM_SCOPES = ("privacy_policy", "medical_documents")

# One stable error code per missing consent: the client knows which box to show.
REQUIRED_CODES = {
    "privacy_policy": "privacy_policy_consent_required",
    "sensitive_personal_data": "sensitive_data_consent_required",
    "medical_documents": "medical_documents_consent_required",
}


@dataclass(frozen=True)
class PolicyDocument:
    key: str
    title: str
    text: str


@dataclass(frozen=True)
class ConsentScope:
    key: str
    title: str
    text: str


@dataclass(frozen=True)
class PrivacyPolicy:
    version: str
    documents: tuple[PolicyDocument, ...]
    scopes: tuple[ConsentScope, ...]

    def scope(self, key: str) -> ConsentScope:
        return next(s for s in self.scopes if s.key == key)


@lru_cache(maxsize=8)
def load_policy(path: str) -> PrivacyPolicy:
    folder = Path(path).parent
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    documents = tuple(PolicyDocument(key, doc["title"], (folder / doc["file"]).read_text(encoding="utf-8"))
                      for key, doc in data["documents"].items())
    scopes = tuple(ConsentScope(key, s["title"], s["text"]) for key, s in data["scopes"].items())
    if sorted(s.key for s in scopes) != sorted(CONSENT_SCOPES):
        raise ValueError(f"{path}: scopes must be exactly {', '.join(CONSENT_SCOPES)}")
    return PrivacyPolicy(version=str(data["version"]), documents=documents, scopes=scopes)


@dataclass(frozen=True)
class ConsentGiven:
    """What a request carries: the policy version the payer read and the boxes they ticked."""

    policy_version: str
    scopes: tuple[str, ...]


def for_join(policy: PrivacyPolicy) -> ConsentGiven:
    """The consent a join needs under `policy` (for callers that collected it, e.g. the demo seed)."""
    return ConsentGiven(policy.version, JOIN_SCOPES)


def for_claim(policy: PrivacyPolicy) -> ConsentGiven:
    return ConsentGiven(policy.version, CLAIM_SCOPES)


def _refuse(policy: PrivacyPolicy, scope: str, given_version: str | None):
    outdated = given_version is not None and given_version != policy.version
    message = (f"隐私政策已更新，请重新阅读并勾选「{policy.scope(scope).title}」" if outdated
               else f"请先阅读并勾选「{policy.scope(scope).title}」")
    raise Forbidden(message, code=REQUIRED_CODES[scope],
                    details={"scope": scope, "policy_version": policy.version})


def require(policy: PrivacyPolicy, given: ConsentGiven | None, needed: tuple[str, ...]) -> None:
    """Refuses (403, one code per scope) unless every needed scope was given under the current version."""
    for scope in needed:
        if given is None or given.policy_version != policy.version or scope not in given.scopes:
            _refuse(policy, scope, given.policy_version if given else None)


def record(session: Session, *, user_id: int, scopes: tuple[str, ...], policy_version: str, now: dt.datetime,
           membership_id: int | None = None, claim_id: int | None = None) -> None:
    """Inside the caller's transaction: one row per scope."""
    session.execute(insert(Consent), [
        {"user_id": user_id, "scope": scope, "policy_version": policy_version, "membership_id": membership_id,
         "claim_id": claim_id, "given_at": now} for scope in scopes])


def give(session: Session, policy: PrivacyPolicy, *, user_id: int, scope: str, policy_version: str,
         now: dt.datetime, membership_id: int | None = None, claim_id: int | None = None) -> Consent:
    """A consent given on its own (POST /privacy/consents): the policy again after a change, or a
    claim's medical documents under the new version."""
    if scope not in CONSENT_SCOPES:
        raise InvalidRequest("没有这项同意", code="consent_scope_invalid", details={"scopes": list(CONSENT_SCOPES)})
    if policy_version != policy.version:
        _refuse(policy, scope, policy_version)
    if membership_id is not None and session.execute(select(Membership.id).where(
            Membership.id == membership_id, Membership.user_id == user_id)).first() is None:
        raise NotFound("没有找到这份互助", code="membership_not_found")
    if claim_id is not None and session.execute(select(Claim.id).join(Membership).where(
            Claim.id == claim_id, Membership.user_id == user_id)).first() is None:
        raise NotFound("没有找到这个互助申请", code="claim_not_found")
    with atomic(session):
        consent = Consent(user_id=user_id, scope=scope, policy_version=policy_version,
                          membership_id=membership_id, claim_id=claim_id, given_at=now)
        session.add(consent)
    return consent


def require_for_claim(session: Session, policy: PrivacyPolicy, *, user_id: int, claim_id: int) -> None:
    """Documents are medical data: the claim must hold a medical-documents consent under the current version."""
    found = session.execute(select(Consent.id).where(
        Consent.user_id == user_id, Consent.claim_id == claim_id, Consent.scope == "medical_documents",
        Consent.policy_version == policy.version).limit(1)).first()
    if found is None:
        _refuse(policy, "medical_documents", None)


def list_for_user(session: Session, user_id: int) -> list[Consent]:
    return list(session.execute(select(Consent).where(Consent.user_id == user_id).order_by(Consent.id)).scalars())
