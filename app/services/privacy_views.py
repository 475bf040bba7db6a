"""Read views of personal-data requests: name corrections as a reviewer sees them (both names,
decrypted: reviewers only). One statement per list: each correction joined with its membership."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Membership, NameCorrection

from .pii import PiiProtector


def _statement():
    return (select(NameCorrection, Membership.person_name_encrypted)
            .join(Membership, Membership.id == NameCorrection.membership_id).order_by(NameCorrection.id))


def _out(pii: PiiProtector, correction: NameCorrection, current_name_encrypted: str | None) -> dict:
    return {
        "id": correction.id, "membership_id": correction.membership_id, "new_name_masked": correction.new_name_masked,
        "status": correction.status, "created_at": correction.created_at, "reviewed_at": correction.reviewed_at,
        "reviewed_by_operator_id": correction.reviewed_by_operator_id,
        "current_name": pii.decrypt(current_name_encrypted) if current_name_encrypted else None,
        "new_name": pii.decrypt(correction.new_name_encrypted) if correction.new_name_encrypted else None,
    }


def corrections_for_reviewer(session: Session, pii: PiiProtector, status: str | None = None) -> list[dict]:
    statement = _statement()
    if status:
        statement = statement.where(NameCorrection.status == status)
    return [_out(pii, correction, name) for correction, name in session.execute(statement)]


def correction_for_reviewer(session: Session, pii: PiiProtector, correction_id: int) -> dict:
    correction, name = session.execute(_statement().where(NameCorrection.id == correction_id)).one()
    return _out(pii, correction, name)
