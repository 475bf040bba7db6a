"""`flask demo case|seed`: synthetic demo data for local runs and end-to-end tests (not in production)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.container import current_services
from app.extensions import db

from . import _now, at_option

demo_cli = AppGroup("demo", help="Synthetic demo data (development and tests only).")


@demo_cli.command("case")
@click.option("--plan", "plan_code", default="adult_789")
@click.option("--aid-fen", type=int, default=1_000_000, help="approved aid in fen (default 10,000 yuan)")
@at_option
def demo_case(plan_code, aid_fen, at):
    """A synthetic protected member and a case that went the whole claims path and is ready for a run."""
    _refuse_in_production()
    from app.services.demo import seed_ready_case

    case = seed_ready_case(db.session, current_services().pii, plan_code=plan_code,
                           approved_aid_fen=aid_fen, now=_now(at),
                           documents_dir=current_app.config["CLAIM_DOCUMENTS_DIR"],
                           policy=current_services().privacy_policy,
                           publicity_days=current_app.config["CLAIM_PUBLICITY_DAYS"])
    click.echo(f"claim {case.claim_id} (membership {case.membership_id}) ready with {case.approved_aid_fen} fen;"
               f" claimant openid {case.openid}")


def _refuse_in_production() -> None:
    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException("demo data is never created in production")


@demo_cli.command("seed")
@click.option("--members", type=click.IntRange(min=30, max=40_000), default=2_000, show_default=True,
              help="synthetic members around the demo family")
@click.option("--keep-existing", is_flag=True, help="when the demo data is there already, say so and exit 0")
@at_option
def demo_seed(members, keep_existing, at):
    """A lived-in platform: families in every plan and state, two executed runs per plan, cases in
    review, in publicity with an objection, collected and paid, consents. Log in as openid demo-family."""
    import time

    from app.services.demo_seed import FAMILY_OPENID, seed_platform
    from app.services.errors import ServiceError

    _refuse_in_production()
    cfg, services = current_app.config, current_services()
    started = time.perf_counter()
    try:
        report = seed_platform(db.session, services.pii, services.privacy_policy, members=members, now=_now(at), appid=cfg["WECHAT_APPID"],
                               mchid=cfg["WECHAT_PAY_MCHID"], documents_dir=cfg["CLAIM_DOCUMENTS_DIR"],
                               templates=services.subscribe_templates, publicity_days=cfg["CLAIM_PUBLICITY_DAYS"],
                               grace_days=cfg["SUSPENSION_GRACE_DAYS"], chunk_size=cfg["APPORTIONMENT_CHUNK_SIZE"])
    except ServiceError as exc:
        if keep_existing and exc.code == "demo_already_seeded":
            click.echo("demo data is already there: kept as it is")
            return
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"seeded in {time.perf_counter() - started:.1f} s: {report.members} memberships of {report.users} users, "
               f"runs {len(report.runs)}")
    click.echo("memberships: " + ", ".join(f"{k}={v}" for k, v in sorted(report.states.items())))
    click.echo("claims: " + ", ".join(f"{k}={v}" for k, v in sorted(report.claims.items())))
    click.echo(f"log in as the demo family: openid {FAMILY_OPENID} (mint a code at the emulator's /_emulator/codes)")


commands = [demo_cli]
