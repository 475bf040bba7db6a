"""`flask pii rotate`, `flask audit verify|publish-heads`, `flask privacy retention`."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.container import current_services
from app.extensions import db

from . import _now, at_option, finish_verification

pii_cli = AppGroup("pii", help="Personal-data encryption keys.")
audit_cli = AppGroup("audit", help="The operator audit log's hash chains.")
privacy_cli = AppGroup("privacy", help="Retention of personal data.")


@pii_cli.command("rotate")
@click.option("--chunk-size", type=int, default=None, help="rows per transaction (default PII_ROTATE_CHUNK_SIZE)")
@click.option("--max-chunks", type=int, default=None, help="stop after this many chunks (run again to resume)")
@click.option("--progress", is_flag=True, help="print a line after each committed chunk")
@at_option
def rotate(chunk_size, max_chunks, progress, at):
    """Re-encrypt every stored value under the newest key and rehash with the newest hash key (resumable)."""
    from app.services.pii_rotation import rotate as run_rotation

    def report(table, last_id):
        if progress:
            click.echo(f"chunk committed: {table} up to id {last_id}", nl=True)

    pii = current_services().pii
    result = run_rotation(db.session, pii, now=_now(at),
                          chunk_size=chunk_size or current_app.config["PII_ROTATE_CHUNK_SIZE"],
                          max_chunks=max_chunks, on_chunk=report)
    for table, rows in result.rows_rewritten.items():
        click.echo(f"{table}: {rows} rows rewritten")
    if result.finished:
        click.echo(f"rotation to key {pii.key_id} / hash key {pii.hash_key_id} finished; "
                   f"no longer referenced: {', '.join(result.retired) or 'nothing new'}")
    else:
        click.echo("stopped after --max-chunks; run again to resume")


@audit_cli.command("verify")
def verify():
    """Recompute every chain; exit 1 naming the first break."""
    from app.services.audit_chain import verify as verify_chain

    report = verify_chain(db.session)
    click.echo(f"checked {report.entries} entries in {report.streams} streams, "
               f"{report.published_checked} published heads")
    finish_verification(report.ok, report.problems, "audit log verified")


@audit_cli.command("publish-heads")
@at_option
def publish_heads(at):
    """Record today's head of every stream that moved (the scheduler does this daily)."""
    from app.services.audit_chain import publish_heads as publish

    click.echo(f"heads published: {publish(db.session, _now(at))}")


@privacy_cli.command("retention")
@at_option
def retention(at):
    """Erase personal fields past retention and delete expired claim documents (the scheduler does this daily)."""
    from app.jobs.privacy import run_retention

    erased, deleted = run_retention(current_app._get_current_object(), _now(at))
    click.echo(f"memberships erased: {erased}, claim documents deleted: {deleted}")


commands = [pii_cli, audit_cli, privacy_cli]
