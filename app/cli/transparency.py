"""`flask transparency verify|commit-missing|backfill-secrets`: the plans' hash chains, run roots, members' secrets."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.container import current_services
from app.extensions import db

from . import _now, at_option, finish_verification

transparency_cli = AppGroup("transparency", help="Verifiable runs and reports (hash chains, Merkle roots).")


@transparency_cli.command("verify")
def verify_cmd():
    """Recompute every run root from the ledger's postings and check every chain; exit 1 naming the first break."""
    from app.services.transparency import verify

    report = verify(db.session)
    click.echo(f"checked: {report.checked_records} records ({report.checked_runs} runs, "
               f"{report.checked_reports} reports)")
    finish_verification(report.ok, report.problems, "transparency verify passed")


@transparency_cli.command("commit-missing")
@at_option
def commit_missing_cmd(at):
    """Add executed runs that have no chain record yet (executed before records existed), in run order."""
    from app.services.transparency import commit_missing

    done = commit_missing(db.session, _now(at))
    click.echo(f"runs committed: {', '.join(map(str, done)) or 'none'}")


@transparency_cli.command("backfill-secrets")
@click.option("--batch", default=100_000, show_default=True, type=click.IntRange(min=1),
              help="membership ids per transaction")
def backfill_secrets_cmd(batch):
    """Give every membership without a transparency secret one (set-based, a batch of ids per transaction).
    Migration 0021 does it once; join creates them since; re-runnable at any time."""
    from app.services.membership_secrets import backfill_secrets

    click.echo(f"secrets created: {backfill_secrets(db.session, batch=batch)}")


bills_cli = AppGroup("bills", help="Daily reconciliation with WeChat Pay's bills.")


@bills_cli.command("reconcile")
@click.option("--date", "bill_date", default=None, help="China-time day YYYY-MM-DD (default: yesterday)")
@at_option
def reconcile_bills_cmd(bill_date, at):
    """Download the day's trade and fund-flow bills, match every line; re-runnable. Exit 1 unless done."""
    import datetime as dt

    from app.metrics import record_bill_reconciliation
    from app.services.bills import reconcile_day
    from app.services.clock import china_date

    now = _now(at)
    day = dt.date.fromisoformat(bill_date) if bill_date else china_date(now) - dt.timedelta(days=1)
    rec = reconcile_day(db.session, current_services().pay, day, now)
    record_bill_reconciliation(db.session, rec)
    click.echo(f"{rec.bill_date}: {rec.status}, lines {rec.lines}, matched {rec.matched}, "
               f"mismatched {rec.mismatched}, settled {rec.settled}" + (f" ({rec.error})" if rec.error else ""))
    if rec.status != "done":
        raise SystemExit(1)


commands = [transparency_cli, bills_cli]
