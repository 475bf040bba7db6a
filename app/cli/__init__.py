"""CLI commands, one click group per domain: `flask plans load`, `flask members advance`,
`flask ledger audit`. Each builds its inputs and calls a service; nothing else."""
from __future__ import annotations

import datetime as dt
import functools
import importlib

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.container import current_services
from app.extensions import db
from app.logs import request_id_bound


def _now(at: str | None) -> dt.datetime:
    if at:
        moment = dt.datetime.fromisoformat(at)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    return current_services().clock.now()


at_option = click.option("--at", default=None, help="ISO time to act at (default: now); for operators and tests")

plans_cli = AppGroup("plans", help="The plan catalogue.")
members_cli = AppGroup("members", help="Membership states.")
ledger_cli = AppGroup("ledger", help="The money ledger.")


@plans_cli.command("load")
@click.option("--file", "path", default=None, help="catalogue file (default: config/plans.toml)")
@click.option("--window-days", type=int, default=None, help="consent window of a rule change (PROPOSAL_WINDOW_DAYS)")
@click.option("--notice-days", type=int, default=None, help="window end → effective date (PROPOSAL_NOTICE_DAYS)")
@click.option("--effective-on", default=None, help="effective date YYYY-MM-DD of a rule change (China date)")
@at_option
def load_plans(path, window_days, notice_days, effective_on, at):
    """Load the catalogue; a plan whose rules changed becomes a rule-change proposal to its members."""
    from app.services.plans import load_catalogue
    from app.services.rule_changes import ProposalSettings

    settings = ProposalSettings.from_config(current_app.config, window_days=window_days, notice_days=notice_days,
                                            effective_on=dt.date.fromisoformat(effective_on) if effective_on else None)
    result = load_catalogue(db.session, path or current_app.config["PLANS_FILE"], _now(at), settings)
    click.echo(f"plans created: {len(result.created_plans)}, new versions: {len(result.new_versions)}, "
               f"proposals: {len(result.proposals)}, unchanged: {len(result.unchanged)}")
    for note in result.proposals + result.waiting:
        click.echo(note)


@plans_cli.command("refresh-stats")
@at_option
def refresh_plan_stats(at):
    """Recompute the plans' public figures now (the scheduler does it every minute)."""
    from app.services.plan_stats import refresh

    refreshed = refresh(db.session, _now(at), 12 * len(current_app.config["APPORTIONMENT_DAYS_OF_MONTH"]))
    click.echo(f"plans refreshed: {refreshed}")


@members_cli.command("advance")
@at_option
def advance_members(at):
    """Observation over → protected; suspension grace over → lapsed. Safe to run twice."""
    from app.services.memberships import advance

    result = advance(db.session, _now(at))
    click.echo(f"protected: {result.protected}, lapsed: {result.lapsed}")


def finish_verification(ok: bool, problems, passed: str) -> None:
    """The verifiers' common ending: each problem on stderr and exit 1, or the pass line."""
    if not ok:
        for problem in problems:
            click.echo(f"FAIL: {problem}", err=True)
        raise SystemExit(1)
    click.echo(passed)


@ledger_cli.command("audit")
def audit():
    """Check every ledger invariant; exit 1 naming the first offender."""
    from app.services.audit import audit_ledger

    report = audit_ledger(db.session)
    for check in report.checks:
        click.echo(f"checked: {check}")
    finish_verification(report.ok, report.problems, "ledger audit passed")


scheduler_cli = AppGroup("scheduler", help="The clock process for periodic jobs.")


@scheduler_cli.command("run")
@click.option("--once", is_flag=True, help="run what is due now and exit")
@at_option
def run_scheduler(once, at):
    """Reconcile payments, dispatch notifications, advance claims and members, on their cadences."""
    from app.jobs.schedule import Scheduler
    from app.metrics import serve_process_metrics

    serve_process_metrics(current_app.config.get("METRICS_PORT"))
    scheduler = Scheduler(current_app._get_current_object())
    if once:
        ran = scheduler.tick(_now(at))
        click.echo("ran: " + (", ".join(ran) or "nothing"))
        return
    from app.jobs.schedule import describe

    click.echo("scheduler: " + describe(scheduler.tasks), err=True)
    try:
        scheduler.run_forever()
    except KeyboardInterrupt:  # Ctrl-C on a scheduler started by hand
        click.echo("scheduler stopped", err=True)


# Feature modules each exporting `commands`, a list of click groups. One line each.
CLI_MODULES: list[str] = [
    "app.cli.payments",
    "app.cli.claims",
    "app.cli.notifications",
    "app.cli.demo",
    "app.cli.apportion",
    "app.cli.privacy",
    "app.cli.transparency",
    "app.cli.proposals",
    "app.cli.wind_down",
]


def _bind_request_id(group: click.Group) -> click.Group:
    """Each command run gets one request id: its log lines, WeChat calls and enqueued jobs share it.
    (Groups are module-level and registered once per app: a command is wrapped once.)"""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _bind_request_id(command)
        elif not getattr(command.callback, "binds_request_id", False):
            command.callback = _with_request_id(command.callback)
    return group


def _with_request_id(callback):
    @functools.wraps(callback)
    def run(*args, **kwargs):
        with request_id_bound():
            return callback(*args, **kwargs)

    run.binds_request_id = True
    return run


def register_cli(app: Flask) -> None:
    for group in (plans_cli, members_cli, ledger_cli, scheduler_cli):
        app.cli.add_command(_bind_request_id(group))
    for name in CLI_MODULES:
        for group in importlib.import_module(name).commands:
            app.cli.add_command(_bind_request_id(group))
