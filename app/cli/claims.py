"""`flask operators create` and `flask claims advance`."""
from __future__ import annotations

import os

import click
from flask.cli import AppGroup

from app.container import current_services
from app.extensions import db
from app.models import OPERATOR_ROLES

from . import _now, at_option

operators_cli = AppGroup("operators", help="Operator accounts (reviewers, investigators, finance, auditors).")
claims_cli = AppGroup("claims", help="The claims workflow.")


@operators_cli.command("create")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(OPERATOR_ROLES),
              help="repeat for several roles")
@click.option("--username", required=True)
@click.option("--organisation", default=None, help="investigation organisation (investigators)")
@click.option("--password", default=None, envvar="OPERATOR_PASSWORD",
              help="read from $OPERATOR_PASSWORD, else prompted (never echoed)")
@at_option
def create_operator(roles, username, organisation, password, at):
    """Create an operator account; the password comes from $OPERATOR_PASSWORD or a prompt."""
    from app.services.errors import ServiceError
    from app.services.operators import create_operator as create

    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        operator = create(db.session, username=username, password=password, roles=list(roles),
                          organisation=organisation, now=_now(at))
    except ServiceError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"operator {operator.id} {operator.username} roles={operator.roles}"
               + (f" organisation={operator.organisation_id}" if operator.organisation_id else ""))


@claims_cli.command("advance")
@at_option
def advance(at):
    """Publicity over without pending objection → ready; retry/sync open aid transfers; refund what
    aided memberships still hold. Safe to run twice."""
    from app.services import payouts, refunds
    from app.services.claims import promote_finished_publicity

    now = _now(at)
    pay = current_services().pay
    ready = promote_finished_publicity(db.session, now)
    outcome = payouts.process_open(db.session, pay, now)
    refunded = refunds.refund_aided_balances(db.session, pay, now)
    click.echo(f"ready: {len(ready)}, transfers succeeded: {outcome['succeeded']}, "
               f"still open: {outcome['still_open']}, failed: {outcome['failed']}; aided balances refunded: "
               f"{refunded} fen")


commands = [operators_cli, claims_cli]
