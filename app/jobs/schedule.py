"""The clock process: `flask scheduler run` calls each periodic task when it is due.

Tasks are the same plain functions the CLI commands call. With Redis, a task's slot (its name
and the start of its period) is claimed with SET NX, so two scheduler processes never run the
same slot twice; without Redis, run one scheduler process."""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, replace
from typing import Callable, Mapping

from flask import Flask

from app.container import container_of
from app.extensions import db
from app.logs import request_id_bound
from app.metrics import SCHEDULED_TASK_RUNS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    every: dt.timedelta
    run: Callable[[Flask, dt.datetime], object]


def _dispatch_notifications(app: Flask, now: dt.datetime):
    from app.jobs import dispatch

    return dispatch(app, now=now)


def _reconcile_payments(app: Flask, now: dt.datetime):
    from app.metrics import record_reconcile
    from app.services.payments import reconcile

    report = reconcile(db.session, container_of(app).pay, now)
    record_reconcile(report)
    return report


def _advance_claims(app: Flask, now: dt.datetime):
    from app.services import payouts, refunds
    from app.services.claims import promote_finished_publicity

    pay = container_of(app).pay
    ready = promote_finished_publicity(db.session, now)
    return ready, payouts.process_open(db.session, pay, now), refunds.refund_aided_balances(db.session, pay, now)


def _advance_members(app: Flask, now: dt.datetime):
    from app.services.memberships import advance

    return advance(db.session, now)


def _refresh_plan_stats(app: Flask, now: dt.datetime):
    from app.services import plan_stats

    return plan_stats.refresh(db.session, now, 12 * len(app.config["APPORTIONMENT_DAYS_OF_MONTH"]))


def _publish_runs(app: Flask, now: dt.datetime):
    from app.jobs.apportionment import prepare_and_publish_due

    return prepare_and_publish_due(db.session, now, days_of_month=app.config["APPORTIONMENT_DAYS_OF_MONTH"],
                                   chunk_size=app.config["APPORTIONMENT_CHUNK_SIZE"])


def _execute_runs(app: Flask, now: dt.datetime):
    from app.jobs import queue
    from app.jobs.apportionment import QUEUE_NAME, execute_due, hand_out_chunks, hand_out_notice_parts

    # With Redis and APPORTIONMENT_RQ_WORKERS, the chunks and notice parts go to the `flask apportion
    # work` processes (in parallel); inline otherwise.
    rq = app.config.get("APPORTIONMENT_RQ_WORKERS") and queue(app, QUEUE_NAME) is not None
    hand_out = (lambda run_id, at: hand_out_chunks(app, run_id, at)) if rq else None
    hand_out_notices = (lambda run_id: hand_out_notice_parts(app, run_id)) if rq else None
    return execute_due(db.session, now, notice=dt.timedelta(hours=app.config["APPORTIONMENT_NOTICE_HOURS"]),
                       grace_days=app.config["SUSPENSION_GRACE_DAYS"], hand_out=hand_out,
                       hand_out_notices=hand_out_notices)


def _privacy_retention(app: Flask, now: dt.datetime):
    from app.jobs.privacy import run_retention

    return run_retention(app, now)


def _publish_audit_heads(app: Flask, now: dt.datetime):
    from app.jobs.privacy import publish_audit_heads

    return publish_audit_heads(app, now)
def _freeze_reports(app: Flask, now: dt.datetime):
    from app.services.reports import freeze_closed_months

    return freeze_closed_months(db.session, now)


def _advance_proposals(app: Flask, now: dt.datetime):
    from app.services.rule_changes import advance

    return advance(db.session, now)
def _wind_down(app: Flask, now: dt.datetime):
    from app.jobs.wind_down import advance

    return advance(app, now)


def _reconcile_bills(app: Flask, now: dt.datetime):
    from app.metrics import record_bill_reconciliation
    from app.services.bills import reconcile_due

    rec = reconcile_due(db.session, container_of(app).pay, now)
    record_bill_reconciliation(db.session, rec)
    return rec


