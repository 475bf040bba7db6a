"""WeChat login: a wx.login code becomes our user, via code2Session on WeChat's side."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import User

from .errors import InvalidRequest, NotFound, Unavailable
from .pii import PiiProtector
from .ports import LoginGateway, WeChatRejected, WeChatSession, WeChatUnavailable
from .unit_of_work import atomic, outside_transaction

# Short, unambiguous invite codes: no 0/O, 1/I/L.
_INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class LoginResult:
    user: User
    created: bool


def new_invite_code() -> str:
    return "".join(secrets.choice(_INVITE_ALPHABET) for _ in range(8))


def exchange_code(gateway: LoginGateway, code: str) -> WeChatSession:
    """Ask WeChat (outside any database transaction) who this code belongs to."""
    try:
        return gateway.code_to_session(code)
    except WeChatUnavailable as exc:
        if exc.timed_out:
            raise Unavailable() from None
        raise Unavailable(details={"errmsg": exc.errmsg}) from None  # unreachable or an HTTP error
    except WeChatRejected as exc:
        if exc.errcode == -1:  # WeChat busy
            raise Unavailable(details={"errmsg": exc.errmsg}) from None
        raise InvalidRequest(
            f"微信登录失败（{exc.errcode}：{exc.errmsg}），请重新打开小程序",
            code="wechat_login_failed", details={"errcode": exc.errcode, "errmsg": exc.errmsg},
        ) from None


def login(session: Session, pii: PiiProtector, gateway: LoginGateway, *, code: str, now: dt.datetime,
          inviter: str | None = None, invite_limiter=None) -> LoginResult:
    """`inviter`: the invite code the mini-program was opened with; only a new user is attributed."""
    with outside_transaction(session):
        wx = exchange_code(gateway, code)
    with atomic(session):
        user = session.execute(select(User).where(User.openid == wx.openid)).scalar_one_or_none()
        created = user is None
        if created:
            user = User(openid=wx.openid, unionid=wx.unionid, invite_code=new_invite_code(),
                        created_at=now, last_login_at=now, session_key_encrypted=pii.encrypt(wx.session_key))
            session.add(user)
            try:
                with session.begin_nested():
                    session.flush()
            except IntegrityError:
                # A concurrent first login for the same openid won; use its row.
                created = False
                user = session.execute(select(User).where(User.openid == wx.openid)).scalar_one()
        if created and inviter:
            from .invites import attribute

            if attribute(session, invite_limiter, user_id=user.id, inviter_code=inviter, now=now):
                session.refresh(user)
        if not created:
            values = {"last_login_at": now, "session_key_encrypted": pii.encrypt(wx.session_key)}
            if wx.unionid:
                values["unionid"] = wx.unionid
            session.execute(update(User).where(User.id == user.id).values(**values)
                            .execution_options(synchronize_session=False))
            session.refresh(user)
    return LoginResult(user=user, created=created)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在", code="user_not_found")
    return user


def user_exists(session: Session, user_id: int) -> bool:
    return session.get(User, user_id) is not None


def session_key_of(session: Session, pii: PiiProtector, user_id: int) -> str | None:
    encrypted = session.execute(select(User.session_key_encrypted).where(User.id == user_id)).scalar_one_or_none()
    return pii.decrypt(encrypted) if encrypted else None
