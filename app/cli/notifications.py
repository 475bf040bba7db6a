"""`flask notifications status|dispatch|work`: the subscribe-message outbox for operators."""
from __future__ import annotations

import json
import time

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

from . import _now, at_option

notifications_cli = AppGroup("notifications", help="Subscribe-message outbox: status, dispatch, workers.")


@notifications_cli.command("status")
@at_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(at, as_json):
    """Counts by status and template, rows due now, the latest errors."""
    from app.services.delivery import status as outbox_status

    report = outbox_status(db.session, _now(at))
    if as_json:
        click.echo(json.dumps({"by_status": report.by_status, "by_template": report.by_template,
                               "due_now": report.due_now, "recent_errors": report.recent_errors},
                              default=str, ensure_ascii=False))
        return
    click.echo("by status: " + ", ".join(f"{k}={v}" for k, v in sorted(report.by_status.items())) or "empty")
    for template, counts in sorted(report.by_template.items()):
        click.echo(f"  {template}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    click.echo(f"due now: {report.due_now}")
    for error in report.recent_errors:
        click.echo(f"  #{error['id']} {error['kind']} {error['status']} attempts={error['attempts']}: "
                   f"{error['last_error']}")


@notifications_cli.command("dispatch")
@at_option
@click.option("--every", type=float, default=None, help="keep dispatching every N seconds")
def dispatch(at, every):
    """Hand due notifications to the workers in chunks (inline without REDIS_URL)."""
    from app.jobs import dispatch as dispatch_due

    app = current_app._get_current_object()
    while True:
        handed = dispatch_due(app, now=_now(at))
        click.echo(f"dispatched: {handed}")
        if every is None:
            return
        db.session.remove()
        time.sleep(every)


@notifications_cli.command("work")
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
def work(burst):
    """An RQ worker for notification chunks (needs REDIS_URL)."""
    from app.jobs import work as run_worker
    from app.metrics import serve_process_metrics

    serve_process_metrics(current_app.config.get("METRICS_PORT"))
    try:
        run_worker(current_app._get_current_object(), burst=burst)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None


commands = [notifications_cli]
