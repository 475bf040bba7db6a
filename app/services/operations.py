"""What an operator watches, in a few aggregate queries (the metrics endpoint runs them at scrape time).

Each query reads an indexed status column and only the rows still in flight, so its cost follows the
work outstanding, not the size of the history: sent and skipped notifications, closed claims,
finished runs and refunds are not counted here (the workers count sends as they happen)."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import (OPEN_CLAIM_STATUSES, OPEN_RUN_STATUSES, ApportionmentRun, Claim, Notification, PaymentRefund,
                        Plan)

from .apportionment import progress

# The outbox rows still to deliver, and the ones that gave up (an operator looks at those).
WATCHED_NOTIFICATION_STATUSES = ("pending", "queued", "sending", "failed")
WATCHED_REFUND_STATUSES = ("pending", "failed")  # failed: the money waits in refund_pending for an operator


@dataclass(frozen=True)
class RunProgress:
    run_id: int
    plan_code: str
    status: str
    chunks_done: int
    chunks_total: int


@dataclass
class Snapshot:
    notifications_by_status: dict[str, int] = field(default_factory=dict)
    open_claims_by_status: dict[str, int] = field(default_factory=dict)
    refunds_by_status: dict[str, tuple[int, int]] = field(default_factory=dict)  # status → (count, fen)
    runs: list[RunProgress] = field(default_factory=list)


def snapshot(session: Session) -> Snapshot:
    """Counts of the work in flight; every watched status is present (0 when none)."""
    result = Snapshot(
        notifications_by_status=dict.fromkeys(WATCHED_NOTIFICATION_STATUSES, 0),
        open_claims_by_status=dict.fromkeys(OPEN_CLAIM_STATUSES, 0),
        refunds_by_status=dict.fromkeys(WATCHED_REFUND_STATUSES, (0, 0)),
    )
    for status, count in session.execute(
            sa.select(Notification.status, sa.func.count())
            .where(Notification.status.in_(WATCHED_NOTIFICATION_STATUSES)).group_by(Notification.status)):
        result.notifications_by_status[status] = count
    for status, count in session.execute(
            sa.select(Claim.status, sa.func.count()).where(Claim.status.in_(OPEN_CLAIM_STATUSES))
            .group_by(Claim.status)):
        result.open_claims_by_status[status] = count
    for status, count, fen in session.execute(
            sa.select(PaymentRefund.status, sa.func.count(), sa.func.coalesce(sa.func.sum(PaymentRefund.amount_fen), 0))
            .where(PaymentRefund.status.in_(WATCHED_REFUND_STATUSES)).group_by(PaymentRefund.status)):
        result.refunds_by_status[status] = (count, int(fen))
    # Progress from the run's chunk rows: parallel workers finish chunks in any order.
    runs = session.execute(sa.select(ApportionmentRun, Plan.code).join(Plan, Plan.id == ApportionmentRun.plan_id)
                           .where(ApportionmentRun.status.in_(OPEN_RUN_STATUSES)).order_by(ApportionmentRun.id))
    for run, plan_code in runs.all():
        done = progress(session, run)
        result.runs.append(RunProgress(run.id, plan_code, run.status, chunks_done=done["chunks_done"],
                                       chunks_total=done["chunks_total"]))
    return result
