"""Claim documents: images and PDFs stored outside the web root under random names.

The type is sniffed from the first bytes (the file name and the declared type are ignored);
only JPEG, PNG and PDF are accepted, within a size limit. A document is readable by the
claimant and by the operators on the case."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Claim, ClaimDocument, Operator

from . import consents
from .claims import MEMBER_EDITABLE, get_for_operator, get_for_user
from .errors import Conflict, InvalidRequest, NotFound
from .unit_of_work import atomic

MAX_DOCUMENTS_PER_CLAIM = 30
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
)


def sniff(data: bytes) -> tuple[str, str] | None:
    for magic, content_type, extension in _SIGNATURES:
        if data.startswith(magic):
            return content_type, extension
    return None


def add_document(session: Session, storage_dir: str | Path, *, user_id: int, claim_id: int, data: bytes,
                 max_bytes: int, now: dt.datetime, policy: consents.PrivacyPolicy) -> ClaimDocument:
    if not data:
        raise InvalidRequest("文件是空的", code="document_empty")
    if len(data) > max_bytes:
        raise InvalidRequest(f"文件不能超过 {max_bytes // (1024 * 1024)} MB", code="document_too_large",
                             details={"max_bytes": max_bytes})
    sniffed = sniff(data)
    if sniffed is None:
        raise InvalidRequest("只能上传 JPEG、PNG 图片或 PDF 文件", code="document_type_invalid")
    content_type, extension = sniffed
    claim = get_for_user(session, user_id, claim_id)
    consents.require_for_claim(session, policy, user_id=user_id, claim_id=claim.id)
    if claim.status not in MEMBER_EDITABLE:
        raise Conflict("案件已进入公示或已结束，不能再上传材料", code="documents_closed")
    count = session.execute(select(ClaimDocument.id).where(ClaimDocument.claim_id == claim.id)).all()
    if len(count) >= MAX_DOCUMENTS_PER_CLAIM:
        raise Conflict(f"每个申请最多上传 {MAX_DOCUMENTS_PER_CLAIM} 份材料", code="too_many_documents")
    folder = Path(storage_dir) / str(claim.id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    storage_name = f"{claim.id}/{secrets.token_hex(16)}.{extension}"
    path = Path(storage_dir) / storage_name
    # The file is written before the row; a failed transaction leaves an orphan file, never a row without one.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    with atomic(session):
        document = ClaimDocument(claim_id=claim.id, storage_name=storage_name, content_type=content_type,
                                 size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                                 uploaded_by_user_id=user_id, created_at=now)
        session.add(document)
    return document


def _find(session: Session, claim: Claim, document_id: int) -> ClaimDocument:
    document = session.execute(select(ClaimDocument).where(
        ClaimDocument.id == document_id, ClaimDocument.claim_id == claim.id)).scalar_one_or_none()
    if document is None:
        raise NotFound("没有这份材料", code="document_not_found")
    return document


def path_of(storage_dir: str | Path, document: ClaimDocument) -> Path:
    root = Path(storage_dir).resolve()
    path = (root / document.storage_name).resolve()
    if root not in path.parents:
        raise NotFound("没有这份材料", code="document_not_found")
    return path


def for_member(session: Session, *, user_id: int, claim_id: int, document_id: int) -> ClaimDocument:
    return _find(session, get_for_user(session, user_id, claim_id), document_id)


def for_operator(session: Session, operator: Operator, *, claim_id: int, document_id: int) -> ClaimDocument:
    """The operators on the case: its reviewer (or any reviewer before one takes it) and the
    investigators of the assigned organisation. Finance and auditors never see documents."""
    claim = get_for_operator(session, operator, claim_id)
    roles = operator.role_set
    on_case = ("reviewer" in roles and claim.reviewer_id in (None, operator.id)) or (
        "investigator" in roles and claim.organisation_id is not None
        and claim.organisation_id == operator.organisation_id)
    if not on_case:
        raise NotFound("没有这份材料", code="document_not_found")
    return _find(session, claim, document_id)
