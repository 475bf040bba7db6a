"""A member's rights over their data (PIPL art. 44–47) and retention: export, correction of a
misspelled name (reviewed), erasure after the retention period, and deletion of claim documents.

Erasure keeps what the books and the published runs need: ids, amounts, states, dates, the masked
name (张*) and birth date shown in announcements. It removes the name, the ID number, its keyed hash
(ID numbers are few enough to find from a hash by trying them all), the health answers and the
claim's free text; the ciphertexts are overwritten, so no key can bring them back."""
from __future__ import annotations

import datetime as dt
import decimal
from array import array
from pathlib import Path

from sqlalchemy import String, cast, exists, func, literal, select, update
from sqlalchemy.orm import Session

from app.models import (ACTIVE_STATES, CLOSED_CLAIM_STATUSES, Account, Claim, ClaimDocument, ClaimObjection,
                        ClaimTimelineEntry, Consent, DomainEvent, GroupPresence, InviteQrCode, LedgerTransaction,
                        Membership, NameCorrection, Notification, Operator, PaymentOrder, PaymentRefund, Posting,
                        SubscribeQuota, User)

from .errors import Conflict, NotFound
from .memberships import valid_person_name
from .operators import record_audit, require_role
from .pii import PiiProtector, mask_name
from .unit_of_work import atomic, reading

ERASED = ""  # what an erased ciphertext column holds: nothing to decrypt
FINAL_REFUND_STATUSES = ("succeeded", "closed", "abnormal")


# --- export -------------------------------------------------------------------------------------
def _plain(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value)
    return value


def _rows(session: Session, model, *conditions, drop: tuple[str, ...] = ()) -> list[dict]:
    """Every column of every matching row (so a column added later is exported without a change here)."""
    columns = [c for c in model.__table__.columns if c.name not in drop]
    result = session.execute(select(*columns).where(*conditions).order_by(*model.__table__.primary_key.columns))
    return [{name: _plain(value) for name, value in row._mapping.items()} for row in result]


