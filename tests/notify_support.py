"""Helpers for the notification tests: members in a plan, consent on both sides, outbox reads."""
from __future__ import annotations

import itertools
import uuid

import sqlalchemy as sa

from app.models import Notification, User
from app.services import events, memberships, subscriptions
from app.services.memberships import JoinRequest
from app.services.unit_of_work import atomic
from app.services.users import new_invite_code
from tests.support import join_consented, make_id_number, no_answers, region_code, years_ago

_money = itertools.count(1)
_birthdays = itertools.count(1)


def new_user(session, clock, openid: str | None = None) -> User:
    with atomic(session):
        user = User(openid=openid or f"o-{uuid.uuid4().hex[:12]}", invite_code=new_invite_code(),
                    created_at=clock.now(), last_login_at=clock.now())
        session.add(user)
    return user


def member(session, services, clock, user_id: int, plan: str = "adult_789", prepay_fen: int | None = 500,
           age: int = 30):
    """A membership; with a prepay it is observing (which records membership.observing)."""
    # A distinct birthday and region per call: make_id_number's serial gives two calls in a row the same
    # number, and a clock moved by a day between calls can give two of them the same birthday.
    n = next(_birthdays)
    birth = years_ago(clock.now().date(), age, days=n % 300)
    request = JoinRequest(plan, "王五", make_id_number(birth, region=region_code(n)), "self", no_answers())
    m = join_consented(session, services.pii, user_id=user_id, request=request, now=clock.now())
    if prepay_fen:
        with atomic(session):
            memberships.credit(session, membership_id=m.id, amount_fen=prepay_fen,
                               idempotency_key=f"prepay-{next(_money)}-{uuid.uuid4().hex}", now=clock.now())
    return m


def record(session, kind: str, clock, **fields) -> int:
    with atomic(session):
        return events.record(session, kind, now=clock.now(), **fields)


def rows(session, **where) -> list[Notification]:
    session.expire_all()
    query = sa.select(Notification).order_by(Notification.id)
    for name, value in where.items():
        query = query.where(getattr(Notification, name) == value)
    return list(session.execute(query).scalars())


def consent(session, services, emulator, user: User, key: str, count: int = 1) -> None:
    """The user taps "allow" (WeChat's count) and the mini-program tells us (our count)."""
    template = services.subscribe_templates[key]
    with emulator.state.lock:
        from wechat.emulator.state import MiniProgramUser

        emulator.state.users.setdefault(user.openid, MiniProgramUser(user.openid, "a2V5a2V5a2V5a2V5a2V5aw=="))
        emulator.state.subscribe_quota[(user.openid, template.id)] += count
    for _ in range(count):
        subscriptions.consent(session, services.subscribe_templates, user_id=user.id, accepted=[key],
                              now=services.clock.now())


def delivered(emulator, openid: str, key_template_id: str | None = None) -> list:
    with emulator.state.lock:
        return [m for m in emulator.state.sent_messages
                if m.touser == openid and key_template_id in (None, m.template_id)]
