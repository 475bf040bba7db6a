"""Invites: every user's short code, the share path, the mini-program code (PNG), attribution.

Attribution: a NEW user logging in with an inviter code is attributed once (first touch wins, no
self-invites, never re-attributed), and one inviter gets at most so many new users an hour and a
day (the `limits` library's counters: Redis when configured, otherwise memory). No cash rewards."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, InviteQrCode, Membership, User

from .errors import Unavailable
from .ports import CodeGateway, WeChatCallFailed
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


def qrcode(session: Session, gateway: CodeGateway, *, user_id: int, now: dt.datetime) -> bytes:
    """The user's mini-program code; fetched from WeChat once, then served from the database."""
    cached = session.execute(sa.select(InviteQrCode.png).where(InviteQrCode.user_id == user_id)).scalar_one_or_none()
    session.rollback()  # end the read before calling WeChat
    if cached is not None:
        return cached
    code = session.execute(sa.select(User.invite_code).where(User.id == user_id)).scalar_one()
    session.rollback()
    try:
        png = gateway.get_unlimited_code(code, page=SHARE_PAGE)
    except WeChatCallFailed:
        raise Unavailable("小程序码暂时无法生成，请稍后再试", code="qrcode_unavailable") from None
    table = InviteQrCode.__table__
    with atomic(session):
        session.execute(insert_for(session, table).values(user_id=user_id, scene=code, png=png, created_at=now)
                        .on_conflict_do_nothing(index_elements=["user_id"]))
    return png


class AttributionLimiter:
    """How many users one inviter may gain per hour and per day (invite farming).

    Counted by the `limits` library in its storage (Redis when configured, else memory). The
    windows are the injected clock's hour and day, part of each key: the count follows business
    time, and a frozen clock in tests moves the window like real time does in production."""

    def __init__(self, per_hour: int, per_day: int, storage):
        from limits import RateLimitItemPerDay, RateLimitItemPerHour
        from limits.strategies import FixedWindowRateLimiter

        self.limits = (RateLimitItemPerHour(per_hour), RateLimitItemPerDay(per_day))
        self.strategy = FixedWindowRateLimiter(storage)

    def allow(self, inviter_id: int, now: dt.datetime) -> bool:
        """Counts this attempt in both windows (atomic increments), then says whether both allow it."""
        hour, day = self.limits
        in_hour = self.strategy.hit(hour, "invites", str(inviter_id), f"{now:%Y%m%d%H}")
        in_day = self.strategy.hit(day, "invites", str(inviter_id), f"{now:%Y%m%d}")
        return in_hour and in_day


def attribute(session: Session, limiter: AttributionLimiter | None, *, user_id: int, inviter_code: str,
              now: dt.datetime) -> bool:
    """Inside the login transaction that created `user_id`. Returns whether it was attributed."""
    code = (inviter_code or "").strip().upper()
    if not code:
        return False
    inviter_id = session.execute(sa.select(User.id).where(User.invite_code == code)).scalar_one_or_none()
    if inviter_id is None or inviter_id == user_id:
        return False
    if limiter is not None and not limiter.allow(inviter_id, now):
        return False
    # First touch wins: only a user not yet attributed, and never to itself.
    return session.execute(
        sa.update(User).where(User.id == user_id, User.invited_by_user_id.is_(None), User.id != inviter_id)
        .values(invited_by_user_id=inviter_id).execution_options(synchronize_session=False)
    ).rowcount == 1
