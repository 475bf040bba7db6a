"""`flask payments reconcile [--at ISO]`: settle paid orders whose notification never came,
close expired ones, finish pending refunds. Idempotent.
`flask payments retry-refund REFUND_ID [--at ISO]`: start a failed refund again (once)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.container import current_services
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

    report = run(db.session, current_services().pay, _now(at),
                 older_than=dt.timedelta(minutes=older_than_minutes))
    click.echo(report.summary())
    for error in report.errors:
        click.echo(f"error: {error}", err=True)



@payments_cli.command("retry-refund")
@click.argument("refund_id", type=click.IntRange(min=1))
@at_option
def retry_refund(refund_id, at):
    """Start a failed refund again: a new refund (new number) for the same order and amount, once."""
    from app.services.errors import ServiceError
    from app.services.refunds import retry_and_submit

    now = _now(at)
    try:
        retry = retry_and_submit(db.session, current_services().pay, refund_id, now)
    except ServiceError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"refund {refund_id} retried as refund {retry.id} ({retry.out_refund_no}): "
               f"{retry.amount_fen} fen, {retry.status}")


commands = [payments_cli]
