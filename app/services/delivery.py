"""Draining the notification outbox into WeChat subscribe messages.

    pending ──dispatch──▶ queued ──deliver_chunk──▶ sending ──▶ sent | skipped_no_quota | failed
                                                          └──(45009, timeout, 5xx)──▶ pending, later

- dispatch() takes due rows in chunks (set-based, a claim token and a lease per chunk) and hands each
  chunk's ids to a queue (RQ on Redis, or inline): one job per chunk, never one per member.
- deliver_chunk() claims the chunk's rows (queued → sending, spending one quota each, atomically),
  commits, then sends outside any transaction, and records outcomes in small batches.
- A worker that dies leaves rows queued/sending; when their lease ends dispatch() takes them again.
  A row whose quota was already spent is not charged twice; if it was in fact delivered before the
  crash, WeChat answers 43101 (its consent is used up) and the member still gets one message.

Services never import a WeChat SDK: the sender is any SubscribeMessageSender (app.services.ports)."""
from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import (Account, DomainEvent, Membership, Notification, Plan, SubscribeQuota, User)

from .money import fen_to_yuan_text
from .ports import SubscribeMessageSender, WeChatRejected, WeChatUnavailable
from .subscriptions import Template
from .unit_of_work import atomic, outside_transaction

RETRY_ERRCODES = {-1, 45009}
BACKOFF_SECONDS = (30, 120, 600, 1800, 3600)
OUTCOME_BATCH = 25  # outcomes recorded per transaction (a crash re-sends at most this many)

# WeChat's value limits by keyword type (the keyword without its digits).
VALUE_LIMITS = {"thing": 20, "character_string": 32, "number": 32, "letter": 32, "symbol": 5,
                "phone_number": 17, "car_number": 8, "name": 10, "phrase": 5}


Enqueue = Callable[[list[int], str], None]


@dataclass(frozen=True)
class Policy:
    # A chunk's lease must outlast sending it (chunk_size × the WeChat client's 5 s timeout, plus
    # margin): a lease ending mid-chunk lets dispatch hand the rows to a second worker.
    lease_seconds: int = 2_800
    max_attempts: int = 6
    chunk_size: int = 500


# --- rendering ---------------------------------------------------------------------------------

STATE_PHRASES = {"observing": "观察期中", "resumed": "已恢复", "lapsed": "已失效", "observation_over": "保障中",
                 "suspended": "已暂停", "balance_low": "余额不足"}
CLAIM_PHRASES = {"submitted": "已提交", "under_review": "审核中", "returned": "待补充", "investigating": "调查中",
                 "publicity": "公示中", "ready": "待分摊", "collected": "已筹集", "paid": "已打款",
                 "rejected": "未通过", "withdrawn": "已撤回"}
NOTES = {
    "case_note": "本期互助案件已公布，请查看",
    "publicity_note": "新案件公示中，欢迎监督",
    "deducted_note": "本期分摊已从余额扣除",
    "balance_note": "请及时充值以保持保障",
    "protected_note": "观察期已结束，保障已生效",
    "aid_note": "互助金已打款，请查收",
    "proposal_note": "规则变更需您同意，请表态",
}
TOPUP_NOTES = {"topup": "充值已到账，感谢参与互助", "sponsor_topup": "有人为您的互助充值了"}
STATUS_NOTES = {"observing": "已加入，观察期开始", "resumed": "充值成功，保障已恢复",
                "lapsed": "宽限期已过，请重新加入"}


def yuan(fen: int | None) -> str:
    return fen_to_yuan_text(int(fen or 0), form="amount")


@dataclass
class Row:
    id: int
    kind: str
    template_key: str
    amount_fen: int | None
    claim_id: int | None
    openid: str
    plan_name: str | None
    person_name: str | None
    balance_fen: int | None
    payload: dict = field(default_factory=dict)


