"""Delivery: a worker whose lease ended neither sends nor records the rows another worker now holds."""
import datetime as dt
import inspect

import sqlalchemy as sa

from app.models import SubscribeQuota
from app.services import delivery
from app.services.clock import FrozenClock
from tests.support import consent, member, new_user, record, rows

KIND = "case_announced"


class _Sender:
    def __init__(self, during_first_send=None, error: Exception | None = None):
        self.sent, self.during_first_send, self.error = [], during_first_send, error

    def send_subscribe_message(self, openid, template_id, data, page=None):
        self.sent.append(openid)
        if self.during_first_send is not None:
            hook, self.during_first_send = self.during_first_send, None
            hook()
        if self.error is not None:
            raise self.error


def _chunks(session, now, policy):
    handed = []
    delivery.dispatch(session, lambda ids, token: handed.append((ids, token)), now=now, policy=policy)
    return handed


def test_a_stale_claim_token_neither_sends_nor_overwrites_outcomes(session, services, emulator, clock, monkeypatch):
    monkeypatch.setattr(delivery, "OUTCOME_BATCH", 1)  # the lost claim is noticed before each next row
    users = [new_user(session, clock) for _ in range(3)]
    plan_id = member(session, services, clock, users[0].id).plan_id
    for user in users[1:]:
        member(session, services, clock, user.id)
    for user in users:
        consent(session, services, emulator, user, KIND)
    record(session, "run.published", clock, plan_id=plan_id, run_id=1, payload={"share_fen": 100, "case_count": 1})
    policy = delivery.Policy(lease_seconds=60)
    ids = sorted(r.id for r in rows(session, kind=KIND))
    [(first_ids, first_token)] = [c for c in _chunks(session, clock.now(), policy) if set(ids) <= set(c[0])]
    later = FrozenClock(clock.now() + dt.timedelta(seconds=61))
    second = _Sender()

    def lease_ends_and_another_worker_delivers():
        [(again_ids, again_token)] = [c for c in _chunks(session, later.now(), policy) if set(ids) <= set(c[0])]
        assert again_token != first_token
        delivery.deliver_chunk(session, second, services.subscribe_templates, again_ids, again_token,
                               clock=later, policy=policy)

    # The first worker's first send outlives its lease, then fails permanently.
    first = _Sender(during_first_send=lease_ends_and_another_worker_delivers, error=ValueError("late"))
    result = delivery.deliver_chunk(session, first, services.subscribe_templates, first_ids, first_token,
                                    clock=clock, policy=policy)
    assert sorted(second.sent) == sorted(u.openid for u in users)
    assert len(first.sent) == 1  # the rows it no longer held were not sent a second time
    assert {r.status for r in rows(session, kind=KIND)} == {"sent"}  # its "failed" did not overwrite "sent"
    assert result.outcomes.get("failed", 0) == 0 and result.outcomes["claim_lost"] == len(ids)
    session.expire_all()
    quotas = session.execute(sa.select(SubscribeQuota.remaining).where(
        SubscribeQuota.user_id.in_([u.id for u in users]), SubscribeQuota.template_key == KIND)).scalars().all()
    assert quotas == [0, 0, 0]  # no quota given back for a message that was delivered


def test_the_default_lease_outlasts_a_chunk_sent_at_the_client_timeout(app):
    from wechat.mp import MiniProgramClient

    timeout = inspect.signature(MiniProgramClient).parameters["timeout"].default
    for lease, chunk in ((app.config["NOTIFICATION_LEASE_SECONDS"], app.config["NOTIFICATION_CHUNK_SIZE"]),
                         (delivery.Policy().lease_seconds, delivery.Policy().chunk_size)):
        assert lease >= chunk * timeout
