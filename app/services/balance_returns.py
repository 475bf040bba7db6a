"""A membership's balance going back to its payer: by refund to the original WeChat payments, newest
first, within WeChat's one-year limit (refund_orders, the leave's machinery), and the rest — money
paid more than a year ago — by merchant transfer (商家转账) to the payer's openid, idempotent by our
out_bill_no, like aid payouts (payouts.py).

One database transaction per return (`return_balance`, the caller's): the balance (plus the member's
share of a closing plan's surplus) → system:refund_pending, the refund rows, the transfer row, and
the balance_returns row. WeChat is asked afterwards, outside it (`submit`): the same out_refund_no /
out_bill_no every time, so a return resumed after a crash never pays twice. A refund's success
moves refund_pending → refunds_out (refunds.complete_refund); a transfer's success does the same
here (`_settle_transfer`), keyed by the out_bill_no."""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Callable, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import BalanceReturn, ReturnTransfer, User
from app.models.payments import PaymentRefund
from app.models.wind_down import BalanceReturnRefund

from . import events, ledger, merchant_transfers, refund_orders
from .errors import InvalidRequest
from .unit_of_work import atomic, reading
from .wechat_resources import TransferBill as TransferBillResource, validated

log = logging.getLogger(__name__)

TRANSFER_REMARK = "一起互助余额退回"
LIVE = merchant_transfers.LIVE
# "leave": refund_orders.LEAVE_REASON; "aided": refunds.AIDED_REFUND_REASON
LEDGER_REASONS = {"leave": "leave", "wind_down": "wind_down_return", "aided": "aided_refund"}


class ReturnGateway(Protocol):
    """What a return needs from WeChat Pay (wechat.pay.PayClient provides it)."""

    def refund(self, out_refund_no: str, **kwargs) -> dict: ...

    def transfer(self, out_bill_no: str, openid: str, amount_fen: int, remark: str) -> dict: ...

    def query_transfer(self, out_bill_no: str) -> dict: ...


def new_out_bill_no(return_id: int) -> str:
    """Written with the transfer row and reused on every retry (a new one only after a definite failure);
    the random part keeps numbers unique across databases sharing one merchant account."""
    return f"RET{return_id:010d}{secrets.token_hex(6).upper()}"  # 25 of [0-9A-Z]


def has_return(session: Session, membership_id: int, reason: str) -> bool:
    return session.execute(select(BalanceReturn.id).where(BalanceReturn.membership_id == membership_id,
                                                          BalanceReturn.reason == reason)).first() is not None


