"""Sending a merchant transfer (商家转账) and asking WeChat where it stands — the same for an aid payout
(payouts.py, PayoutTransfer) and a balance return of money older than a year (balance_returns.py,
ReturnTransfer). Each caller describes its table in a TransferBook; what happens to the money once WeChat
answers stays with the caller (its `record` function)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Select, update
from sqlalchemy.orm import Session

from .errors import NotFound
from .ports import PayOutcomeUnknown, PayRejected, TransferGateway
from .unit_of_work import atomic, outside_transaction, reading

LIVE = ("pending", "wait_user_confirm")


@dataclass(frozen=True)
class TransferBook:
    model: Any  # the mapped class: PayoutTransfer or ReturnTransfer
    remark: str  # what the payee reads in WeChat
    with_payee: Callable[[int], Select]  # SELECT (transfer row, payee openid) for a transfer id
    record: Callable[[Session, int, dict, dt.datetime], Any]  # apply WeChat's answer


def send(session: Session, gateway: TransferGateway, book: TransferBook, transfer_id: int, now: dt.datetime):
    """Call WeChat for a pending transfer (outside any transaction, same bill number on every retry)."""
    model = book.model
    with atomic(session):
        row = session.execute(book.with_payee(transfer_id)).first()
        if row is None:
            raise NotFound("没有这笔转账", code="transfer_not_found")
        transfer, openid = row
        if transfer.status != "pending":
            return transfer
        session.execute(update(model).where(model.id == transfer_id)
                        .values(attempts=model.attempts + 1, updated_at=now)
                        .execution_options(synchronize_session=False))
        out_bill_no, amount = transfer.out_bill_no, transfer.amount_fen
    try:
        with outside_transaction(session):
            answer = gateway.transfer(out_bill_no, openid, amount, book.remark)
    except PayOutcomeUnknown:
        return note_error(session, book, transfer_id, "timeout: outcome unknown, retry with the same number", now)
    except PayRejected as exc:
        return note_error(session, book, transfer_id, f"{exc.status} {exc.code}"[:200], now)
    return book.record(session, transfer_id, answer, now)


def sync(session: Session, gateway: TransferGateway, book: TransferBook, transfer_id: int, now: dt.datetime):
    """Ask WeChat where the bill stands and record it (a pending bill WeChat never saw is sent again)."""
    with reading(session):
        transfer = session.get(book.model, transfer_id)
        if transfer is None:
            raise NotFound("没有这笔转账", code="transfer_not_found")
        session.refresh(transfer)
        status, out_bill_no, package_info = transfer.status, transfer.out_bill_no, transfer.package_info
    if status not in LIVE:
        return transfer
    try:
        with outside_transaction(session):
            answer = gateway.query_transfer(out_bill_no)
    except PayOutcomeUnknown:
        return note_error(session, book, transfer_id, "timeout while querying", now)
    except PayRejected as exc:
        if exc.status == 404:
            return send(session, gateway, book, transfer_id, now)
        return note_error(session, book, transfer_id, f"{exc.status} {exc.code}"[:200], now)
    if answer.get("state") == "WAIT_USER_CONFIRM" and status == "pending" and not package_info:
        # The query does not carry package_info; the same call again (same number) returns it.
        return send(session, gateway, book, transfer_id, now)
    return book.record(session, transfer_id, answer, now)


def note_error(session: Session, book: TransferBook, transfer_id: int, error: str, now: dt.datetime):
    model = book.model
    with atomic(session):
        session.execute(update(model).where(model.id == transfer_id)
                        .values(last_error=error, updated_at=now).execution_options(synchronize_session=False))
        transfer = session.get(model, transfer_id)
        session.refresh(transfer)
    return transfer
