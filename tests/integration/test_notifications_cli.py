import sqlalchemy as sa

from tests.support import consent, member, new_user, record


def test_status_and_inline_dispatch(app, session, services, emulator, clock, runner):
    user = new_user(session, clock)
    member(session, services, clock, user.id)
    consent(session, services, emulator, user, "case_announced")
    plan_id = session.execute(sa.text("SELECT id FROM plans WHERE code = 'adult_789'")).scalar_one()
    record(session, "run.published", clock, plan_id=plan_id, run_id=5, payload={"share_fen": 100})
    before = runner.invoke(args=["notifications", "status", "--at", clock.now().isoformat()])
    assert before.exit_code == 0 and "pending=2" in before.output and "due now: 2" in before.output
    sent = runner.invoke(args=["notifications", "dispatch", "--at", clock.now().isoformat()])
    assert sent.exit_code == 0 and "dispatched: 2" in sent.output
    after = runner.invoke(args=["notifications", "status", "--at", clock.now().isoformat()])
    assert "sent=1" in after.output and "skipped_no_quota=1" in after.output and "due now: 0" in after.output
    no_redis = runner.invoke(args=["notifications", "work", "--burst"])
    assert no_redis.exit_code != 0 and "REDIS_URL" in no_redis.output
