import datetime as dt

from app.extensions import db
from app.models import Claim, Membership
from app.services import apportionment
from app.services.unit_of_work import atomic
from app.jobs.apportionment import prepare_and_publish_due
from tests.support import add_claim, add_members, login, make_user


def _members_of(openid_user_id, session, now, balances):
    return add_members(session, openid_user_id, "children", balances, now)


def test_runs_and_deductions_views(client, emulator, session, clock):
    now = clock.now()
    headers = login(client, emulator.url, "o-ap-mine")
    other = login(client, emulator.url, "o-ap-other")
    me = client.get("/api/v1/memberships", headers=headers)  # user exists now
    assert me.status_code == 200
    from app.models import User
    uid = session.query(User.id).filter_by(openid="o-ap-mine").scalar()
    mine = add_members(session, uid, "children", [1000, 700, 20], now)
    add_claim(session, mine[0], 1_000, now)
    add_claim(session, mine[1], 501, now)
    run = apportionment.prepare(session, "children", now)
    assert client.get("/api/v1/plans/children/runs").get_json()["items"] == []  # a draft is not public
    apportionment.publish(session, run.id, now)
    apportionment.execute(session, run.id, now)
    listed = client.get("/api/v1/plans/children/runs").get_json()["items"]
    assert [r["id"] for r in listed] == [run.id] and listed[0]["status"] == "executed"
    detail = client.get(f"/api/v1/plans/children/runs/{run.id}").get_json()
    assert detail["share_fen"] == 551 and detail["paid_count"] == 2 and detail["suspended_count"] == 1
    assert [c["person"] for c in detail["cases"]] == ["王*", "王*"]
    assert client.get(f"/api/v1/plans/adult_789/runs/{run.id}").status_code == 404
    got = client.get(f"/api/v1/memberships/{mine[0]}/deductions", headers=headers)
    assert got.status_code == 200, got.get_json()
    [item] = got.get_json()["items"]
    assert item["paid_fen"] == 551 and [c["part_fen"] for c in item["cases"]] == [300, 251]
    assert client.get(f"/api/v1/memberships/{mine[2]}/deductions", headers=headers).get_json()["items"] == []
    assert client.get(f"/api/v1/memberships/{mine[0]}/deductions", headers=other).status_code == 404
    assert client.get(f"/api/v1/memberships/{mine[0]}/deductions").status_code == 401


def test_cli_prepare_publish_execute_status(app, session, clock, runner):
    now = clock.now()
    from tests.support import make_user

    ids = add_members(session, make_user(session, now), "seniors", [600, 600, 100], now)
    add_claim(session, ids[0], 1_200, now)
    at = ["--at", now.isoformat()]
    out = runner.invoke(args=["apportion", "prepare", "--plan", "seniors", "--chunk-size", "1", *at])
    assert out.exit_code == 0 and '"share_fen": 300' in out.output, out.output
    assert runner.invoke(args=["apportion", "execute", "--plan", "seniors", *at]).exit_code == 1  # not published
    assert runner.invoke(args=["apportion", "publish", "--plan", "seniors", *at]).exit_code == 0
    out = runner.invoke(args=["apportion", "execute", "--plan", "seniors", "--max-chunks", "1", *at])
    assert '"status": "executing"' in out.output
    out = runner.invoke(args=["apportion", "execute", "--plan", "seniors", *at])
    assert '"status": "executed"' in out.output and '"paid_count": 2' in out.output, out.output
    status = runner.invoke(args=["apportion", "status", "--plan", "seniors"])
    assert '"suspended_count": 1' in status.output
    again = runner.invoke(args=["apportion", "execute", "--plan", "seniors", *at])  # the run is over: nothing open
    assert again.exit_code == 0 and "seniors has no open run" in again.output, again.output
    unknown = runner.invoke(args=["apportion", "execute", "--plan", "no_such_plan", *at])
    assert unknown.exit_code == 1 and "plan_not_found" in unknown.output, unknown.output
    assert runner.invoke(args=["ledger", "audit"]).exit_code == 0
    late = (now + dt.timedelta(days=31)).isoformat()
    assert "lapsed: 1" in runner.invoke(args=["members", "advance", "--at", late]).output
    assert db.session.get(Membership, ids[2]).state == "lapsed"


def test_job_prepares_and_publishes_on_cut_off_days_only(app, session, clock):
    from tests.support import make_user

    day16 = dt.datetime(2026, 3, 15, 17, 0, tzinfo=dt.timezone.utc)  # 16 March 01:00 in China
    ids = add_members(session, make_user(session, day16), "seniors", [900, 900], day16)
    add_claim(session, ids[0], 600, day16 - dt.timedelta(days=1))
    assert prepare_and_publish_due(session, day16 - dt.timedelta(days=1), days_of_month=(1, 16)) == {}
    outcome = prepare_and_publish_due(session, day16, days_of_month=(1, 16))
    assert isinstance(outcome["seniors"], int) and outcome["adult_789"] == "no_cases"
    again = prepare_and_publish_due(session, day16 + dt.timedelta(hours=3), days_of_month=(1, 16))
    assert again["seniors"] == "already_prepared_today"
    run = apportionment.get_run(session, outcome["seniors"])
    assert run.status == "published" and run.share_fen == 300


def test_plans_show_estimated_annual_cost_from_history_and_aid_paid(client, session, clock):
    import sqlalchemy as sa

    plan = client.get("/api/v1/plans/adult_789").get_json()
    assert plan["estimated_annual_fen"] is None and plan["aid_paid_fen"] == 0
    now = clock.now()
    uid = make_user(session, now)
    ids = add_members(session, uid, "adult_789", [1_000, 1_000, 1_000, 0], now)
    with atomic(session):
        session.execute(sa.update(Membership).where(Membership.id == ids[3]).values(state="pending"))
    claim = add_claim(session, ids[3], 450, now)
    run = apportionment.prepare(session, "adult_789", now)
    apportionment.publish(session, run.id, now)
    run = apportionment.execute(session, run.id, now)
    plan = client.get("/api/v1/plans/adult_789").get_json()
    assert run.share_fen == 150
    assert plan["estimated_annual_fen"] == 150 * 24  # twice a month
    with atomic(session):  # what a payout does to the claim (tested in the claims suite)
        session.execute(sa.update(Claim).where(Claim.id == claim).values(status="paid"))
    assert client.get("/api/v1/plans/adult_789").get_json()["aid_paid_fen"] == 450
