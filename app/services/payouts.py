"""Aid payout through WeChat Pay's merchant transfer (商家转账), exactly once.

When is the aid paid? A merchant transfer is first WAIT_USER_CONFIRM: WeChat holds it until the
claimant confirms receipt in the mini-program (wx.requestMerchantTransfer with package_info).
Money leaves the merchant only when WeChat reports the bill SUCCESS. So the aid counts as paid,
and the ledger moves plan:{code}:aid_payable → system:aid_paid_out, only when WeChat says
SUCCESS (from the transfer query or the MCHTRANSFER.BILL.FINISHED notification), once per
out_bill_no: a conditional UPDATE of the transfer row decides which caller settles, and the
posting's idempotency key is the out_bill_no.

The sequence never holds a database transaction over a WeChat call:
  1. approve (finance): record the intent: a payout_transfers row with our out_bill_no, status pending;
  2. send: count the attempt (commit), call WeChat, then record the answer in a new transaction;
     a timeout or 5xx leaves it pending and the next attempt uses the SAME out_bill_no (WeChat
     deduplicates on it, so a transfer that did take effect is never made twice);
  3. sync: query the bill (a WAIT_USER_CONFIRM bill whose answer was lost is asked again, same number, for
     its package_info); SUCCESS settles, FAIL/CANCELLED marks the row failed (nothing moved; a
     new approval then gets a new number), NOT_FOUND means step 2 never reached WeChat: send again.
"""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import Account, Claim, Membership, Operator, PayoutTransfer, Plan, User

from . import apportionment, events, ledger, merchant_transfers, refunds
from .claims import change_status, ensure_separate_duties
from .errors import Conflict, InvalidRequest, NotFound
from .operators import record_audit, require_role
from .ports import TransferGateway
from .unit_of_work import atomic, reading
from .wechat_resources import TransferBill as TransferBillResource, validated

PAYOUT_REASON = "aid_payout"
TRANSFER_REMARK = "一起互助互助金"
LIVE = merchant_transfers.LIVE


def new_out_bill_no(claim_id: int) -> str:
    return f"AID{claim_id:010d}{secrets.token_hex(6).upper()}"  # 25 of [0-9A-Z], unique by its random part


def approve(session: Session, operator: Operator, claim_id: int, now: dt.datetime) -> PayoutTransfer:
    """Finance approves paying a collected case: records the transfer intent (idempotent)."""
    require_role(operator, "finance")
    with atomic(session):
        claim = session.execute(select(Claim).where(Claim.id == claim_id).with_for_update()).scalar_one_or_none()
        if claim is None:
            raise NotFound("没有找到这个案件", code="claim_not_found")
        ensure_separate_duties(claim, operator, "finance")
        live = session.execute(select(PayoutTransfer).where(
            PayoutTransfer.claim_id == claim.id, PayoutTransfer.status.in_(LIVE))).scalar_one_or_none()
        if live is not None:
            return live
        # A case is paid what its runs collected: once, then again for an amount a later run made
        # up (a shortfall carried to it); approving twice returns the transfer already made.
        succeeded = list(session.execute(select(PayoutTransfer).where(
            PayoutTransfer.claim_id == claim.id, PayoutTransfer.status == "succeeded")
            .order_by(PayoutTransfer.id)).scalars())
        remaining = (claim.collected_aid_fen or 0) - sum(t.amount_fen for t in succeeded)
        if remaining <= 0 and succeeded:
            return succeeded[-1]
        if claim.status not in ("collected", "paid") or remaining <= 0:
            raise Conflict("只有分摊已筹集互助金的案件才能付款", code="claim_not_collected",
                           details={"status": claim.status})
        transfer = PayoutTransfer(claim_id=claim.id, out_bill_no=new_out_bill_no(claim.id),
                                  amount_fen=remaining, status="pending", attempts=0,
                                  approved_by_operator_id=operator.id, created_at=now, updated_at=now)
        session.add(transfer)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("这个案件已经在付款中", code="payout_in_progress") from None
        session.execute(update(Claim).where(Claim.id == claim.id).values(finance_approver_id=operator.id, updated_at=now)
                        .execution_options(synchronize_session=False))
        record_audit(session, operator_id=operator.id, action="payout.approved", target_type="claim",
                     target_id=claim.id, before={"status": claim.status},
                     after={"transfer_id": transfer.id, "out_bill_no": transfer.out_bill_no,
                            "amount_fen": transfer.amount_fen}, now=now)
    return transfer


