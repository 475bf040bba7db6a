"""A real RQ worker process, killed in the middle of a case announcement's fan-out and restarted:
every consenting member gets the announcement exactly once (PostgreSQL + Redis + emulator)."""
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.container import container_of
from app import create_app, jobs
from app.extensions import db
from app.models import Notification
from tests.support import app_config, clean_database, consent, member, new_user, record, wait_until
from wechat.emulator.state import Fault

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = 120


@pytest.fixture
def rq_app(postgresql_url, redis_url, keys_dir, emulator, clock):
    cfg = app_config(postgresql_url, keys_dir, emulator.url)
    cfg.update(REDIS_URL=redis_url, NOTIFICATION_CHUNK_SIZE=20)
    application = create_app(cfg)
    container_of(application).override(clock=clock)
    with application.app_context():
        clean_database(db.engine)
        from app.services.plans import load_catalogue

        load_catalogue(db.session, application.config["PLANS_FILE"], clock.now())
        container_of(application).redis.flushdb()
        yield application
        db.session.remove()
        db.engine.dispose()


def _worker(postgresql_url, redis_url, keys_dir, emulator):
    env = {**os.environ, "FLASK_APP": "wsgi", "APP_ENV": "development", "DATABASE_URL": postgresql_url,
           "REDIS_URL": redis_url, "WECHAT_API_BASE": emulator.url, "WECHAT_KEYS_DIR": str(keys_dir)}
    return subprocess.Popen([sys.executable, "-m", "flask", "notifications", "work", "--burst"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_killed_worker_restarted_sends_each_announcement_once(rq_app, postgresql_url, redis_url, keys_dir, emulator,
                                                             clock):
    session, services = db.session, container_of(rq_app)
    template_id = services.subscribe_templates["case_announced"].id
    users = []
    for _ in range(MEMBERS):
        user = new_user(session, clock)
        member(session, services, clock, user.id)
        consent(session, services, emulator, user, "case_announced")
        users.append(user)
    openids = {u.openid for u in users}
    plan_id = session.execute(sa.text("SELECT id FROM plans WHERE code = 'adult_789'")).scalar_one()
    record(session, "run.published", clock, plan_id=plan_id, run_id=1, payload={"share_fen": 100, "case_count": 1})

    def sent_to_us():
        with emulator.state.lock:
            return [m.touser for m in emulator.state.sent_messages
                    if m.template_id == template_id and m.touser in openids]

    emulator.state.add_fault(Fault(path="cgi-bin/message/subscribe/send", times=10_000, delay_seconds=0.02))
    try:
        real_now = dt.datetime.now(dt.timezone.utc)
        assert jobs.dispatch(rq_app, now=real_now) >= MEMBERS  # 6+ RQ jobs of 20 ids, not 120
        assert jobs.queue(rq_app).count <= MEMBERS // 20 + 6
        worker = _worker(postgresql_url, redis_url, keys_dir, emulator)
        wait_until(lambda: len(sent_to_us()) >= 30 or worker.poll() is not None, 60, "30 messages sent by the worker")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = len(sent_to_us())
        assert 0 < killed_at < MEMBERS, worker.stdout.read().decode()[-3000:]
    finally:
        emulator.state.faults.clear()

    # Restart: the remaining queued jobs run; then the dispatcher takes back the dead chunk after its lease.
    assert _worker(postgresql_url, redis_url, keys_dir, emulator).wait(timeout=120) == 0
    after_lease = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=rq_app.config["NOTIFICATION_LEASE_SECONDS"] + 1)
    jobs.dispatch(rq_app, now=after_lease)
    assert _worker(postgresql_url, redis_url, keys_dir, emulator).wait(timeout=120) == 0

    sent = sent_to_us()
    assert sorted(sent) == sorted(openids)  # everyone exactly once
    session.expire_all()
    statuses = dict(session.execute(sa.select(Notification.status, sa.func.count())
                                    .where(Notification.kind == "case_announced")
                                    .group_by(Notification.status)).all())
    assert set(statuses) <= {"sent", "skipped_no_quota"} and sum(statuses.values()) == MEMBERS
    assert statuses.get("sent", 0) >= MEMBERS - 25  # only the dead chunk's unrecorded sends are in doubt
    remaining = session.execute(sa.text("SELECT SUM(remaining) FROM subscribe_quotas")).scalar_one()
    assert remaining == 0
