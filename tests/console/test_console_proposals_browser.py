"""The rule-change screens in headless Chromium against a live server on PostgreSQL: finance puts a
changed catalogue to the members, follows the tally, closes the vote and brings the change into force;
an auditor reads the audit trail. Screenshots: test-artifacts/console/<test>/."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Membership
from app.services import rule_changes
from tests.support import add_members, make_user
from tests.support import make_staff
from tests.support.rule_changes import changed_catalogue

from .browser_support import Operator
from .test_console_browser import browser, live, screens  # noqa: F401  (the browser suite's fixtures)

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def test_finance_walks_a_rule_change_from_proposal_to_force(app, live, browser, screens, clock, tmp_path):
    make_staff(clock.now())
    uid = make_user(db.session, clock.now())
    ids = add_members(db.session, uid, "adult_789", [1_000] * 4, clock.now())
    app.config["PLANS_FILE"] = str(changed_catalogue(app.config["PLANS_FILE"], tmp_path, "adult_789",
                                                     share_cap_fen=200, observation_days=90))
    secrets: dict[str, str] = {}
    fin = Operator(browser, live, clock, screens, "fin", secrets)
    fin.sign_in()
    fin.visit("/console/proposals", "proposals-empty")
    fin.submit("form[action='/console/proposals/open']", "proposal-opened")
    assert "规则变更提案#" in fin.page.inner_text(".flash")
    fin.page.click("table a[href^='/console/proposals/']")
    fin.visit_current("proposal-open")
    proposal_id = int(re.search(r"/console/proposals/(\d+)$", fin.page.url).group(1))
    assert "征求意见中" in fin.page.inner_text("[data-testid=proposal-status]")
    for membership_id, answer in zip(ids, ("agree", "agree", "disagree")):
        rule_changes.answer(db.session, user_id=uid, membership_id=membership_id, proposal_id=proposal_id,
                            answer=answer, now=clock.now())
    fin.visit(f"/console/proposals/{proposal_id}", "proposal-tally")
    assert "3 / 4" in fin.page.inner_text("[data-testid=tally]")
    fin.close()

    clock.advance(days=14)
    act = _finance_acts(browser, live, clock, screens, secrets, proposal_id)
    assert "已通过" in act("close", "proposal-passed", "[data-testid=outcome]")

    proposal = rule_changes.get_proposal(db.session, proposal_id)
    db.session.refresh(proposal)
    clock.at = proposal.effective_at
    act = _finance_acts(browser, live, clock, screens, secrets, proposal_id)
    assert "已生效" in act("in-force", "proposal-in-force", "[data-testid=proposal-status]")
    held = set(db.session.execute(sa.select(Membership.plan_version_id).where(Membership.id.in_(ids))).scalars())
    assert held == {proposal.to_version_id}

    aud = Operator(browser, live, clock, screens, "aud", secrets)
    aud.sign_in()
    aud.visit(f"/console/proposals/{proposal_id}", "proposal-audit-trail")
    assert "rule_change.in_force" in aud.page.inner_text("main")
    assert aud.page.locator("[data-testid=proposal-in-force]").count() == 0
    aud.page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, portrait
    aud.visit("/console/proposals", "proposals-tablet")
    aud.close()


def _finance_acts(browser, live, clock, screens, secrets, proposal_id):
    """Finance signs in afresh (the clock moved past the session's age) and can press one action."""
    fin = Operator(browser, live, clock, screens, "fin", secrets)
    fin.sign_in()

    def act(action: str, name: str, read: str) -> str:
        fin.visit(f"/console/proposals/{proposal_id}", f"before-{name}")
        fin.submit(f"form[action='/console/proposals/{proposal_id}/{action}']", name)
        text = fin.page.inner_text(read)
        fin.close()
        return text

    return act