def send(session: Session, gateway: TransferGateway, transfer_id: int, now: dt.datetime) -> PayoutTransfer:
    """Call WeChat for a pending transfer (outside any transaction) and record the answer."""
    return merchant_transfers.send(session, gateway, _BOOK, transfer_id, now)


def sync(session: Session, gateway: TransferGateway, transfer_id: int, now: dt.datetime) -> PayoutTransfer:
    """Ask WeChat where the bill stands and record it (a pending bill WeChat never saw is sent again)."""
    return merchant_transfers.sync(session, gateway, _BOOK, transfer_id, now)


def record_state(session: Session, transfer_id: int, answer: dict, now: dt.datetime) -> PayoutTransfer:
    """Apply WeChat's view of the bill (from a call, a query or a verified notification)."""
    state = answer.get("state")
    with atomic(session):
        transfer = session.get(PayoutTransfer, transfer_id)
        session.refresh(transfer)
        if answer.get("out_bill_no") not in (None, transfer.out_bill_no) or (
                "transfer_amount" in answer and answer["transfer_amount"] != transfer.amount_fen):
            raise InvalidRequest("微信返回的转账单与我们的记录不一致", code="transfer_mismatch")
        common = {"updated_at": now, "last_error": None}
        if answer.get("transfer_bill_no"):
            common["transfer_bill_no"] = answer["transfer_bill_no"]
        if state == "SUCCESS":
            _settle(session, transfer, now, common)
        elif state in ("FAIL", "CANCELLED"):
            session.execute(update(PayoutTransfer).where(PayoutTransfer.id == transfer.id,
                                                         PayoutTransfer.status.in_(LIVE))
                            .values(status="failed", **{**common, "last_error": f"WeChat: {state}"})
                            .execution_options(synchronize_session=False))
            record_audit(session, operator_id=None, action="payout.failed", target_type="claim",
                         target_id=transfer.claim_id, after={"transfer_id": transfer.id, "state": state}, now=now)
        elif state == "WAIT_USER_CONFIRM":
            values = dict(common, status="wait_user_confirm")
            if answer.get("package_info"):
                values["package_info"] = answer["package_info"]
            session.execute(update(PayoutTransfer).where(PayoutTransfer.id == transfer.id,
                                                         PayoutTransfer.status.in_(LIVE))
                            .values(**values).execution_options(synchronize_session=False))
        else:  # ACCEPTED, PROCESSING, TRANSFERING, CANCELING: still on its way
            session.execute(update(PayoutTransfer).where(PayoutTransfer.id == transfer.id,
                                                         PayoutTransfer.status.in_(LIVE))
                            .values(**common).execution_options(synchronize_session=False))
        session.refresh(transfer)
    return transfer


