"""`flask apportion prepare|publish|execute|status|cancel|work`: pooled-deduction runs.

`execute` is a worker: it claims the run's pending chunks until none is left (several may run at
once, on one host or many); `execute --enqueue` hands each chunk to the RQ queue instead, for
`flask apportion work` processes (needs REDIS_URL)."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

from . import _now, at_option

apportion_cli = AppGroup("apportion", help="Apportionment (pooled deduction) runs.")
run_option = click.option("--run", "run_id", type=int, default=None, help="run id (default: the plan's open run)")
plan_option = click.option("--plan", "plan_code", default=None, help="plan code, e.g. adult_789")


def _run_id(run_id, plan_code) -> int:
    from app.services.apportionment import open_run_id

    if run_id is not None:
        return run_id
    if not plan_code:
        raise click.UsageError("give --run or --plan")
    return open_run_id(db.session, plan_code)


def _echo(run) -> None:
    from app.models import Plan
    from app.services.apportionment import run_view

    code = db.session.get(Plan, run.plan_id).code
    click.echo(json.dumps(run_view(db.session, run, code), ensure_ascii=False, default=str, indent=1))


def _service_call(fn, *args, **kwargs):
    from app.services.errors import ServiceError

    try:
        return fn(*args, **kwargs)
    except ServiceError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message} {exc.details or ''}") from None


@apportion_cli.command("prepare")
@click.option("--plan", "plan_code", required=True)
@click.option("--cut-off", default=None, help="ISO cut-off (default: --at / now)")
@click.option("--chunk-size", type=int, default=None)
@at_option
def prepare_cmd(plan_code, cut_off, chunk_size, at):
    """Freeze the cases, payers and share of a new run."""
    from app.services.apportionment import prepare

    now = _now(at)
    run = _service_call(prepare, db.session, plan_code, now, cut_off=_now(cut_off) if cut_off else None,
                        chunk_size=chunk_size or current_app.config["APPORTIONMENT_CHUNK_SIZE"])
    _echo(run)


@apportion_cli.command("publish")
@run_option
@plan_option
@at_option
def publish_cmd(run_id, plan_code, at):
    """Publish a prepared run (members see it and are notified)."""
    from app.services.apportionment import publish

    _echo(_service_call(publish, db.session, _service_call(_run_id, run_id, plan_code), _now(at)))


@apportion_cli.command("execute")
@run_option
@plan_option
@click.option("--max-chunks", type=int, default=None, help="stop after this many chunks (resumable)")
@click.option("--enqueue", is_flag=True, help="hand the chunks to `flask apportion work` processes (RQ) instead")
@at_option
def execute_cmd(run_id, plan_code, max_chunks, enqueue, at):
    """Debit the payers chunk by chunk, suspend those below the share, settle. Resumable."""
    from app.services.apportionment import execute
    from app.services.errors import NotFound

    if run_id is None and plan_code:
        try:
            run_id = _run_id(None, plan_code)
        except NotFound as exc:
            if exc.code != "run_not_found":
                raise click.ClickException(f"{exc.code}: {exc.message}") from None
            # Nothing to execute is not a failure: the scheduler and scripts call this on every plan.
            click.echo(f"plan {plan_code} has no open run: nothing to execute")
            return
    if enqueue:
        from app.jobs import queue
        from app.jobs.apportionment import QUEUE_NAME, hand_out_chunks
        from app.services.apportionment import get_run

        app = current_app._get_current_object()
        if queue(app, QUEUE_NAME) is None:
            raise click.ClickException("REDIS_URL is not set: run `flask apportion execute` (it works inline)")
        target = _service_call(_run_id, run_id, plan_code)
        handed = _service_call(hand_out_chunks, app, target, _now(at))
        click.echo(f"chunks handed to the workers: {handed}")
        _echo(get_run(db.session, target))
        return
    run = _service_call(execute, db.session, _service_call(_run_id, run_id, plan_code), _now(at),
                        grace_days=current_app.config["SUSPENSION_GRACE_DAYS"], max_chunks=max_chunks)
    _echo(run)


@apportion_cli.command("work")
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
def work_cmd(burst):
    """An RQ worker for a run's chunks (needs REDIS_URL); start as many as the database can take."""
    from app.jobs import work as run_worker
    from app.jobs.apportionment import QUEUE_NAME
    from app.metrics import serve_process_metrics

    serve_process_metrics(current_app.config.get("METRICS_PORT"))
    try:
        run_worker(current_app._get_current_object(), burst=burst, name=QUEUE_NAME)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None


@apportion_cli.command("cancel")
@run_option
@plan_option
@at_option
def cancel_cmd(run_id, plan_code, at):
    """Cancel a run that has not started executing."""
    from app.services.apportionment import cancel

    _echo(_service_call(cancel, db.session, _service_call(_run_id, run_id, plan_code), _now(at)))


@apportion_cli.command("status")
@run_option
@plan_option
def status_cmd(run_id, plan_code):
    """Show a run's numbers and progress (the plan's latest run with --plan)."""
    from sqlalchemy import select

    from app.models import ApportionmentRun
    from app.services.apportionment import get_run
    from app.services.plans import get_plan

    if run_id is None:
        if not plan_code:
            raise click.UsageError("give --run or --plan")
        plan, _ = _service_call(get_plan, db.session, plan_code)
        run_id = db.session.execute(select(ApportionmentRun.id).where(ApportionmentRun.plan_id == plan.id)
                                    .order_by(ApportionmentRun.id.desc()).limit(1)).scalar()
        if run_id is None:
            raise click.ClickException("no run for this plan")
    _echo(_service_call(get_run, db.session, run_id))


commands = [apportion_cli]
