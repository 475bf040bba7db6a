"""The console's rule-change screens over Flask's test client (SQLite and PostgreSQL): finance puts the
changed catalogue to the members, follows the live tally, closes the vote and brings the change into
force; other roles read only; CSRF required; every action audited with the operator."""
import datetime as dt
import re

import sqlalchemy as sa

from app.extensions import db
from app.models import OperatorAuditEntry, RuleChangeProposal
from app.services import rule_changes
from tests.support import add_members, make_user
from tests.support import make_staff
from tests.support import post_form, sign_in_fully
from tests.support.rule_changes import changed_catalogue


def _flash(page: str) -> str:
    return " ".join(re.findall(r'<div class="flash [a-z]+" role="status">([^<]*)</div>', page))


def test_finance_opens_follows_closes_and_brings_a_change_into_force(app, client, clock, tmp_path):
    make_staff(clock.now())
    uid = make_user(db.session, clock.now())
    ids = add_members(db.session, uid, "adult_789", [1_000] * 3, clock.now())
    secrets: dict[str, str] = {}
    sign_in_fully(client, clock, "fin", secrets)
    listing = client.get("/console/proposals")
    assert listing.status_code == 200 and "还没有规则变更提案" in listing.get_data(as_text=True)
    assert "规则变更" in client.get("/console/").get_data(as_text=True)  # in the navigation

    # Without the CSRF token nothing opens.
    assert client.post("/console/proposals/open", data={}).status_code == 400
    app.config["PLANS_FILE"] = str(changed_catalogue(app.config["PLANS_FILE"], tmp_path, "adult_789",
                                                     share_cap_fen=200))
    opened = post_form(client, "/console/proposals/open", {}, from_page="/console/proposals", follow_redirects=True)
    assert "规则变更提案#" in _flash(opened.get_data(as_text=True))
    proposal = db.session.execute(sa.select(RuleChangeProposal)).scalar_one()
    url = f"/console/proposals/{proposal.id}"
    page = client.get(url).get_data(as_text=True)
    assert "征求意见中" in page and "每人每个案例最多分摊2元" in page and "同意者不少于答复者的三分之二" in page
    assert 'data-testid="close-proposal"' not in page  # the window is still open

    for membership_id in ids[:2]:
        rule_changes.answer(db.session, user_id=uid, membership_id=membership_id, proposal_id=proposal.id,
                            answer="agree", now=clock.now())
    assert "2 / 3" in client.get(url).get_data(as_text=True)  # the live tally
    early = post_form(client, f"{url}/close", {}, from_page=url, follow_redirects=True)
    assert "征求意见期还没有结束" in _flash(early.get_data(as_text=True))

    clock.advance(days=14)
    sign_in_fully(client, clock, "fin", secrets)  # the session ends after OPERATOR_TOKEN_MAX_AGE_SECONDS
    closed = post_form(client, f"{url}/close", {}, from_page=url, follow_redirects=True).get_data(as_text=True)
    assert "表决结果已确定" in _flash(closed) and "已通过，待生效" in closed

    # A reviewer and an investigator read; they cannot act.
    other = app.test_client()
    sign_in_fully(other, clock, "rev", secrets)
    assert other.get(url).status_code == 200
    assert post_form(other, f"{url}/in-force", {}, from_page=url).status_code == 403
    investigator = app.test_client()
    sign_in_fully(investigator, clock, "inv", secrets)
    seen = investigator.get(url).get_data(as_text=True)
    assert "审计记录" not in seen and 'data-testid="proposal-in-force"' not in seen

    db.session.refresh(proposal)
    clock.at = proposal.effective_at + dt.timedelta(minutes=1)
    sign_in_fully(client, clock, "fin", secrets)
    done = post_form(client, f"{url}/in-force", {}, from_page=url, follow_redirects=True).get_data(as_text=True)
    assert "新规则已生效" in _flash(done) and "已生效" in done and "3 份" in done
    actions = db.session.execute(sa.select(OperatorAuditEntry.action, OperatorAuditEntry.operator_id).where(
        OperatorAuditEntry.target_type == "rule_change").order_by(OperatorAuditEntry.id)).all()
    fin = db.session.execute(sa.text("SELECT id FROM operators WHERE username = 'fin'")).scalar_one()
    assert actions == [("rule_change.proposed", fin), ("rule_change.passed", fin), ("rule_change.in_force", fin)]
    assert "rule_change.in_force" in done  # the audit trail on the page