def _value(source: str, row: Row) -> str:
    payload = row.payload or {}
    if source == "plan_name":
        return row.plan_name or "互助计划"
    if source == "person_plan":
        return f"{row.person_name}·{row.plan_name}" if row.person_name else (row.plan_name or "互助计划")
    if source == "case_count":
        return str(payload.get("case_count", 1))
    if source in ("share_yuan", "amount_yuan"):
        return yuan(row.amount_fen)
    if source == "balance_yuan":
        return yuan(row.balance_fen if row.balance_fen is not None else row.amount_fen)
    if source == "state_phrase":
        return STATE_PHRASES.get(row.kind, "已更新")
    if source == "status_note":
        return STATUS_NOTES.get(row.kind, "点击查看详情")
    if source == "claim_number":
        return f"HZ{row.claim_id or 0:08d}"
    if source == "claim_phrase":
        if row.kind == "objection_resolved":
            return "异议成立" if payload.get("upheld") else "异议未成立"
        return CLAIM_PHRASES.get(payload.get("to"), "已更新")
    if source == "claim_note":
        return payload.get("reason") or "点击查看申请进度"
    if source == "topup_note":
        return TOPUP_NOTES.get(row.kind, TOPUP_NOTES["topup"])
    return NOTES.get(source, "点击查看详情")


def render(template: Template, row: Row) -> dict[str, str]:
    data = {}
    for keyword, source in template.fields.items():
        text = _value(source, row)
        limit = VALUE_LIMITS.get(keyword.rstrip("0123456789"))
        data[keyword] = text[:limit] if limit else text
    return data


def _rows(session: Session, ids: list[int]) -> list[Row]:
    found = session.execute(
        sa.select(Notification.id, Notification.kind, Notification.template_key, Notification.amount_fen,
                  Notification.claim_id, User.openid, Plan.name, Membership.person_name_masked,
                  Account.balance_fen, DomainEvent.payload)
        .join(User, User.id == Notification.user_id)
        .outerjoin(Plan, Plan.id == Notification.plan_id)
        .outerjoin(Membership, Membership.id == Notification.membership_id)
        .outerjoin(Account, Account.membership_id == Notification.membership_id)
        .outerjoin(DomainEvent, DomainEvent.id == Notification.event_id)
        .where(Notification.id.in_(ids))
        .order_by(Notification.id)
    ).all()
    return [Row(*r) for r in found]


# --- dispatch ----------------------------------------------------------------------------------


def _due(now: dt.datetime):
    return sa.or_(
        sa.and_(Notification.status == "pending", Notification.next_attempt_at <= now),
        sa.and_(Notification.status.in_(("queued", "sending")), Notification.lease_until <= now),
    )


def dispatch(session: Session, enqueue: Enqueue, *, now: dt.datetime, policy: Policy = Policy(),
             max_chunks: int | None = None) -> int:
    """Hand every due row to `enqueue` in chunks; returns how many rows were handed over.

    Each chunk is claimed (status queued, a fresh token, a lease) and committed before it is
    enqueued; concurrent dispatchers on PostgreSQL skip each other's rows."""
    handed = chunks = 0
    lease = now + dt.timedelta(seconds=policy.lease_seconds)
    while max_chunks is None or chunks < max_chunks:
        token = uuid.uuid4().hex
        with atomic(session):
            query = sa.select(Notification.id).where(_due(now)).order_by(Notification.id).limit(policy.chunk_size)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(session.execute(query).scalars())
            if ids:
                session.execute(
                    sa.update(Notification).where(Notification.id.in_(ids))
                    .values(status="queued", claim_token=token, lease_until=lease)
                    .execution_options(synchronize_session=False))
        if not ids:
            break
        enqueue(ids, token)
        handed += len(ids)
        chunks += 1
    return handed


# --- delivery ----------------------------------------------------------------------------------


@dataclass
class ChunkResult:
    claimed: int = 0
    outcomes: Counter = field(default_factory=Counter)


