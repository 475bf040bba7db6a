"""Read views of claims: what the member API and the operator API list and show.

Each view is ONE statement, whatever the number of claims: the claim, the masked person and the
latest transfer are joined, and each claim's timeline, documents and objections come along as a
JSON array from a correlated subquery (json_agg on PostgreSQL, json_group_array on SQLite).
The answers are the dicts the response schemas serialise."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Select, func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased

from app.models import Claim, ClaimDocument, ClaimObjection, ClaimTimelineEntry, Membership, Operator, PayoutTransfer

from . import claims

# Each list a claim carries: its model and the columns shown, in order.
_LISTS = {
    "timeline": (ClaimTimelineEntry, ("from_status", "to_status", "actor", "note", "created_at")),
    "documents": (ClaimDocument, ("id", "content_type", "size_bytes", "created_at")),
    "objections": (ClaimObjection, ("id", "reason", "status", "resolution", "created_at", "resolved_at")),
}
_STAMPS = {"created_at", "resolved_at"}  # datetimes: naive UTC text with microseconds inside the JSON
_Transfer = aliased(PayoutTransfer, name="latest_transfer")


def _json_list(dialect: str, model, names: tuple[str, ...]):
    """A claim's rows of `model` as a JSON array of arrays in id order ('[]' when none): a scalar
    subquery correlated with the outer claims."""
    table = model.__table__.alias(f"{model.__tablename__}_of_claim")
    if dialect == "postgresql":
        values = [func.to_char(func.timezone("UTC", table.c[n]), 'YYYY-MM-DD"T"HH24:MI:SS.US') if n in _STAMPS
                  else table.c[n] for n in names]
        return (select(func.coalesce(func.json_agg(aggregate_order_by(func.json_build_array(*values), table.c.id)),
                                     text("'[]'::json")))
                .where(table.c.claim_id == Claim.id).scalar_subquery())
    # SQLite (3.40: no ORDER BY inside an aggregate): aggregate an ordered subquery; json() keeps
    # each item an array rather than a string.
    ordered = (select(func.json_array(*[table.c[n] for n in names]).label("item"))
               .where(table.c.claim_id == Claim.id).correlate(Claim).order_by(table.c.id).subquery())
    return select(func.coalesce(func.json_group_array(func.json(ordered.c.item)), "[]")).scalar_subquery()


def _statement(session: Session, *, for_operator: bool) -> Select:
    dialect = session.get_bind().dialect.name
    latest = select(func.max(PayoutTransfer.id)).where(PayoutTransfer.claim_id == Claim.id).scalar_subquery()
    lists = ("timeline", "documents", "objections") if for_operator else ("timeline", "documents")
    columns = [Claim, _Transfer.status, _Transfer.amount_fen, _Transfer.paid_at, _Transfer.package_info]
    columns += [_json_list(dialect, *_LISTS[name]).label(name) for name in lists]
    if for_operator:
        columns += [Membership.person_name_masked, Membership.person_id_masked]
    statement = select(*columns).select_from(Claim)
    if for_operator:
        statement = statement.join(Membership, Membership.id == Claim.membership_id)
    return statement.outerjoin(_Transfer, _Transfer.id == latest)


def _rows(raw, names: tuple[str, ...]) -> list[dict]:
    items = json.loads(raw) if isinstance(raw, str) else (raw or [])
    out = []
    for item in items:
        row = dict(zip(names, item))
        for name in _STAMPS & row.keys():
            if row[name] is not None:
                row[name] = dt.datetime.fromisoformat(row[name]).replace(tzinfo=dt.timezone.utc)
        out.append(row)
    return out


def _out(row, *, for_claimant: bool, for_operator: bool) -> dict:
    claim: Claim = row.Claim
    payout = None
    if row.status is not None:
        payout = {"status": row.status, "amount_fen": row.amount_fen, "paid_at": row.paid_at,
                  "package_info": row.package_info if for_claimant and row.status == "wait_user_confirm" else None}
    body = {
        "id": claim.id, "membership_id": claim.membership_id, "status": claim.status,
        "status_text": claims.STATUS_WORDS[claim.status], "incident_type": claim.incident_type,
        "incident_date": claim.incident_date, "diagnosis_date": claim.diagnosis_date, "diagnosis": claim.diagnosis,
        "hospital": claim.hospital, "city": claim.city, "description": claim.description,
        "missing_items": claim.missing_items, "rejection_reason": claim.rejection_reason,
        "aid_item_code": claim.aid_item_code, "approved_aid_fen": claim.approved_aid_fen,
        "collected_aid_fen": claim.collected_aid_fen, "publicity_ends_at": claim.publicity_ends_at,
        "submitted_at": claim.submitted_at,
        "timeline": _rows(row.timeline, _LISTS["timeline"][1]),
        "documents": _rows(row.documents, _LISTS["documents"][1]),
        "payout": payout,
    }
    if for_operator:
        body.update(
            plan_id=claim.plan_id, person=row.person_name_masked, id_number=row.person_id_masked,
            reviewer_id=claim.reviewer_id, organisation_id=claim.organisation_id,
            investigator_id=claim.investigator_id, finance_approver_id=claim.finance_approver_id,
            findings=claim.findings, investigation_summary=claim.investigation_summary,
            objections=_rows(row.objections, _LISTS["objections"][1]),
        )
    return body


# --- the member's side ----------------------------------------------------------------------
def member_claims(session: Session, user_id: int) -> list[dict]:
    """The user's claims, newest first."""
    statement = _statement(session, for_operator=False).where(Claim.user_id == user_id).order_by(Claim.id.desc())
    return [_out(row, for_claimant=True, for_operator=False) for row in session.execute(statement)]


def member_claim(session: Session, claim_id: int) -> dict:
    """One claim as its claimant sees it (the caller has checked it is theirs)."""
    row = session.execute(_statement(session, for_operator=False).where(Claim.id == claim_id)).one()
    return _out(row, for_claimant=True, for_operator=False)


# --- the operators' side ----------------------------------------------------------------------
def operator_claims(session: Session, operator: Operator, status: str | None = None, limit: int = 200) -> list[dict]:
    """The cases the operator may see (investigators: their organisation's), oldest first."""
    statement = _statement(session, for_operator=True)
    visible = claims.visible_to(operator).whereclause  # the rule of who sees which case lives in claims
    if visible is not None:
        statement = statement.where(visible)
    if status:
        statement = statement.where(Claim.status == status)
    return [_out(row, for_claimant=False, for_operator=True)
            for row in session.execute(statement.order_by(Claim.id).limit(limit))]


def operator_claim(session: Session, claim_id: int) -> dict:
    """One case as operators see it (the caller has checked the operator may)."""
    row = session.execute(_statement(session, for_operator=True).where(Claim.id == claim_id)).one()
    return _out(row, for_claimant=False, for_operator=True)
