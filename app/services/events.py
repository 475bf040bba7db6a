"""Record domain events in the caller's transaction and let subscribers react in it too.

A subscriber is `handler(session, event)`; it must do set-based SQL (a fan-out to a whole
plan is one INSERT ... SELECT), never one ORM object per member. Subscribers register with
`subscribe(kind)`; the modules that define them are listed in SUBSCRIBER_MODULES and
imported on first use, so services work the same with or without the Flask app."""
from __future__ import annotations

import datetime as dt
import importlib
from collections import defaultdict
from typing import Callable

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.models.events import DomainEvent

# Modules whose import registers subscribers (e.g. the notification outbox).
SUBSCRIBER_MODULES: list[str] = [
    "app.services.outbox",
    "app.services.rule_change_notices",
]

_subscribers: dict[str, list[Callable]] = defaultdict(list)
_loaded = False


def subscribe(kind: str):
    def register(handler: Callable):
        if handler not in _subscribers[kind]:
            _subscribers[kind].append(handler)
        return handler

    return register


def _load_subscribers() -> None:
    global _loaded
    if not _loaded:
        for module in SUBSCRIBER_MODULES:
            importlib.import_module(module)
        _loaded = True


def record(
    session: Session,
    kind: str,
    *,
    now: dt.datetime,
    user_id: int | None = None,
    plan_id: int | None = None,
    membership_id: int | None = None,
    claim_id: int | None = None,
    run_id: int | None = None,
    payload: dict | None = None,
) -> int:
    """Append one event inside the caller's transaction; returns its id."""
    _load_subscribers()
    values = dict(kind=kind, user_id=user_id, plan_id=plan_id, membership_id=membership_id, claim_id=claim_id,
                  run_id=run_id, payload=payload or {}, created_at=now)
    event_id = session.execute(insert(DomainEvent).values(**values).returning(DomainEvent.id)).scalar_one()
    event = DomainEvent(id=event_id, **values)
    for handler in _subscribers.get(kind, []):
        handler(session, event)
    return event_id
