"""Pushes of rule changes through the notification outbox (imported via events.SUBSCRIBER_MODULES).

"proposal.opened": one subscribe message (template `rule_change`) per payer holding an active
membership of the plan, written set-based (one INSERT ... SELECT), deduplicated per proposal and user."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, DomainEvent, Membership

from .events import subscribe
from .outbox import write_rows

TEMPLATE_KEY = "rule_change"


@subscribe("proposal.opened")
def on_proposal_opened(session: Session, event: DomainEvent) -> None:
    proposal_id = int(event.payload["proposal_id"])
    rows = (
        sa.select((sa.literal(f"rule_change:{proposal_id}:", sa.String) + sa.cast(Membership.user_id, sa.String))
                  .label("dedupe_key"), Membership.user_id.label("user_id"),
                  sa.literal(event.plan_id, sa.BigInteger).label("plan_id"),
                  sa.cast(sa.null(), sa.BigInteger).label("membership_id"),
                  sa.cast(sa.null(), sa.BigInteger).label("claim_id"),
                  sa.cast(sa.null(), sa.BigInteger).label("amount_fen"))
        .where(Membership.plan_id == event.plan_id, Membership.state.in_(ACTIVE_STATES))
        .group_by(Membership.user_id)
    )
    write_rows(session, event, kind="rule_change", template_key=TEMPLATE_KEY, rows=rows)
