"""Subscribe-message templates (config data) and each user's consent quota per template.

WeChat's rule: every accept in wx.requestSubscribeMessage allows one message of that template.
We keep our own count so a send without quota is skipped without calling WeChat; a send spends
one atomically (UPDATE ... SET remaining = remaining - 1 WHERE remaining > 0)."""
from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import SubscribeQuota

from .errors import InvalidRequest
from .sql import insert_for
from .unit_of_work import atomic

# A user cannot bank more than this many sends of one template (WeChat itself counts the real ones).
MAX_QUOTA_PER_TEMPLATE = 50


@dataclass(frozen=True)
class Template:
    key: str
    id: str
    title: str
    page: str
    fields: dict[str, str]  # WeChat keyword (thing1, amount2, ...) -> what fills it


@lru_cache(maxsize=8)
def load_templates(path: str) -> dict[str, Template]:
    with open(path, "rb") as handle:
        raw = tomllib.load(handle)
    return {key: Template(key=key, id=t["id"], title=t["title"], page=t["page"], fields=dict(t["fields"]))
            for key, t in raw.items()}


def consent(session: Session, templates: dict[str, Template], *, user_id: int, accepted: list[str],
            now: dt.datetime) -> dict[str, int]:
    """The user accepted these templates (by key or by WeChat template id): one more send each."""
    by_id = {t.id: t.key for t in templates.values()}
    keys = []
    for item in accepted:
        key = item if item in templates else by_id.get(item)
        if key is None:
            raise InvalidRequest("没有这个订阅消息模板", code="unknown_template", details={"template": item})
        keys.append(key)
    table = SubscribeQuota.__table__
    with atomic(session):
        for key in keys:
            stmt = insert_for(session, table).values(user_id=user_id, template_key=key, remaining=1, updated_at=now)
            stmt = stmt.on_conflict_do_update(
                index_elements=["user_id", "template_key"],
                set_={"remaining": sa.case((table.c.remaining >= MAX_QUOTA_PER_TEMPLATE, MAX_QUOTA_PER_TEMPLATE),
                                           else_=table.c.remaining + 1),
                      "updated_at": now},
            )
            session.execute(stmt)
    return quotas_of(session, user_id)


def quotas_of(session: Session, user_id: int) -> dict[str, int]:
    rows = session.execute(sa.select(SubscribeQuota.template_key, SubscribeQuota.remaining)
                           .where(SubscribeQuota.user_id == user_id)).all()
    return {key: remaining for key, remaining in rows}