def return_balance(session: Session, *, membership_id: int, plan_id: int, payer_user_id: int, reason: str,
                   balance_fen: int, surplus_fen: int, surplus_account_id: int | None, key: str, now: dt.datetime,
                   initiated_by: int | None) -> BalanceReturn:
    """Caller's transaction, the membership and its account locked, `balance_fen` read under that lock.
    Idempotent per (membership, reason): a return already processed is returned unchanged."""
    row = session.execute(select(BalanceReturn).where(BalanceReturn.membership_id == membership_id,
                                                      BalanceReturn.reason == reason).with_for_update()
                          ).scalar_one_or_none()
    if row is None:
        row = BalanceReturn(membership_id=membership_id, plan_id=plan_id, reason=reason, status="pending",
                            surplus_fen=surplus_fen, created_at=now, updated_at=now)
        session.add(row)
        session.flush()
    if row.status != "pending":
        return row
    total = balance_fen + surplus_fen
    allocation = refund_orders.allocate(total, refund_orders.refundable_orders(session, membership_id, now))
    by_refund = sum(fen for _, fen in allocation)
    by_transfer = total - by_refund
    if total:
        legs = [ledger.Leg(ledger.account_id(session, "system:refund_pending"), total)]
        if balance_fen:
            from .memberships import member_account_id

            legs.append(ledger.Leg(member_account_id(session, membership_id), -balance_fen))
        if surplus_fen:
            legs.append(ledger.Leg(surplus_account_id, -surplus_fen))
        ledger.post_transaction(session, idempotency_key=key, reason=LEDGER_REASONS[reason], legs=legs, now=now,
                                reference_type="membership", reference_id=str(membership_id),
                                initiated_by_user_id=initiated_by)
    for order_id, fen in allocation:
        refund = PaymentRefund(out_refund_no=refund_orders.new_out_refund_no(), order_id=order_id,
                               membership_id=membership_id, amount_fen=fen, status="pending", attempts=0,
                               created_at=now, updated_at=now)
        session.add(refund)
        session.flush()
        session.add(BalanceReturnRefund(refund_id=refund.id, balance_return_id=row.id))
    if by_transfer:
        session.add(ReturnTransfer(balance_return_id=row.id, membership_id=membership_id, user_id=payer_user_id,
                                   out_bill_no=new_out_bill_no(row.id), amount_fen=by_transfer, status="pending",
                                   attempts=0, created_at=now, updated_at=now))
    session.execute(update(BalanceReturn).where(BalanceReturn.id == row.id).values(
        status="returning" if total else "done", amount_fen=total, by_refund_fen=by_refund,
        by_transfer_fen=by_transfer, updated_at=now).execution_options(synchronize_session=False))
    events.record(session, "balance.returning", now=now, user_id=payer_user_id, plan_id=plan_id,
                  membership_id=membership_id,
                  payload={"reason": reason, "amount_fen": total, "by_refund_fen": by_refund,
                           "by_transfer_fen": by_transfer, "surplus_fen": surplus_fen})
    session.refresh(row)
    return row


# --- asking WeChat ------------------------------------------------------------------------------

def submit_transfers(session: Session, pay: ReturnGateway, now: dt.datetime, *, membership_id: int,
                     pace: Callable[[], None] = lambda: None) -> None:
    """The transfers of one membership that WeChat has not accepted yet (same numbers; its refunds:
    refunds.submit_return)."""
    with reading(session):
        pending = session.execute(select(ReturnTransfer.id).where(ReturnTransfer.membership_id == membership_id,
                                                                 ReturnTransfer.status == "pending")).scalars().all()
    for transfer_id in pending:
        pace()
        send_transfer(session, pay, transfer_id, now)


def send_transfer(session: Session, pay: ReturnGateway, transfer_id: int, now: dt.datetime) -> ReturnTransfer:
    return merchant_transfers.send(session, pay, _BOOK, transfer_id, now)


def sync_transfer(session: Session, pay: ReturnGateway, transfer_id: int, now: dt.datetime) -> ReturnTransfer:
    """Where WeChat has the bill (a bill it never saw is sent again, same number)."""
    return merchant_transfers.sync(session, pay, _BOOK, transfer_id, now)


def record_transfer_state(session: Session, transfer_id: int, answer: dict, now: dt.datetime) -> ReturnTransfer:
    state = answer.get("state")
    with atomic(session):
        transfer = session.get(ReturnTransfer, transfer_id)
        session.refresh(transfer)
        if answer.get("out_bill_no") not in (None, transfer.out_bill_no) or (
                "transfer_amount" in answer and answer["transfer_amount"] != transfer.amount_fen):
            raise InvalidRequest("微信返回的转账单与我们的记录不一致", code="transfer_mismatch")
        values: dict = {"updated_at": now, "last_error": None}
        if answer.get("transfer_bill_no"):
            values["transfer_bill_no"] = answer["transfer_bill_no"]
        live = update(ReturnTransfer).where(ReturnTransfer.id == transfer_id, ReturnTransfer.status.in_(LIVE))
        if state == "SUCCESS":
            if session.execute(live.values(status="succeeded", paid_at=now, **values)
                               .execution_options(synchronize_session=False)).rowcount == 1:
                _settle_transfer(session, transfer, now)
        elif state in ("FAIL", "CANCELLED"):
            if session.execute(live.values(status="failed", **{**values, "last_error": f"WeChat: {state}"})
                               .execution_options(synchronize_session=False)).rowcount == 1:
                _mark_failed(session, transfer.balance_return_id, now)
        elif state == "WAIT_USER_CONFIRM":
            values["status"] = "wait_user_confirm"
            if answer.get("package_info"):
                values["package_info"] = answer["package_info"]
            session.execute(live.values(**values).execution_options(synchronize_session=False))
        else:  # ACCEPTED, PROCESSING, TRANSFERING: on its way
            session.execute(live.values(**values).execution_options(synchronize_session=False))
        session.refresh(transfer)
    return transfer