def export(session: Session, pii: PiiProtector, user_id: int, now: dt.datetime) -> dict:
    """Everything held about the user and the people they cover, decrypted for them. Other people's
    data (a sponsor's payments, others' objections to their case) is left out."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("没有这个用户", code="user_not_found")
    memberships = []
    for row in _rows(session, Membership, Membership.user_id == user_id,
                     drop=("person_name_encrypted", "person_id_encrypted")):
        stored = session.execute(select(Membership.person_name_encrypted, Membership.person_id_encrypted)
                                 .where(Membership.id == row["id"])).one()
        row["person_name"] = pii.decrypt(stored[0]) if stored[0] else None
        row["person_id_number"] = pii.decrypt(stored[1]) if stored[1] else None
        memberships.append(row)
    membership_ids = [m["id"] for m in memberships]
    account_ids = select(Account.id).where(Account.membership_id.in_(membership_ids))
    claim_ids = select(Claim.id).where(Claim.user_id == user_id)
    postings = [
        {"account_id": r.account_id, "membership_id": r.membership_id, "amount_fen": r.amount_fen,
         "reason": r.reason, "transaction_id": r.transaction_id, "created_at": _plain(r.created_at)}
        for r in session.execute(
            select(Posting.account_id, Account.membership_id, Posting.amount_fen, LedgerTransaction.reason,
                   Posting.transaction_id, LedgerTransaction.created_at)
            .join(Account, Account.id == Posting.account_id)
            .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
            .where(Posting.account_id.in_(account_ids)).order_by(Posting.id))
    ]
    corrections = _rows(session, NameCorrection, NameCorrection.user_id == user_id, drop=("new_name_encrypted",))
    for row in corrections:
        stored = session.execute(select(NameCorrection.new_name_encrypted)
                                 .where(NameCorrection.id == row["id"])).scalar_one()
        row["new_name"] = pii.decrypt(stored) if stored else None
    user_row = _rows(session, User, User.id == user_id, drop=("session_key_encrypted",))[0]
    # WeChat's session key is a credential for talking to WeChat, not something to hand out.
    user_row["wechat_session_key"] = "held encrypted, not disclosed" if user.session_key_encrypted else None
    return {
        "exported_at": now.isoformat(),
        "user": user_row,
        "people_invited": session.execute(select(func.count()).select_from(User)
                                          .where(User.invited_by_user_id == user_id)).scalar_one(),
        "memberships": memberships,
        "accounts": _rows(session, Account, Account.membership_id.in_(membership_ids)),
        "postings": postings,
        "orders": _rows(session, PaymentOrder, PaymentOrder.payer_user_id == user_id),
        "refunds": _rows(session, PaymentRefund, PaymentRefund.membership_id.in_(membership_ids)),
        "claims": _rows(session, Claim, Claim.user_id == user_id),
        "claim_timeline": _rows(session, ClaimTimelineEntry, ClaimTimelineEntry.claim_id.in_(claim_ids)),
        "claim_documents": _rows(session, ClaimDocument, ClaimDocument.claim_id.in_(claim_ids)),
        "objections": _rows(session, ClaimObjection, ClaimObjection.user_id == user_id),
        "consents": _rows(session, Consent, Consent.user_id == user_id),
        "name_corrections": corrections,
        "notifications": _rows(session, Notification, Notification.user_id == user_id),
        "subscribe_quotas": _rows(session, SubscribeQuota, SubscribeQuota.user_id == user_id),
        "group_presences": _rows(session, GroupPresence, GroupPresence.user_id == user_id),
        "invite_qrcodes": _rows(session, InviteQrCode, InviteQrCode.user_id == user_id, drop=("png",)),
        "events": _rows(session, DomainEvent, DomainEvent.user_id == user_id),
    }


# --- correction ---------------------------------------------------------------------------------
def request_name_correction(session: Session, pii: PiiProtector, *, user_id: int, membership_id: int, name: str,
                            now: dt.datetime) -> NameCorrection:
    name = valid_person_name(name)
    with atomic(session):
        membership = session.execute(select(Membership).where(
            Membership.id == membership_id, Membership.user_id == user_id)).scalar_one_or_none()
        if membership is None:
            raise NotFound("没有找到这份互助", code="membership_not_found")
        if membership.erased_at is not None:
            raise Conflict("这份互助的个人信息已按期删除", code="membership_erased")
        pending = session.execute(select(NameCorrection.id).where(
            NameCorrection.membership_id == membership_id, NameCorrection.status == "pending")).first()
        if pending:
            raise Conflict("已经有一个待审核的更正申请", code="correction_pending")
        correction = NameCorrection(membership_id=membership_id, user_id=user_id,
                                    new_name_encrypted=pii.encrypt(name), new_name_masked=mask_name(name),
                                    status="pending", created_at=now)
        session.add(correction)
    return correction


def list_corrections(session: Session, status: str | None = None, user_id: int | None = None) -> list[NameCorrection]:
    query = select(NameCorrection).order_by(NameCorrection.id)
    if status:
        query = query.where(NameCorrection.status == status)
    if user_id is not None:
        query = query.where(NameCorrection.user_id == user_id)
    return list(session.execute(query).scalars())


def review_name_correction(session: Session, pii: PiiProtector, operator: Operator, correction_id: int, *,
                           approve: bool, now: dt.datetime) -> NameCorrection:
    """A reviewer approves (the name is replaced) or rejects; audited without the name itself."""
    require_role(operator, "reviewer")
    with atomic(session):
        correction = session.execute(select(NameCorrection).where(NameCorrection.id == correction_id)
                                     .with_for_update()).scalar_one_or_none()
        if correction is None:
            raise NotFound("没有这个更正申请", code="correction_not_found")
        if correction.status != "pending":
            raise Conflict("这个更正申请已经处理过了", code="correction_already_reviewed")
        status = "approved" if approve else "rejected"
        if approve:
            membership = session.get(Membership, correction.membership_id)
            before_masked = membership.person_name_masked
            session.execute(update(Membership).where(Membership.id == correction.membership_id).values(
                person_name_encrypted=pii.reencrypt(correction.new_name_encrypted),
                person_name_masked=correction.new_name_masked))
        session.execute(update(NameCorrection).where(NameCorrection.id == correction_id).values(
            status=status, reviewed_by_operator_id=operator.id, reviewed_at=now,
            # the requested name is kept only as long as it is needed
            new_name_encrypted=None))
        record_audit(session, operator_id=operator.id, action=f"name_correction.{status}", target_type="membership",
                     target_id=correction.membership_id, now=now,
                     before={"name_masked": before_masked} if approve else {},
                     after={"correction_id": correction_id, "name_masked": correction.new_name_masked})
    session.refresh(correction)
    return correction


# --- retention ----------------------------------------------------------------------------------
def _person_still_needed(cutoff: dt.datetime) -> tuple:
    """What keeps a person's data, each an EXISTS over the person's memberships (same ID hash): one
    active or ended too recently, money left, a refund still open, a claim not closed. Separate
    conditions (each an index probe or an anti-join), not one OR the planner cannot split."""
    def other_of_same_person():
        other = Membership.__table__.alias("other")
        return other, other.c.person_id_hash == Membership.person_id_hash

    other, same = other_of_same_person()
    running = exists().where(same, other.c.state.in_(ACTIVE_STATES) | other.c.ended_at.is_(None)
                             | (other.c.ended_at > cutoff))
    other, same = other_of_same_person()
    money = exists().where(same, Account.membership_id == other.c.id, Account.balance_fen != 0)
    other, same = other_of_same_person()
    refund = exists().where(same, PaymentRefund.membership_id == other.c.id,
                            PaymentRefund.status.not_in(FINAL_REFUND_STATUSES))
    other, same = other_of_same_person()
    claim = exists().where(same, Claim.membership_id == other.c.id, Claim.status.not_in(CLOSED_CLAIM_STATUSES))
    return running, money, refund, claim


def erase_expired(session: Session, *, now: dt.datetime, retention_days: int, batch: int = 1_000) -> int:
    """Erase the personal fields of every person whose memberships all ended (and are settled) more
    than `retention_days` ago. One set-based pass finds the candidates; each batch of them is one
    transaction that checks them again (a person may have rejoined meanwhile), erases them and
    appends one audit entry listing the memberships erased (ids only)."""
    cutoff = now - dt.timedelta(days=retention_days)
    # Built once: a statement rebuilt per batch (fresh aliases) costs memory per batch at a million rows.
    still_needed = [~needed for needed in _person_still_needed(cutoff)]

    def erasable(*conditions):
        return select(Membership.id).where(
            *conditions, Membership.erased_at.is_(None), Membership.state.not_in(ACTIVE_STATES),
            Membership.ended_at <= cutoff, *still_needed)

    # Streamed into a compact array (8 bytes an id), not a list of result rows.
    candidates = array("q")
    with reading(session):
        for chunk in session.execute(erasable().order_by(Membership.id),
                                     execution_options={"yield_per": 10_000}).scalars().partitions():
            candidates.extend(chunk)
    erased = 0
    for start in range(0, len(candidates), batch):
        with atomic(session):
            ids = session.execute(erasable(Membership.id.in_(candidates[start:start + batch].tolist()))
                                  .order_by(Membership.id)).scalars().all()
            if not ids:
                continue
            session.execute(update(Membership).where(Membership.id.in_(ids)).values(
                person_name_encrypted=ERASED, person_id_encrypted=ERASED,
                # unique per row and linked to nobody (the active-person index stays satisfied)
                person_id_hash=literal("erased:", String) + cast(Membership.id, String),
                person_id_masked="", declaration={}, erased_at=now).execution_options(synchronize_session=False))
            session.execute(update(Claim).where(Claim.membership_id.in_(ids)).values(description="")
                            .execution_options(synchronize_session=False))
            session.execute(update(NameCorrection).where(NameCorrection.membership_id.in_(ids))
                            .values(new_name_encrypted=None).execution_options(synchronize_session=False))
            record_audit(session, operator_id=None, action="pii.erased", target_type="membership", target_id=None,
                         now=now, after={"reason": "retention", "retention_days": retention_days,
                                         "membership_ids": list(ids)})
            erased += len(ids)
    return erased


def delete_expired_documents(session: Session, storage_dir: str | Path, *, now: dt.datetime,
                             retention_days: int) -> int:
    """Claim documents of claims closed more than `retention_days` ago: the file is removed, the
    row (type, size, SHA-256) stays, marked deleted. A file already gone counts as deleted."""
    cutoff = now - dt.timedelta(days=retention_days)
    with atomic(session):
        documents = session.execute(
            select(ClaimDocument.id, ClaimDocument.claim_id, ClaimDocument.storage_name)
            .join(Claim, Claim.id == ClaimDocument.claim_id)
            .where(ClaimDocument.deleted_at.is_(None), Claim.status.in_(CLOSED_CLAIM_STATUSES),
                   Claim.updated_at <= cutoff)
            .order_by(ClaimDocument.id)).all()
        root = Path(storage_dir).resolve()
        for document in documents:
            path = (root / document.storage_name).resolve()
            if root in path.parents:
                path.unlink(missing_ok=True)
            session.execute(update(ClaimDocument).where(ClaimDocument.id == document.id).values(deleted_at=now))
            record_audit(session, operator_id=None, action="claim_document.deleted", target_type="claim",
                         target_id=document.claim_id, now=now,
                         after={"document_id": document.id, "reason": "retention"})
    return len(documents)
