"""`flask demo case`: synthetic demo data for local runs and end-to-end tests (not in production)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

from . import _now, at_option

demo_cli = AppGroup("demo", help="Synthetic demo data (development and tests only).")


@demo_cli.command("case")
@click.option("--plan", "plan_code", default="adult_789")
@click.option("--aid-fen", type=int, default=1_000_000, help="approved aid in fen (default 10,000 yuan)")
@at_option
def demo_case(plan_code, aid_fen, at):
    """A synthetic protected member and a case that went the whole claims path and is ready for a run."""
    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException("demo data is never created in production")
    from app.services.demo import seed_ready_case

    case = seed_ready_case(db.session, current_app.extensions["yiqi"].pii, plan_code=plan_code,
                           approved_aid_fen=aid_fen, now=_now(at),
                           documents_dir=current_app.config["CLAIM_DOCUMENTS_DIR"],
                           policy=current_app.extensions["yiqi"].privacy_policy,
                           publicity_days=current_app.config["CLAIM_PUBLICITY_DAYS"])
    click.echo(f"claim {case.claim_id} (membership {case.membership_id}) ready with {case.approved_aid_fen} fen")


commands = [demo_cli]
