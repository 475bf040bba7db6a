"""`flask wind-down advance [--at ISO]`: every closing plan one step on (the scheduler runs it too);
`flask wind-down work [--burst]`: an RQ worker for the balance-return chunks;
`flask wind-down progress PLAN`: done / pending / failed and the money returned."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

from . import _now, at_option

wind_down_cli = AppGroup("wind-down", help="Closing a plan: final run, balance returns, closing report.")


@wind_down_cli.command("advance")
@at_option
def advance(at):
    """Move every closing plan on: final run → returns (enqueued in chunks) → closed with its report."""
    from app.jobs.wind_down import advance as run

    for code, status in run(current_app, _now(at)).items():
        click.echo(f"{code}: {status}")


@wind_down_cli.command("work")
@click.option("--burst", is_flag=True, help="stop when the queue is empty")
def work(burst):
    """Work the wind_down queue (Redis required)."""
    from app.jobs.wind_down import work as run
    from app.metrics import serve_process_metrics

    serve_process_metrics(current_app.config.get("METRICS_PORT"))
    try:
        run(current_app, burst=burst)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None


@wind_down_cli.command("progress")
@click.argument("plan_code")
def progress(plan_code):
    """The plan's returns: members, done, pending, failed, fen returned and remaining."""
    from app.services import wind_down

    plan, found = wind_down.for_plan(db.session, plan_code)
    if found is None:
        raise click.ClickException(f"{plan_code} is not closing")
    p = wind_down.progress(db.session, plan.id)
    click.echo(f"{plan_code} {found.status}: members {p.members_total} done {p.refunded} pending {p.pending} "
               f"failed {p.failed} returned {p.returned_fen} fen remaining {p.remaining_fen} fen")


commands = [wind_down_cli]