def _settle_transfer(session: Session, transfer: ReturnTransfer, now: dt.datetime) -> None:
    ledger.post_transaction(
        session, idempotency_key=f"return-transfer:{transfer.out_bill_no}", reason="return_transfer", now=now,
        legs=[ledger.Leg(ledger.account_id(session, "system:refund_pending"), -transfer.amount_fen),
              ledger.Leg(ledger.account_id(session, "system:refunds_out"), transfer.amount_fen)],
        reference_type="return_transfer", reference_id=transfer.out_bill_no)
    _add_returned(session, transfer.balance_return_id, transfer.amount_fen, now)
    events.record(session, "balance.transferred", now=now, user_id=transfer.user_id,
                  membership_id=transfer.membership_id,
                  payload={"amount_fen": transfer.amount_fen, "out_bill_no": transfer.out_bill_no})


def _add_returned(session: Session, return_id: int, fen: int, now: dt.datetime) -> None:
    session.execute(update(BalanceReturn).where(BalanceReturn.id == return_id).values(
        returned_fen=BalanceReturn.returned_fen + fen, updated_at=now).execution_options(synchronize_session=False))
    session.execute(update(BalanceReturn).where(BalanceReturn.id == return_id,
                                                BalanceReturn.returned_fen >= BalanceReturn.amount_fen)
                    .values(status="done").execution_options(synchronize_session=False))


def _mark_failed(session: Session, return_id: int, now: dt.datetime) -> None:
    session.execute(update(BalanceReturn).where(BalanceReturn.id == return_id, BalanceReturn.status == "returning")
                    .values(status="failed", updated_at=now).execution_options(synchronize_session=False))


def _return_of_refund(session: Session, refund_id: int) -> int | None:
    """The return a refund belongs to (a retry of a failed refund belongs to the failed one's return)."""
    number = session.execute(select(PaymentRefund.out_refund_no).where(PaymentRefund.id == refund_id)).scalar_one()
    base = number.split("-R")[0]
    return session.execute(
        select(BalanceReturnRefund.balance_return_id).join(PaymentRefund, PaymentRefund.id == BalanceReturnRefund.refund_id)
        .where(PaymentRefund.out_refund_no == base)).scalar_one_or_none()


def note_refund(session: Session, refund_id: int, amount_fen: int, succeeded: bool, now: dt.datetime) -> None:
    """refunds.complete_refund / fail_refund tell the refund's return (caller's transaction)."""
    return_id = _return_of_refund(session, refund_id)
    if return_id is None:
        return
    if succeeded:
        session.execute(update(BalanceReturn).where(BalanceReturn.id == return_id, BalanceReturn.status == "failed")
                        .values(status="returning").execution_options(synchronize_session=False))
        _add_returned(session, return_id, amount_fen, now)
    else:
        _mark_failed(session, return_id, now)


def handle_transfer_notification(session: Session, resource: dict, now: dt.datetime) -> ReturnTransfer | None:
    """A verified MCHTRANSFER.BILL.FINISHED for one of our return transfers (None: not ours)."""
    resource = validated(TransferBillResource, resource)
    with reading(session):
        transfer_id = session.execute(select(ReturnTransfer.id).where(
            ReturnTransfer.out_bill_no == resource["out_bill_no"])).scalar_one_or_none()
    if transfer_id is None:
        return None
    return record_transfer_state(session, transfer_id, resource, now)


