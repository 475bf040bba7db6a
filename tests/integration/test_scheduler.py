import datetime as dt

from app.container import container_of
from app.jobs.schedule import PeriodicTask, Scheduler

T0 = dt.datetime(2026, 3, 2, 2, 0, 30, tzinfo=dt.timezone.utc)


def _recording_tasks(calls):
    return [
        PeriodicTask("minutely", dt.timedelta(minutes=1), lambda app, now: calls.append(("minutely", now))),
        PeriodicTask("hourly", dt.timedelta(hours=1), lambda app, now: calls.append(("hourly", now))),
    ]


def test_each_task_runs_once_per_slot(app):
    calls = []
    scheduler = Scheduler(app, _recording_tasks(calls))
    assert scheduler.tick(T0) == ["minutely", "hourly"]
    assert scheduler.tick(T0 + dt.timedelta(seconds=20)) == []
    assert scheduler.tick(T0 + dt.timedelta(minutes=1)) == ["minutely"]
    assert scheduler.tick(T0 + dt.timedelta(hours=1)) == ["minutely", "hourly"]


def test_a_failing_task_does_not_stop_the_others(app):
    calls = []

    def boom(app, now):
        raise RuntimeError("down")

    scheduler = Scheduler(app, [PeriodicTask("boom", dt.timedelta(minutes=1), boom)] + _recording_tasks(calls))
    assert scheduler.tick(T0) == ["minutely", "hourly"]


def test_two_schedulers_share_slots_through_redis(app, redis_url):
    container_of(app).config["REDIS_URL"] = redis_url
    redis = container_of(app).redis
    for key in redis.scan_iter("yiqi:schedule:*"):
        redis.delete(key)
    calls = []
    first, second = Scheduler(app, _recording_tasks(calls)), Scheduler(app, _recording_tasks(calls))
    assert first.tick(T0) == ["minutely", "hourly"]
    assert second.tick(T0) == []
    assert second.tick(T0 + dt.timedelta(minutes=1)) == ["minutely"]
    assert len(calls) == 3


def test_the_real_tasks_run(app, runner):
    result = runner.invoke(args=["scheduler", "run", "--once", "--at", T0.isoformat()])
    assert result.exit_code == 0
    assert ("ran: notifications.dispatch, payments.reconcile, claims.advance, members.advance, apportionment.publish, "
            "apportionment.execute, privacy.retention, audit.publish_heads, reports.freeze, bills.reconcile, "
            "plans.refresh_stats, proposals.close, wind_down.advance") in result.output


def test_published_runs_execute_after_the_notice_and_crashed_ones_resume(app, session, clock):
    import sqlalchemy as sa

    from app.jobs.apportionment import execute_due
    from app.services import apportionment
    from tests.support import add_claim, add_members, balances, make_user

    now = clock.now()
    uid = make_user(session, now)
    ids = add_members(session, uid, "adult_789", [1_000] * 4, now)
    claimant = add_members(session, uid, "adult_789", [0], now, state="pending")[0]
    add_claim(session, claimant, 400, now)
    run = apportionment.prepare(session, "adult_789", now, chunk_size=1)
    apportionment.publish(session, run.id, now)
    notice = dt.timedelta(hours=24)
    assert execute_due(session, now + dt.timedelta(hours=23), notice=notice, grace_days=30) == []
    apportionment.execute(session, run.id, now + dt.timedelta(hours=23), max_chunks=2)  # stopped halfway
    assert execute_due(session, now + dt.timedelta(hours=23, minutes=10), notice=notice, grace_days=30) == [run.id]
    status = session.execute(sa.text(f"SELECT status FROM apportionment_runs WHERE id = {run.id}")).scalar_one()
    assert status == "executed"
    session.expire_all()
    assert balances(session, ids) == {m: 900 for m in ids}  # each of the four paid its 100 fen share once
