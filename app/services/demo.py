"""Synthetic demo data for local development and end-to-end tests: a protected member whose
case went through the real claims path (report → review → investigation → publicity → ready),
with time injected so the whole path lies in the past. Never used in production."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import User

from . import claim_documents, claims, consents, memberships, operators
from .clock import china_date
from .idcard import check_character
from .memberships import JoinRequest
from .pii import PiiProtector
from .plans import get_plan
from .unit_of_work import atomic
from .users import new_invite_code

DEMO_PASSWORD_BYTES = 18


@dataclass(frozen=True)
class DemoCase:
    claim_id: int
    membership_id: int
    approved_aid_fen: int
    openid: str = ""  # the synthetic claimant's: end-to-end tests log in as them to receive the aid


def synthetic_id_number(birth: dt.date) -> str:
    """A checksum-valid number with a random serial (ID checks need a region code that exists: 东城区)."""
    body = f"110101{birth:%Y%m%d}{secrets.randbelow(1000):03d}"
    return body + check_character(body)


def _operator(session: Session, name: str, role: str, now: dt.datetime, organisation: str | None = None):
    return operators.create_operator(session, username=f"demo-{name}-{secrets.token_hex(3)}",
                                     password=secrets.token_urlsafe(DEMO_PASSWORD_BYTES), roles=[role],
                                     organisation=organisation, now=now)


# A minimal, valid one-page PDF standing in for the diagnosis certificate.
DEMO_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


class PastWeChat:
    """WeChat as it answered in the synthetic past: payments, refunds and transfers succeed at once,
    messages are delivered. Only the seeding of demo history uses it; the running platform talks to
    the emulator."""

    def __init__(self, appid: str, mchid: str):
        self.appid, self.mchid = appid, mchid

    def refund(self, out_refund_no: str, **_: object) -> dict:
        return {"refund_id": "DEMO" + out_refund_no[1:], "status": "SUCCESS"}

    def transfer(self, out_bill_no: str, openid: str, amount_fen: int, remark: str) -> dict:
        return {"out_bill_no": out_bill_no, "transfer_bill_no": "DEMO" + out_bill_no, "state": "SUCCESS",
                "transfer_amount": amount_fen}

    def send_subscribe_message(self, openid, template_id, data, page=None) -> None:
        return None


def paid_topup(session: Session, pay: PastWeChat, *, membership_id: int, payer_user_id: int, amount_fen: int,
               at: dt.datetime) -> None:
    """A top-up as WeChat Pay would have settled it: our order, then the notification's credit path
    (payments.settle_transaction, keyed by the transaction id)."""
    from app.models import PaymentOrder, User as UserRow

    from .payments import ORDER_TTL, new_out_trade_no, settle_transaction

    with atomic(session):
        openid = session.execute(select(UserRow.openid).where(UserRow.id == payer_user_id)).scalar_one()
        order = PaymentOrder(out_trade_no=new_out_trade_no(at), membership_id=membership_id,
                             payer_user_id=payer_user_id, amount_fen=amount_fen, status="paying",
                             prepay_id="demo", created_at=at, expires_at=at + ORDER_TTL)
        session.add(order)
    settle_transaction(session, pay, {
        "appid": pay.appid, "mchid": pay.mchid, "trade_state": "SUCCESS", "out_trade_no": order.out_trade_no,
        "transaction_id": "DEMO" + secrets.token_hex(12).upper(), "amount": {"total": amount_fen, "currency": "CNY"},
        "payer": {"openid": openid}}, at)


@dataclass(frozen=True)
class DemoStaff:
    reviewer: object
    investigator: object
    finance: object


def demo_staff(session: Session, now: dt.datetime) -> DemoStaff:
    return DemoStaff(_operator(session, "reviewer", "reviewer", now),
                     _operator(session, "investigator", "investigator", now, organisation="演示调查机构"),
                     _operator(session, "finance", "finance", now))


def claimant_id_number(birth: dt.date, sex: str) -> str:
    id_number = synthetic_id_number(birth)
    if (int(id_number[16]) % 2 == 1) != (sex == "M"):
        body = id_number[:16] + str((int(id_number[16]) + 1) % 10)
        id_number = body + check_character(body)
    return id_number


def report_case(session: Session, staff: DemoStaff, *, user_id: int, membership_id: int, rules: dict,
                incident: dt.datetime, documents_dir: str, policy: consents.PrivacyPolicy,
                approved_aid_fen: int | None, publicity_days: int, diagnosis: str = "演示病例") -> int:
    """A case through the real claims path from its report: reported and documented the day after the
    incident, reviewed the next day; with an approved amount, investigated and published on day 5.
    Returns the claim id (status under_review, or publicity)."""
    claim = claims.report(session, user_id=user_id, now=incident + dt.timedelta(days=1), request=claims.ReportRequest(
        membership_id=membership_id, incident_type=rules["covered_incidents"][0],
        incident_date=china_date(incident), diagnosis_date=china_date(incident), diagnosis=diagnosis,
        hospital="演示医院", city="演示市", description="合成的演示数据", consent=consents.for_claim(policy)),
        policy=policy)
    claim_documents.add_document(session, documents_dir, user_id=user_id, claim_id=claim.id, data=DEMO_PDF,
                                 max_bytes=len(DEMO_PDF), now=incident + dt.timedelta(days=1), policy=policy)
    reviewed = incident + dt.timedelta(days=2)
    claims.start_review(session, staff.reviewer, claim.id, reviewed)
    if approved_aid_fen is None:
        return claim.id
    claims.assign(session, staff.reviewer, claim.id, staff.investigator.organisation_id, reviewed)
    claims.submit_report(session, staff.investigator, claim.id, claims.InvestigationReport(
        findings="材料齐全，符合互助条件（演示）", summary="演示病例，材料真实", aid_item_code=rules["aid_table"][0]["code"],
        approved_aid_fen=approved_aid_fen), incident + dt.timedelta(days=5), publicity_days)
    return claim.id


def seed_ready_case(session: Session, pii: PiiProtector, *, plan_code: str, approved_aid_fen: int,
                    now: dt.datetime, documents_dir: str, policy: consents.PrivacyPolicy,
                    publicity_days: int = 5) -> DemoCase:
    """One synthetic claimant and one case ready for the next apportionment run of `plan_code`."""
    _, version = get_plan(session, plan_code)
    rules = version.rules
    start = now - dt.timedelta(days=rules["observation_days"] + 60)
    with atomic(session):
        user = User(openid=f"demo-{secrets.token_hex(8)}", invite_code=new_invite_code(), created_at=start,
                    last_login_at=start)
        session.add(user)
    group = rules["eligibility"][0]
    age = group["min_age"].get("years", 1) + 1
    birth = china_date(start).replace(year=china_date(start).year - age)
    answers = {q["key"]: False for q in rules["health_questions"]}
    answers.update({k: True for k in group.get("required_answers", [])})
    membership = memberships.join(session, pii, user_id=user.id, now=start, request=JoinRequest(
        plan_code, "演示用户", claimant_id_number(birth, group.get("sex", "M")), "self", answers,
        consent=consents.for_join(policy)), policy=policy)
    with atomic(session):
        memberships.credit(session, membership_id=membership.id, amount_fen=rules["min_prepay_fen"],
                           idempotency_key=f"demo-topup:{membership.id}", now=start,
                           source_account_code="system:wechat_pay_in")
    memberships.advance(session, start + dt.timedelta(days=rules["observation_days"]))
    incident = now - dt.timedelta(days=30)
    claim_id = report_case(session, demo_staff(session, incident), user_id=user.id, membership_id=membership.id,
                           rules=rules, incident=incident, documents_dir=documents_dir, policy=policy,
                           approved_aid_fen=approved_aid_fen, publicity_days=publicity_days)
    claims.promote_finished_publicity(session, incident + dt.timedelta(days=5 + publicity_days))
    return DemoCase(claim_id, membership.id, approved_aid_fen, user.openid)