def retry_failed_transfer(session: Session, transfer_id: int, now: dt.datetime) -> ReturnTransfer:
    """A definite failure (FAIL/CANCELLED: nothing moved) gets one new number per attempt."""
    with atomic(session):
        failed = session.execute(select(ReturnTransfer).where(ReturnTransfer.id == transfer_id)
                                 .with_for_update()).scalar_one()
        existing = session.execute(select(ReturnTransfer).where(
            ReturnTransfer.balance_return_id == failed.balance_return_id, ReturnTransfer.status.in_(LIVE))
        ).scalar_one_or_none()
        if existing is not None or failed.status != "failed":
            return existing or failed
        retry = ReturnTransfer(balance_return_id=failed.balance_return_id, membership_id=failed.membership_id,
                               user_id=failed.user_id, out_bill_no=new_out_bill_no(failed.balance_return_id), amount_fen=failed.amount_fen,
                               status="pending", attempts=0, created_at=now, updated_at=now)
        session.add(retry)
        session.execute(update(BalanceReturn).where(BalanceReturn.id == failed.balance_return_id,
                                                    BalanceReturn.status == "failed")
                        .values(status="returning", updated_at=now).execution_options(synchronize_session=False))
        session.flush()
    return retry


def process_open_transfers(session: Session, pay: ReturnGateway, now: dt.datetime) -> dict[str, int]:
    """The sweep: send pending transfers, ask about those waiting for the payer's confirmation."""
    with reading(session):
        ids = session.execute(select(ReturnTransfer.id).where(ReturnTransfer.status.in_(LIVE))
                              .order_by(ReturnTransfer.id)).scalars().all()
    outcome = {"succeeded": 0, "still_open": 0, "failed": 0}
    for transfer_id in ids:
        result = sync_transfer(session, pay, transfer_id, now)
        outcome[result.status if result.status in ("succeeded", "failed") else "still_open"] += 1
    return outcome


# --- what the member sees -----------------------------------------------------------------------

def view_for(session: Session, membership_id: int) -> dict | None:
    row = session.execute(select(BalanceReturn).where(BalanceReturn.membership_id == membership_id)
                          .order_by(BalanceReturn.id.desc()).limit(1)).scalar_one_or_none()
    if row is None:
        return None
    waiting = session.execute(select(ReturnTransfer.package_info).where(
        ReturnTransfer.balance_return_id == row.id, ReturnTransfer.status == "wait_user_confirm")
        .order_by(ReturnTransfer.id.desc()).limit(1)).scalar_one_or_none()
    return {"reason": row.reason, "status": row.status, "amount_fen": row.amount_fen,
            "returned_fen": row.returned_fen, "by_refund_fen": row.by_refund_fen,
            "by_transfer_fen": row.by_transfer_fen, "surplus_fen": row.surplus_fen,
            "transfer_package_info": waiting, "status_text": STATUS_TEXT[row.status]}


STATUS_TEXT = {
    "pending": "余额等待退回",
    "returning": "余额正在退回：一年内的付款原路退回，更早的钱转入付款人的微信零钱（需在小程序中确认收款）",
    "done": "余额已全部退回",
    "failed": "部分余额退回失败，工作人员会重新发起，无需您操作",
}


def sync_for_membership(session: Session, pay: ReturnGateway, membership_id: int, now: dt.datetime) -> bool:
    """Ask WeChat about the membership's live return transfers (the payer just confirmed one). False: none."""
    with reading(session):
        ids = session.execute(select(ReturnTransfer.id).where(ReturnTransfer.membership_id == membership_id,
                                                             ReturnTransfer.status.in_(LIVE))).scalars().all()
        found = session.execute(select(BalanceReturn.id).where(BalanceReturn.membership_id == membership_id)
                                ).first() is not None
    for transfer_id in ids:
        sync_transfer(session, pay, transfer_id, now)
    return found


_BOOK = merchant_transfers.TransferBook(
    model=ReturnTransfer, remark=TRANSFER_REMARK, record=record_transfer_state,
    with_payee=lambda transfer_id: select(ReturnTransfer, User.openid).join(User, User.id == ReturnTransfer.user_id)
    .where(ReturnTransfer.id == transfer_id))
