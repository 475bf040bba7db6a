"""WeChat groups: a user opening the mini-program from a group chat records presence in that group
(opengid from wx.getGroupEnterInfo, decrypted server-side with the user's session_key); members
of a group see how many of its members are protected, per plan. Counts only, never names."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import GroupPresence, Membership, Plan

from .errors import Conflict, InvalidRequest, NotFound
from .pii import PiiProtector
from .ports import OpenDataDecryptor, OpenDataInvalid
from .sql import insert_for
from .unit_of_work import atomic
from .users import session_key_of

_OPENGID = re.compile(r"^[0-9A-Za-z_\-]{1,64}$")


def enter(session: Session, pii: PiiProtector, decryptor: OpenDataDecryptor, *, user_id: int,
          encrypted_data: str, iv: str, now: dt.datetime) -> str:
    """Decrypt group-enter data (the watermark must carry our appid) and record presence; returns opengid."""
    session_key = session_key_of(session, pii, user_id)
    session.rollback()
    if session_key is None:
        raise Conflict("登录状态已失效，请重新打开小程序", code="session_key_missing")
    try:
        plain = decryptor.decrypt_open_data(session_key, encrypted_data, iv)
    except OpenDataInvalid:
        raise InvalidRequest("群信息无法解密，请重新进入", code="open_data_invalid") from None
    opengid = plain.get("opengid") if isinstance(plain, dict) else None
    if not isinstance(opengid, str) or not _OPENGID.match(opengid):
        raise InvalidRequest("群信息无效", code="opengid_invalid")
    table = GroupPresence.__table__
    with atomic(session):
        session.execute(insert_for(session, table).values(opengid=opengid, user_id=user_id, first_seen_at=now, last_seen_at=now)
                        .on_conflict_do_update(index_elements=["opengid", "user_id"], set_={"last_seen_at": now}))
    return opengid


@dataclass(frozen=True)
class PlanCount:
    plan_code: str
    plan_name: str
    protected: int


@dataclass(frozen=True)
class GroupSummary:
    opengid: str
    members_seen: int
    protected_people: int
    plans: list[PlanCount]


def summary(session: Session, *, user_id: int, opengid: str) -> GroupSummary:
    """Only for a user seen in that group; any other group is indistinguishable from an unknown one."""
    seen = session.execute(sa.select(GroupPresence.id).where(
        GroupPresence.opengid == opengid, GroupPresence.user_id == user_id)).first()
    if seen is None:
        raise NotFound("没有找到这个群", code="group_not_found")
    members = sa.select(GroupPresence.user_id).where(GroupPresence.opengid == opengid)
    members_seen = session.execute(sa.select(sa.func.count()).select_from(members.subquery())).scalar_one()
    rows = session.execute(
        sa.select(Plan.code, Plan.name, sa.func.count(Membership.id))
        .join(Plan, Plan.id == Membership.plan_id)
        .where(Membership.user_id.in_(members), Membership.state == "protected")
        .group_by(Plan.code, Plan.name).order_by(Plan.code)).all()
    plans = [PlanCount(code, name, count) for code, name, count in rows]
    return GroupSummary(opengid, members_seen, sum(p.protected for p in plans), plans)