def _settle(session: Session, transfer: PayoutTransfer, now: dt.datetime, common: dict) -> None:
    won = session.execute(
        update(PayoutTransfer).where(PayoutTransfer.id == transfer.id, PayoutTransfer.status.in_(LIVE))
        .values(status="succeeded", paid_at=now, **common).execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        return  # already settled (or failed): the ledger moved at most once
    plan_id, member_id = session.execute(select(Claim.plan_id, Claim.membership_id)
                                         .where(Claim.id == transfer.claim_id)).one()
    # First: a chunk's lock order (the run and the member's chunk, then claims, members).
    run = apportionment.lock_open_run(session, plan_id, member_id)
    claim = session.execute(select(Claim).where(Claim.id == transfer.claim_id).with_for_update()).scalar_one()
    plan_code = session.execute(select(Plan.code).where(Plan.id == claim.plan_id)).scalar_one()
    ledger.post_transaction(
        session, idempotency_key=f"aid-paid:{transfer.out_bill_no}", reason=PAYOUT_REASON, now=now,
        legs=[ledger.Leg(ledger.account_id(session, ledger.plan_account_code(plan_code, "aid_payable")),
                         -transfer.amount_fen),
              ledger.Leg(ledger.account_id(session, "system:aid_paid_out"), transfer.amount_fen)],
        reference_type="payout_transfer", reference_id=transfer.out_bill_no,
    )
    first_payment = claim.status != "paid"  # else: an amount a later run made up
    if first_payment:
        change_status(session, claim, "paid", actor="system", now=now, closed_at=now,
              note=f"互助金 {transfer.amount_fen} 分已转入申请人的微信零钱")
        # The covered person received aid: the membership in this plan ends (domain.md, "aided"), owing
        # the share of an open run that counted it (withheld now, as that run's chunk would debit it).
        member = session.execute(select(Membership).where(Membership.id == claim.membership_id)
                                 .with_for_update()).scalar_one()
        balance = session.execute(select(Account.balance_fen).where(Account.membership_id == member.id)
                                  .with_for_update()).scalar_one()
        apportionment.withhold_share(session, run, member, balance, now)
        session.execute(update(Membership).where(Membership.id == claim.membership_id,
                                                 Membership.state.in_(("protected", "suspended")))
                        .values(state="aided", ended_at=now, state_changed_at=now)
                        .execution_options(synchronize_session=False))
        # What is left of the balance goes back now, in this transaction (WeChat is asked after it).
        refunds.refund_aided_balance(session, claim.membership_id, now)
    events.record(session, "aid.paid", now=now, claim_id=claim.id, user_id=claim.user_id, plan_id=claim.plan_id,
                  membership_id=claim.membership_id,
                  payload={"amount_fen": transfer.amount_fen, "out_bill_no": transfer.out_bill_no})
    record_audit(session, operator_id=None, action="payout.succeeded", target_type="claim", target_id=claim.id,
                 before={"status": "collected" if first_payment else "paid"},
                 after={"status": "paid", "transfer_id": transfer.id, "amount_fen": transfer.amount_fen}, now=now)


def handle_notification(session: Session, resource: dict, now: dt.datetime) -> PayoutTransfer | None:
    """A verified MCHTRANSFER.BILL.FINISHED resource (the payments notify endpoint passes it on)."""
    resource = validated(TransferBillResource, resource)
    with reading(session):
        transfer_id = session.execute(select(PayoutTransfer.id).where(
            PayoutTransfer.out_bill_no == resource["out_bill_no"])).scalar_one_or_none()
    if transfer_id is None:
        return None
    return record_state(session, transfer_id, resource, now)


def for_claim(session: Session, claim_id: int) -> PayoutTransfer | None:
    return session.execute(select(PayoutTransfer).where(PayoutTransfer.claim_id == claim_id)
                           .order_by(PayoutTransfer.id.desc()).limit(1)).scalar_one_or_none()


def process_open(session: Session, gateway: TransferGateway, now: dt.datetime) -> dict[str, int]:
    """The `flask claims advance` sweep: retry pending transfers, sync those awaiting the claimant."""
    with reading(session):
        ids = session.execute(select(PayoutTransfer.id, PayoutTransfer.status)
                              .where(PayoutTransfer.status.in_(LIVE)).order_by(PayoutTransfer.id)).all()
    outcome = {"succeeded": 0, "still_open": 0, "failed": 0}
    for transfer_id, status in ids:
        result = sync(session, gateway, transfer_id, now)
        key = result.status if result.status in ("succeeded", "failed") else "still_open"
        outcome[key] += 1
    return outcome


_BOOK = merchant_transfers.TransferBook(
    model=PayoutTransfer, remark=TRANSFER_REMARK, record=record_state,
    with_payee=lambda transfer_id: select(PayoutTransfer, User.openid)
    .join(Claim, Claim.id == PayoutTransfer.claim_id).join(User, User.id == Claim.user_id)
    .where(PayoutTransfer.id == transfer_id))
