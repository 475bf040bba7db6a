import datetime as dt

import sqlalchemy as sa

from app.extensions import db
from app.services import memberships
from app.services.memberships import JoinRequest
from app.services.unit_of_work import atomic
from app.services.users import new_invite_code
from app.models import User
from tests.support import join_consented, make_id_number, no_answers, years_ago


def _member_with_prepay(services, clock):
    with atomic(db.session):
        user = User(openid="o-cli", invite_code=new_invite_code(), created_at=clock.now(), last_login_at=clock.now())
        db.session.add(user)
    request = JoinRequest("transit_accident", "赵六", make_id_number(years_ago(clock.now().date(), 40)), "self",
                          no_answers())
    m = join_consented(db.session, services.pii, user_id=user.id, request=request, now=clock.now())
    with atomic(db.session):
        memberships.credit(db.session, membership_id=m.id, amount_fen=500, idempotency_key="cli-1", now=clock.now())
    return m


def test_plans_load_is_idempotent_and_versions_changes(app, tmp_path, runner):
    result = runner.invoke(args=["plans", "load"])
    assert result.exit_code == 0 and "unchanged: 6" in result.output
    changed = tmp_path / "plans.toml"
    text = open(app.config["PLANS_FILE"], encoding="utf-8").read()
    changed.write_text(text.replace("observation_days = 30", "observation_days = 45"), encoding="utf-8")
    result = runner.invoke(args=["plans", "load", "--file", str(changed)])
    assert "new versions: 1" in result.output, result.output
    versions = db.session.execute(sa.text(
        "SELECT v.version, v.rules FROM plan_versions v JOIN plans p ON p.id = v.plan_id "
        "WHERE p.code = 'transit_accident' ORDER BY v.version")).all()
    assert [v[0] for v in versions] == [1, 2]


def test_members_keep_the_version_they_joined_under(app, services, clock, tmp_path, runner):
    m = _member_with_prepay(services, clock)
    changed = tmp_path / "plans.toml"
    text = open(app.config["PLANS_FILE"], encoding="utf-8").read()
    changed.write_text(text.replace("observation_days = 30", "observation_days = 45"), encoding="utf-8")
    result = runner.invoke(args=["plans", "load", "--file", str(changed)])
    assert "new versions: 0, proposals: 1" in result.output and "transit_accident" in result.output, result.output
    view = memberships.get_for_user(db.session, m.user_id, m.id)
    assert view.plan_version == 1 and view.rules["observation_days"] == 30


def test_proposals_close_decides_at_the_window_end(app, services, clock, tmp_path, runner):
    _member_with_prepay(services, clock)
    changed = tmp_path / "plans.toml"
    text = open(app.config["PLANS_FILE"], encoding="utf-8").read()
    changed.write_text(text.replace("observation_days = 30", "observation_days = 45"), encoding="utf-8")
    runner.invoke(args=["plans", "load", "--file", str(changed), "--window-days", "7", "--effective-on",
                        (clock.now() + dt.timedelta(days=20)).date().isoformat()])
    listed = runner.invoke(args=["proposals", "list", "--plan", "transit_accident"])
    assert "open" in listed.output and "eligible 1" in listed.output, listed.output
    early = runner.invoke(args=["proposals", "close", "--at", (clock.now() + dt.timedelta(days=6)).isoformat()])
    assert "closed: 0" in early.output
    due = runner.invoke(args=["proposals", "close", "--at", (clock.now() + dt.timedelta(days=7)).isoformat()])
    assert due.exit_code == 0 and "closed: 1" in due.output and "failed" in due.output, due.output


def test_members_advance_at_a_given_time(app, services, clock, runner):
    m = _member_with_prepay(services, clock)
    early = (clock.now() + dt.timedelta(days=29)).isoformat()
    assert "protected: 0" in runner.invoke(args=["members", "advance", "--at", early]).output
    due = (clock.now() + dt.timedelta(days=30)).isoformat()
    assert "protected: 1" in runner.invoke(args=["members", "advance", "--at", due]).output
    assert "protected: 0" in runner.invoke(args=["members", "advance", "--at", due]).output
    db.session.refresh(m)
    assert m.state == "protected"


def test_ledger_audit_passes_then_names_the_tampered_account(app, services, clock, runner):
    m = _member_with_prepay(services, clock)
    ok = runner.invoke(args=["ledger", "audit"])
    assert ok.exit_code == 0 and "ledger audit passed" in ok.output
    with atomic(db.session):
        db.session.execute(sa.text(f"UPDATE accounts SET balance_fen = 400 WHERE membership_id = {m.id}"))
    bad = runner.invoke(args=["ledger", "audit"])
    assert bad.exit_code == 1
    assert f"member:{m.id}" in bad.output


def test_transparency_backfill_secrets_gives_the_missing_ones(app, services, clock, runner):
    from app.models import MembershipSecret

    m = _member_with_prepay(services, clock)
    assert "secrets created: 0" in runner.invoke(args=["transparency", "backfill-secrets"]).output  # join made it
    with atomic(db.session):
        db.session.execute(sa.delete(MembershipSecret).where(MembershipSecret.membership_id == m.id))
    result = runner.invoke(args=["transparency", "backfill-secrets", "--batch", "1"])
    assert result.exit_code == 0 and "secrets created: 1" in result.output
    assert len(db.session.get(MembershipSecret, m.id).secret) == 32
