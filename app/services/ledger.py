"""Posting money: the only way a balance changes outside the set-based apportionment engine.

A transaction is a set of legs summing to zero, written once under an idempotency key.
Replaying the key with the same content returns the first result; with other content it
is refused. Balances move by atomic `balance_fen = balance_fen + delta` updates, so two
writers never lose each other's update, and the CHECK constraint refuses a negative one."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import EXTERNAL_KINDS, Account, LedgerTransaction, Posting

from .errors import IdempotencyConflict, InsufficientBalance, NotFound, UnbalancedTransaction

SYSTEM_ACCOUNTS = {
    "system:wechat_pay_in": "wechat_pay_in",
    "system:refund_pending": "refund_pending",
    "system:refunds_out": "refunds_out",
    "system:aid_paid_out": "aid_paid_out",
    "system:fees_out": "fees_out",
}
PLAN_ACCOUNT_KINDS = ("plan_pool", "plan_surplus", "aid_payable")


@dataclass(frozen=True)
class Leg:
    account_id: int
    amount_fen: int


@dataclass(frozen=True)
class PostedTransaction:
    id: int
    idempotency_key: str
    replayed: bool


def plan_account_code(plan_code: str, kind: str) -> str:
    return f"plan:{plan_code}:{kind}"


def member_account_code(membership_id: int) -> str:
    return f"member:{membership_id}"


def _insert_ignoring_duplicates(session: Session, table, values: dict, conflict_column: str):
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = builder(table).values(**values).on_conflict_do_nothing(index_elements=[conflict_column])
    return session.execute(stmt.returning(table.c.id)).scalar_one_or_none()


def ensure_account(session: Session, *, code: str, kind: str, now: dt.datetime,
                   plan_id: int | None = None, membership_id: int | None = None) -> int:
    """The id of the account with this code, created if missing (safe under concurrency)."""
    existing = session.execute(select(Account.id).where(Account.code == code)).scalar_one_or_none()
    if existing is not None:
        return existing
    _insert_ignoring_duplicates(
        session,
        Account.__table__,
        dict(code=code, kind=kind, plan_id=plan_id, membership_id=membership_id, balance_fen=0,
             allow_negative=kind in EXTERNAL_KINDS, created_at=now),
        "code",
    )
    return session.execute(select(Account.id).where(Account.code == code)).scalar_one()


def ensure_system_accounts(session: Session, now: dt.datetime) -> None:
    for code, kind in SYSTEM_ACCOUNTS.items():
        ensure_account(session, code=code, kind=kind, now=now)


def account_id(session: Session, code: str) -> int:
    found = session.execute(select(Account.id).where(Account.code == code)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"账户 {code} 不存在", code="account_not_found")
    return found


def _canonical_hash(reason: str, legs: list[Leg], reference_type: str | None, reference_id: str | None) -> str:
    body = {
        "reason": reason,
        "legs": sorted([leg.account_id, leg.amount_fen] for leg in legs),
        "reference": [reference_type, reference_id],
    }
    return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()


def request_hash(reason: str, legs: list[Leg], reference_type: str | None, reference_id: str | None) -> str:
    """What post_transaction stores as request_hash (for writers of many transactions at once)."""
    return _canonical_hash(reason, legs, reference_type, reference_id)


def validate_legs(legs: Iterable[Leg]) -> list[Leg]:
    legs = list(legs)
    if len(legs) < 2:
        raise UnbalancedTransaction("一笔记账至少需要两条分录")
    for leg in legs:
        if type(leg.amount_fen) is not int or type(leg.account_id) is not int:
            raise UnbalancedTransaction("金额必须是整数分")
        if leg.amount_fen == 0:
            raise UnbalancedTransaction("分录金额不能为零")
    if sum(leg.amount_fen for leg in legs) != 0:
        raise UnbalancedTransaction(f"分录合计为 {sum(leg.amount_fen for leg in legs)} 分，应为零")
    return legs


def post_transaction(
    session: Session,
    *,
    idempotency_key: str,
    reason: str,
    legs: Iterable[Leg],
    now: dt.datetime,
    reference_type: str | None = None,
    reference_id: str | None = None,
    initiated_by_user_id: int | None = None,
) -> PostedTransaction:
    """Write one balanced transaction inside the caller's database transaction.

    Runs in a savepoint so that a refused posting (a balance would go negative) leaves
    the caller's transaction usable."""
    legs = validate_legs(legs)
    request_hash = _canonical_hash(reason, legs, reference_type, reference_id)
    with session.begin_nested():
        new_id = _insert_ignoring_duplicates(
            session,
            LedgerTransaction.__table__,
            dict(idempotency_key=idempotency_key, request_hash=request_hash, reason=reason,
                 reference_type=reference_type, reference_id=reference_id,
                 initiated_by_user_id=initiated_by_user_id, created_at=now),
            "idempotency_key",
        )
        if new_id is None:
            first = session.execute(
                select(LedgerTransaction.id, LedgerTransaction.request_hash).where(
                    LedgerTransaction.idempotency_key == idempotency_key)
            ).one()
            if first.request_hash != request_hash:
                raise IdempotencyConflict(details={"idempotency_key": idempotency_key})
            return PostedTransaction(first.id, idempotency_key, replayed=True)

        # One INSERT statement for all legs: PostgreSQL checks the zero sum per statement.
        session.execute(insert(Posting).values(
            [{"transaction_id": new_id, "account_id": leg.account_id, "amount_fen": leg.amount_fen} for leg in legs]
        ))
        deltas: dict[int, int] = {}
        for leg in legs:
            deltas[leg.account_id] = deltas.get(leg.account_id, 0) + leg.amount_fen
        try:
            # Sorted ids: concurrent writers lock accounts in the same order and cannot deadlock.
            for acct_id in sorted(deltas):
                if deltas[acct_id] == 0:
                    continue
                result = session.execute(
                    update(Account).where(Account.id == acct_id)
                    .values(balance_fen=Account.balance_fen + deltas[acct_id])
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:
                    raise NotFound(f"账户 {acct_id} 不存在", code="account_not_found")
        except IntegrityError as exc:
            raise InsufficientBalance(details={"account_id": acct_id}) from exc
    return PostedTransaction(new_id, idempotency_key, replayed=False)


def balance_of(session: Session, account_id_: int) -> int:
    return session.execute(select(Account.balance_fen).where(Account.id == account_id_)).scalar_one()


def account_postings_total(session: Session, account_id_: int) -> int:
    return session.execute(
        select(func.coalesce(func.sum(Posting.amount_fen), 0)).where(Posting.account_id == account_id_)
    ).scalar_one()
