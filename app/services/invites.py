"""Invites: every user's short code, the share path, the mini-program code (PNG), attribution.

Attribution: a NEW user logging in with an inviter code is attributed once (first touch wins, no
self-invites, never re-attributed), and one inviter gets at most so many new users an hour and a
day (Redis counters when configured, otherwise counted in the database). No cash rewards."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, InviteQrCode, Membership, User

from .errors import Unavailable
from .sql import insert_for
from .unit_of_work import atomic

SHARE_PAGE = "pages/index/index"


def share_path(code: str) -> str:
    return f"/{SHARE_PAGE}?inviter={code}"


@dataclass(frozen=True)
class InviteSummary:
    code: str
    share_path: str
    qrcode_scene: str
    invited_count: int  # users attributed to this code
    joined_count: int   # of them, those holding a membership


def summary(session: Session, user_id: int) -> InviteSummary:
    code = session.execute(sa.select(User.invite_code).where(User.id == user_id)).scalar_one()
    invited = sa.select(User.id).where(User.invited_by_user_id == user_id)
    invited_count = session.execute(sa.select(sa.func.count()).select_from(invited.subquery())).scalar_one()
    joined_count = session.execute(
        sa.select(sa.func.count(sa.distinct(Membership.user_id)))
        .where(Membership.user_id.in_(invited), Membership.state.in_(ACTIVE_STATES))).scalar_one()
    return InviteSummary(code, share_path(code), code, invited_count, joined_count)


class CodeGateway(Protocol):
    def get_unlimited_code(self, scene: str, page: str | None, width: int = 430) -> bytes: ...


def qrcode(session: Session, gateway: CodeGateway, *, user_id: int, now: dt.datetime) -> bytes:
    """The user's mini-program code; fetched from WeChat once, then served from the database."""
    cached = session.execute(sa.select(InviteQrCode.png).where(InviteQrCode.user_id == user_id)).scalar_one_or_none()
    session.rollback()  # end the read before calling WeChat
    if cached is not None:
        return cached
    code = session.execute(sa.select(User.invite_code).where(User.id == user_id)).scalar_one()
    session.rollback()
    from wechat.mp import WeChatError

    try:
        png = gateway.get_unlimited_code(code, page=SHARE_PAGE)
    except WeChatError:
        raise Unavailable("小程序码暂时无法生成，请稍后再试", code="qrcode_unavailable") from None
    table = InviteQrCode.__table__
    with atomic(session):
        session.execute(insert_for(session, table).values(user_id=user_id, scene=code, png=png, created_at=now)
                        .on_conflict_do_nothing(index_elements=["user_id"]))
    return png


class AttributionLimiter:
    """How many users one inviter may gain per hour and per day (invite farming)."""

    def __init__(self, per_hour: int, per_day: int, redis=None):
        self.per_hour, self.per_day, self.redis = per_hour, per_day, redis

    def allow(self, session: Session, inviter_id: int, now: dt.datetime) -> bool:
        if self.redis is not None:
            hour_key = f"yiqi:invites:{inviter_id}:h:{now:%Y%m%d%H}"
            day_key = f"yiqi:invites:{inviter_id}:d:{now:%Y%m%d}"
            pipe = self.redis.pipeline()
            pipe.incr(hour_key)
            pipe.expire(hour_key, 3600)
            pipe.incr(day_key)
            pipe.expire(day_key, 86400)
            in_hour, _, in_day, _ = pipe.execute()
            return in_hour <= self.per_hour and in_day <= self.per_day

        def since(delta: dt.timedelta) -> int:
            return session.execute(sa.select(sa.func.count()).select_from(User).where(
                User.invited_by_user_id == inviter_id, User.created_at > now - delta)).scalar_one()

        return since(dt.timedelta(hours=1)) < self.per_hour and since(dt.timedelta(days=1)) < self.per_day


def attribute(session: Session, limiter: AttributionLimiter | None, *, user_id: int, inviter_code: str,
              now: dt.datetime) -> bool:
    """Inside the login transaction that created `user_id`. Returns whether it was attributed."""
    code = (inviter_code or "").strip().upper()
    if not code:
        return False
    inviter_id = session.execute(sa.select(User.id).where(User.invite_code == code)).scalar_one_or_none()
    if inviter_id is None or inviter_id == user_id:
        return False
    if limiter is not None and not limiter.allow(session, inviter_id, now):
        return False
    # First touch wins: only a user not yet attributed, and never to itself.
    return session.execute(
        sa.update(User).where(User.id == user_id, User.invited_by_user_id.is_(None), User.id != inviter_id)
        .values(invited_by_user_id=inviter_id).execution_options(synchronize_session=False)
    ).rowcount == 1