def _spend_quotas(session: Session, claimed: list, now: dt.datetime) -> tuple[list[int], list[int]]:
    """Spend one quota per row not yet charged; returns (charged ids, ids without quota)."""
    to_charge = [r for r in claimed if not r.quota_spent]
    pairs = Counter((r.user_id, r.template_key) for r in to_charge)
    charged: list[int] = []
    single = [r for r in to_charge if pairs[(r.user_id, r.template_key)] == 1]
    if single:
        ids = [r.id for r in single]
        spent = set(session.execute(
            sa.update(SubscribeQuota)
            .where(SubscribeQuota.remaining > 0, SubscribeQuota.id.in_(
                sa.select(SubscribeQuota.id).join(
                    Notification, sa.and_(Notification.user_id == SubscribeQuota.user_id,
                                          Notification.template_key == SubscribeQuota.template_key))
                .where(Notification.id.in_(ids))))
            .values(remaining=SubscribeQuota.remaining - 1, updated_at=now)
            .returning(SubscribeQuota.user_id, SubscribeQuota.template_key)
            .execution_options(synchronize_session=False)
        ).all())
        charged += [r.id for r in single if (r.user_id, r.template_key) in spent]
    for r in to_charge:  # the same user and template twice in one chunk: one at a time
        if pairs[(r.user_id, r.template_key)] > 1:
            spent = session.execute(
                sa.update(SubscribeQuota)
                .where(SubscribeQuota.user_id == r.user_id, SubscribeQuota.template_key == r.template_key,
                       SubscribeQuota.remaining > 0)
                .values(remaining=SubscribeQuota.remaining - 1, updated_at=now)
                .execution_options(synchronize_session=False)).rowcount
            if spent:
                charged.append(r.id)
    charged_set = set(charged)
    missing = [r.id for r in to_charge if r.id not in charged_set]
    return charged, missing


def classify(error: Exception) -> str:
    """'retry' (45009, timeouts, 5xx, connection trouble), 'no_quota' (43101) or 'failed'."""
    if isinstance(error, WeChatUnavailable):
        return "retry"
    if isinstance(error, WeChatRejected):
        if error.errcode == 43101:
            return "no_quota"
        if error.errcode is None or error.errcode in RETRY_ERRCODES:
            return "retry"
    return "failed"


def deliver_chunk(session: Session, sender: SubscribeMessageSender, templates: dict[str, Template], ids: list[int],
                  token: str, *, clock, policy: Policy = Policy()) -> ChunkResult:
    """Send one chunk. Only rows still queued under this token are taken (a stale job does nothing)."""
    result = ChunkResult()
    now = clock.now()
    table = Notification.__table__
    with atomic(session):
        claimed = session.execute(
            sa.update(table)
            .where(table.c.id.in_(ids), table.c.status == "queued", table.c.claim_token == token)
            .values(status="sending", attempts=table.c.attempts + 1,
                    lease_until=now + dt.timedelta(seconds=policy.lease_seconds))
            .returning(table.c.id, table.c.user_id, table.c.template_key, table.c.quota_spent, table.c.attempts)
        ).all()
        result.claimed = len(claimed)
        charged, missing = _spend_quotas(session, claimed, now)
        if charged:
            session.execute(sa.update(table).where(table.c.id.in_(charged)).values(quota_spent=True))
        if missing:
            session.execute(sa.update(table).where(table.c.id.in_(missing)).values(
                status="skipped_no_quota", finished_at=now, lease_until=None, claim_token=None,
                last_error="no subscribe quota"))
            result.outcomes["skipped_no_quota"] += len(missing)
        attempts = {r.id: r.attempts for r in claimed}
        missing_set = set(missing)
        to_send = _rows(session, [r.id for r in claimed if r.id not in missing_set])
    recorder = _OutcomeRecorder(session, clock, policy, result, token)
    for start in range(0, len(to_send), OUTCOME_BATCH):
        batch = to_send[start:start + OUTCOME_BATCH]
        # A lease that ended meanwhile let dispatch give these rows to another worker: not ours to send.
        with atomic(session):
            held = _held(session, [row.id for row in batch], token)
        result.outcomes["claim_lost"] += len(batch) - len(held)
        for row in (r for r in batch if r.id in held):
            template = templates.get(row.template_key)
            if template is None:
                recorder.add(row, attempts[row.id], "failed", f"unknown template {row.template_key}")
                continue
            try:
                with outside_transaction(session):
                    sender.send_subscribe_message(row.openid, template.id, render(template, row), page=template.page)
            except Exception as error:  # classified; anything unexpected is a permanent failure, recorded
                recorder.add(row, attempts[row.id], classify(error), f"{type(error).__name__}: {error}"[:500])
            else:
                recorder.add(row, attempts[row.id], "sent", None)
        recorder.flush()
    if not result.outcomes["claim_lost"]:
        del result.outcomes["claim_lost"]
    return result


def _held(session: Session, ids: list[int], token: str) -> set[int]:
    """The ids still sending under this chunk's token (locked on PostgreSQL: dispatch skips them)."""
    if not ids:
        return set()
    query = sa.select(Notification.id).where(Notification.id.in_(ids), Notification.status == "sending",
                                             Notification.claim_token == token)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return set(session.execute(query).scalars())


