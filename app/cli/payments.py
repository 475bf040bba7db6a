"""`flask payments reconcile [--at ISO]`: settle paid orders whose notification never came,
close expired ones, finish pending refunds. Idempotent."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

from . import _now, at_option

payments_cli = AppGroup("payments", help="WeChat Pay top-ups and refunds.")


@payments_cli.command("reconcile")
@at_option
@click.option("--older-than-minutes", default=5, show_default=True, type=click.IntRange(min=0),
              help="only orders at least this old (their notification is overdue)")
def reconcile(at, older_than_minutes):
    """Query WeChat about open orders and pending refunds; settle, close or complete them."""
    import datetime as dt

    from app.services.payments import reconcile as run

    report = run(db.session, current_app.extensions["yiqi"].pay, _now(at),
                 older_than=dt.timedelta(minutes=older_than_minutes))
    click.echo(report.summary())
    for error in report.errors:
        click.echo(f"error: {error}", err=True)


commands = [payments_cli]
