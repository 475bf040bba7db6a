"""Daily privacy duties, shared by the CLI and the scheduler."""
from __future__ import annotations

import datetime as dt

from flask import Flask

from app.extensions import db


def run_retention(app: Flask, now: dt.datetime) -> tuple[int, int]:
    from app.services.personal_data import delete_expired_documents, erase_expired

    cfg = app.config
    erased = erase_expired(db.session, now=now, retention_days=cfg["PII_RETENTION_DAYS"])
    deleted = delete_expired_documents(db.session, cfg["CLAIM_DOCUMENTS_DIR"], now=now,
                                       retention_days=cfg["CLAIM_DOCUMENT_RETENTION_DAYS"])
    return erased, deleted


def publish_audit_heads(app: Flask, now: dt.datetime) -> int:
    from app.services.audit_chain import publish_heads

    return publish_heads(db.session, now)