class _OutcomeRecorder:
    """Records outcomes only for rows still held under the chunk's claim token: a worker whose lease
    ended (and whose rows another worker took) cannot overwrite the newer claim's outcomes."""

    def __init__(self, session: Session, clock, policy: Policy, result: ChunkResult, token: str):
        self.session, self.clock, self.policy, self.result = session, clock, policy, result
        self.token = token
        self.pending: list[tuple[Row, int, str, str | None]] = []

    def add(self, row: Row, attempts: int, outcome: str, error: str | None) -> None:
        self.pending.append((row, attempts, outcome, error))
        if len(self.pending) >= OUTCOME_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        with atomic(self.session):
            held = _held(self.session, [row.id for row, *_ in self.pending], self.token)
            self.result.outcomes["claim_lost"] += sum(1 for row, *_ in self.pending if row.id not in held)
            self._record([entry for entry in self.pending if entry[0].id in held])
        self.pending = []

    def _record(self, pending) -> None:
        now = self.clock.now()
        table = Notification.__table__
        owned = sa.and_(table.c.id == sa.bindparam("nid"), table.c.claim_token == self.token)
        final, retry, refunds, exhausted_quota = [], [], [], []
        for row, attempts, outcome, error in pending:
            if outcome == "retry" and attempts < self.policy.max_attempts:
                delay = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
                retry.append({"nid": row.id, "next_at": now + dt.timedelta(seconds=delay), "err": error})
                self.result.outcomes["retry"] += 1
                continue
            status = {"sent": "sent", "no_quota": "skipped_no_quota"}.get(outcome, "failed")
            final.append({"nid": row.id, "st": status, "err": error})
            self.result.outcomes[status] += 1
            if status == "failed":
                refunds.append(row.id)  # not delivered: give the reserved quota back
            elif outcome == "no_quota":
                exhausted_quota.append(row.id)
        quota_of = sa.select(Notification.user_id, Notification.template_key)
        # Quota first: it is found through the rows, which are still ours here.
        if refunds:
            self._adjust_quota(quota_of.where(Notification.id.in_(refunds)), SubscribeQuota.remaining + 1, now)
        if exhausted_quota:  # WeChat says this user has none left: believe it
            self._adjust_quota(quota_of.where(Notification.id.in_(exhausted_quota)), 0, now)
        if final:
            self.session.execute(
                sa.update(table).where(owned)
                .values(status=sa.bindparam("st"), last_error=sa.bindparam("err"), finished_at=now,
                        lease_until=None, claim_token=None), final)
        if retry:
            self.session.execute(
                sa.update(table).where(owned)
                .values(status="pending", next_attempt_at=sa.bindparam("next_at"),
                        last_error=sa.bindparam("err"), lease_until=None, claim_token=None), retry)

    def _adjust_quota(self, pairs, value, now) -> None:
        for user_id, template_key in self.session.execute(pairs).all():
            self.session.execute(
                sa.update(SubscribeQuota)
                .where(SubscribeQuota.user_id == user_id, SubscribeQuota.template_key == template_key)
                .values(remaining=value, updated_at=now).execution_options(synchronize_session=False))


# --- operators ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxStatus:
    by_status: dict[str, int]
    by_template: dict[str, dict[str, int]]
    due_now: int
    recent_errors: list[dict]


def status(session: Session, now: dt.datetime, errors: int = 10) -> OutboxStatus:
    counts = session.execute(
        sa.select(Notification.template_key, Notification.status, sa.func.count())
        .group_by(Notification.template_key, Notification.status)).all()
    by_status: Counter = Counter()
    by_template: dict[str, dict[str, int]] = {}
    for template_key, state, count in counts:
        by_status[state] += count
        by_template.setdefault(template_key, {})[state] = count
    due = session.execute(sa.select(sa.func.count()).select_from(Notification).where(_due(now))).scalar_one()
    recent = session.execute(
        sa.select(Notification.id, Notification.kind, Notification.status, Notification.attempts,
                  Notification.last_error, Notification.next_attempt_at)
        .where(Notification.last_error.is_not(None), Notification.status != "skipped_no_quota")
        .order_by(Notification.id.desc()).limit(errors)).all()
    return OutboxStatus(dict(by_status), by_template, due, [dict(r._mapping) for r in recent])
