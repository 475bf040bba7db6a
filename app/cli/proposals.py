"""`flask proposals close|list`: rule-change proposals (docs/rule-changes.md)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db

from . import _now, at_option

proposals_cli = AppGroup("proposals", help="Rule-change proposals put to the members.")


@proposals_cli.command("close")
@at_option
def close_proposals(at):
    """Decide every proposal whose consent window has ended and bring passed ones into force on their
    effective date (the scheduler does it every 10 minutes). Safe to run again."""
    from app.services.rule_changes import advance, get_proposal

    result = advance(db.session, _now(at))
    click.echo(f"closed: {len(result.closed)}, in force: {len(result.in_force)}, stragglers moved: {result.stragglers}")
    for proposal_id in result.closed + result.in_force:
        proposal = get_proposal(db.session, proposal_id)
        click.echo(f"#{proposal.id} {proposal.status}: {proposal.outcome_text}")


@proposals_cli.command("list")
@click.option("--plan", "plan_code", default=None, help="plan code, e.g. adult_789")
@at_option
def list_proposals(plan_code, at):
    """Every proposal, newest first, with its tally (live while open)."""
    from app.models import Plan
    from app.services import rule_changes

    plan_id = None
    if plan_code:
        plan_id = db.session.execute(db.select(Plan.id).where(Plan.code == plan_code)).scalar_one_or_none()
        if plan_id is None:
            raise click.UsageError(f"no plan {plan_code}")
    for proposal in rule_changes.all_proposals(db.session, plan_id=plan_id):
        tally = rule_changes.tally_of(db.session, proposal)
        click.echo(f"#{proposal.id} plan {proposal.plan_id} {proposal.status} "
                   f"closes {proposal.window_closes_at:%Y-%m-%d %H:%M}Z effective {proposal.effective_on} agree {tally.agree} disagree {tally.disagree} "
                   f"eligible {tally.eligible} ({tally.turnout_percent}%): {proposal.title}")


commands = [proposals_cli]