TASKS: list[PeriodicTask] = [
    PeriodicTask("notifications.dispatch", dt.timedelta(minutes=1), _dispatch_notifications),
    PeriodicTask("payments.reconcile", dt.timedelta(minutes=5), _reconcile_payments),
    PeriodicTask("claims.advance", dt.timedelta(minutes=15), _advance_claims),
    PeriodicTask("members.advance", dt.timedelta(hours=1), _advance_members),
    PeriodicTask("apportionment.publish", dt.timedelta(hours=1), _publish_runs),
    PeriodicTask("apportionment.execute", dt.timedelta(minutes=10), _execute_runs),
    PeriodicTask("privacy.retention", dt.timedelta(days=1), _privacy_retention),
    PeriodicTask("audit.publish_heads", dt.timedelta(days=1), _publish_audit_heads),
    PeriodicTask("reports.freeze", dt.timedelta(hours=1), _freeze_reports),
    PeriodicTask("bills.reconcile", dt.timedelta(hours=1), _reconcile_bills),  # yesterday, after 10:00 China time
    PeriodicTask("plans.refresh_stats", dt.timedelta(minutes=1), _refresh_plan_stats),
    PeriodicTask("proposals.close", dt.timedelta(minutes=10), _advance_proposals),  # windows end, effective dates
    PeriodicTask("wind_down.advance", dt.timedelta(minutes=5), _wind_down),
]


def slot_start(task: PeriodicTask, now: dt.datetime) -> dt.datetime:
    period = int(task.every.total_seconds())
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % period, dt.timezone.utc)


def configured_tasks(config: Mapping) -> list[PeriodicTask]:
    """TASKS with the cadences the settings' SCHEDULE_SECONDS overrides (development runs them often)."""
    overrides = config.get("SCHEDULE_SECONDS") or {}
    unknown = sorted(set(overrides) - {task.name for task in TASKS})
    if unknown:
        raise ValueError(f"SCHEDULE_SECONDS names unknown tasks: {', '.join(unknown)}")
    return [replace(task, every=dt.timedelta(seconds=overrides[task.name])) if task.name in overrides else task
            for task in TASKS]


def describe(tasks: list[PeriodicTask]) -> str:
    """`notifications.dispatch every 5s, ...`: what the startup banner states."""
    return ", ".join(f"{task.name} every {_duration(task.every)}" for task in tasks)


def _duration(every: dt.timedelta) -> str:
    seconds = int(every.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


class Scheduler:
    def __init__(self, app: Flask, tasks: list[PeriodicTask] | None = None):
        self.app = app
        self.tasks = configured_tasks(app.config) if tasks is None else tasks
        self._done: dict[str, dt.datetime] = {}

    def _claim(self, task: PeriodicTask, slot: dt.datetime) -> bool:
        if self._done.get(task.name) == slot:
            return False
        redis = container_of(self.app).redis
        if redis is not None:
            key = f"yiqi:schedule:{task.name}:{int(slot.timestamp())}"
            ttl = max(int(task.every.total_seconds()) * 2, 60)
            if not redis.set(key, "1", nx=True, ex=ttl):
                self._done[task.name] = slot
                return False
        self._done[task.name] = slot
        return True

    def tick(self, now: dt.datetime) -> list[str]:
        """Run every task whose current slot has not run yet; returns their names. A failing task
        is logged and does not stop the others (it runs again in its next slot)."""
        ran = []
        for task in self.tasks:
            if not self._claim(task, slot_start(task, now)):
                continue
            # One request id per task run: its log lines, WeChat calls and jobs share it.
            with self.app.app_context(), request_id_bound():
                try:
                    task.run(self.app, now)
                    ran.append(task.name)
                    SCHEDULED_TASK_RUNS.labels(task.name, "ok").inc()
                except Exception:
                    log.exception("scheduled task %s failed", task.name)
                    SCHEDULED_TASK_RUNS.labels(task.name, "failed").inc()
                finally:
                    db.session.remove()
        return ran

    def run_forever(self, poll_seconds: float | None = None) -> None:
        clock = container_of(self.app).clock
        poll = poll_seconds if poll_seconds is not None else self.app.config.get("SCHEDULER_POLL_SECONDS", 20.0)
        while True:
            self.tick(clock.now())
            time.sleep(poll)
