"""The image's entry commands, taken from deploy/docker-compose.yml and run as plain processes with
APP_ENV=production against PostgreSQL, Redis and the WeChat emulator: the deploy step, gunicorn with
deploy/gunicorn.conf.py, an RQ worker and the scheduler (Docker itself is not run; see README)."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.container import container_of
from app import create_app, jobs
from app.extensions import db
from app.logs import request_id_bound
from config import DevelopmentConfig
from tests.support import app_config, consent, member, new_user, record, wait_until
from wechat.keys import load_keys

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
SPONSOR_SECRET = "sponsor-secret-0123456789abcdef"
STARTUP_SECONDS = 60


def _command(service: str) -> list[str]:
    return list(COMPOSE["services"][service]["command"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def deploy_database(postgresql_url):
    """A database of its own, empty: the deploy step must build it from nothing."""
    server, name = postgresql_url.rsplit("/", 1)
    name = f"{name}_deploy"
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield f"{server}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def production_env(deploy_database, redis_url, keys_dir, emulator, tmp_path) -> dict:
    """What the image's processes get: APP_ENV=production and every required variable."""
    keys = load_keys(keys_dir)
    dev = DevelopmentConfig
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "METRICS_PORT", "FLASK_APP")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", APP_ENV="production",
        FLASK_APP="wsgi", DATABASE_URL=deploy_database, REDIS_URL=redis_url, SECRET_KEY="s" * 40,
        PII_ENCRYPTION_KEY=dev.PII_ENCRYPTION_KEY, PII_HASH_KEY=dev.PII_HASH_KEY,
        WECHAT_APPID=keys.appid, WECHAT_SECRET=keys.secret, WECHAT_API_BASE=emulator.url,
        WECHAT_PAY_GATEWAY=emulator.url.rstrip("/"), WECHAT_PAY_MCHID=keys.mchid,
        WECHAT_PAY_MERCHANT_SERIAL=keys.merchant_serial,
        WECHAT_PAY_MERCHANT_KEY_PATH=str(keys_dir / "merchant_private.pem"), WECHAT_PAY_APIV3_KEY=keys.apiv3_key,
        WECHAT_PAY_PLATFORM_PUBLIC_KEY_PATH=str(keys_dir / "platform_public.pem"),
        WECHAT_PAY_PLATFORM_PUBLIC_KEY_ID=keys.platform_public_key_id,
        WECHAT_PAY_NOTIFY_URL="http://127.0.0.1:9/api/v1/payments/wechat/notify",
        CLAIM_DOCUMENTS_DIR=str(tmp_path / "claim-documents"), LOG_LEVEL="INFO",
    )
    return env


def _run(command: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


class Process:
    """A long-running entry command with its output in files (no pipe to fill up)."""

    def __init__(self, command: list[str], env: dict, directory: Path, name: str):
        self.stdout_path, self.stderr_path = directory / f"{name}.out", directory / f"{name}.err"
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)

    def wait_for(self, predicate, what: str):
        def alive_and(predicate_):
            assert self.popen.poll() is None, f"exited before {what}: {self.output()[-3000:]}"
            return predicate_()

        return wait_until(lambda: alive_and(predicate), STARTUP_SECONDS, what, interval=0.1,
                          ignoring=(requests.RequestException,), detail=lambda: self.output()[-3000:])

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            raise

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def output(self) -> str:
        return self.stdout() + self.stderr()


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_deploy_step_then_gunicorn_with_the_deploy_config(production_env, tmp_path):
    migrate = _command("migrate")
    first = _run(migrate, production_env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "plans created: 6" in first.stdout
    assert all(line["level"] for line in _json_lines(first.stderr))  # JSON lines, alembic's too
    again = _run(migrate, production_env)  # a second deploy changes nothing
    assert again.returncode == 0 and "unchanged: 6" in again.stdout

    port, metrics_dir = _free_port(), tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {**production_env, "PORT": str(port), "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    api = Process(_command("api"), env, tmp_path, "api")
    base = f"http://127.0.0.1:{port}"
    try:
        api.wait_for(lambda: requests.get(base + "/livez", timeout=2).status_code == 200, "/livez")
        ready = requests.get(base + "/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "migrations": "ok",
                                                                       "redis": "ok"}
        plans = requests.get(base + "/api/v1/plans", headers={"X-Request-ID": "deploy-plans-1"}, timeout=5)
        assert plans.status_code == 200 and plans.headers["X-Request-ID"] == "deploy-plans-1"
        sponsor = requests.get(f"{base}/api/v1/sponsor/{SPONSOR_SECRET}", headers={"X-Request-ID": "deploy-sponsor-1"},
                               timeout=5)
        assert sponsor.status_code == 404  # the token travels in a body now; an old link still never logs it
        too_long = requests.get(f"{base}/api/v1/plans/{'a' * 5000}", timeout=5)
        assert too_long.status_code == 414 and too_long.json()["error"]["code"] == "uri_too_long"  # the app's
        assert requests.get(f"{base}/api/v1/plans/{'a' * 9000}", timeout=5).status_code == 414  # gunicorn's
        for _ in range(10):
            assert requests.get(base + "/api/v1/plans", timeout=5).status_code == 200
        # Two workers, one count: every worker's requests are in whichever worker answers the scrape.
        metrics = _samples(requests.get(base + "/metrics", timeout=5).text)
        listed = sum(v for (name, labels), v in metrics.items()
                     if name == "flask_http_request_duration_seconds_count" and dict(labels)["endpoint"] == "plans.list_plans")
        assert listed == 11
        assert metrics[("yiqi_domain_metrics_up", ())] == 1
        assert metrics[("yiqi_notifications_outbox", (("status", "pending"),))] == 0
        assert list(metrics_dir.glob("*.db"))
    finally:
        assert api.stop() == 0

    access = _json_lines(api.stdout())
    by_id = {line["request_id"]: line for line in access}
    assert by_id["deploy-plans-1"]["path"] == "/api/v1/plans" and by_id["deploy-plans-1"]["status"] == 200
    assert by_id["deploy-sponsor-1"]["path"] == "/api/v1/sponsor/***" and by_id["deploy-sponsor-1"]["status"] == 404
    assert all(line["logger"] == "gunicorn.access" for line in access)
    assert SPONSOR_SECRET not in api.output()
    assert all(line["level"] for line in _json_lines(api.stderr()))


def test_worker_and_scheduler_processes_work_and_serve_their_metrics(production_env, redis_url, keys_dir, emulator,
                                                                    clock, tmp_path):
    # The deploy step in-process (its command is the previous test's): migrations and the catalogue.
    # An announcement to one consenting member, in the outbox; dispatched under a known request id.
    cfg = app_config(production_env["DATABASE_URL"], keys_dir, emulator.url)
    cfg["REDIS_URL"] = redis_url
    app = create_app(cfg)
    container_of(app).override(clock=clock)
    with app.app_context():
        from flask_migrate import upgrade

        from app.services.plans import load_catalogue

        upgrade()
        session, services = db.session, container_of(app)
        load_catalogue(session, app.config["PLANS_FILE"], clock.now())
        services.redis.delete(*services.redis.keys("yiqi:schedule:*") or ["none"])
        jobs.queue(app).empty()
        user = new_user(session, clock)
        member(session, services, clock, user.id)
        consent(session, services, emulator, user, "case_announced")
        plan_id = session.execute(sa.text("SELECT id FROM plans WHERE code = 'adult_789'")).scalar_one()
        record(session, "run.published", clock, plan_id=plan_id, run_id=1, payload={"share_fen": 100, "case_count": 1})
        with request_id_bound("deploy-dispatch-1"):
            assert jobs.dispatch(app, now=dt.datetime.now(dt.timezone.utc)) >= 1

        worker_port = _free_port()
        worker = Process(_command("worker"), {**production_env, "METRICS_PORT": str(worker_port)}, tmp_path, "worker")
        try:
            sent = ("yiqi_notifications_delivered_total", (("outcome", "sent"),))
            worker.wait_for(lambda: _samples(requests.get(f"http://127.0.0.1:{worker_port}/", timeout=2).text)
                            .get(sent) == 1, "a delivered notification in the worker's metrics")
        finally:
            assert worker.stop() == 0
        session.expire_all()
        statuses = dict(session.execute(sa.text("SELECT kind, status FROM notifications")).all())
        assert statuses["case_announced"] == "sent"
        db.session.remove()
        db.engine.dispose()
    calls = [line for line in _json_lines(worker.stderr()) if line.get("logger") == "wechat.calls"]
    assert [(c["operation"], c["request_id"]) for c in calls if c["operation"] == "send_subscribe_message"] == [
        ("send_subscribe_message", "deploy-dispatch-1")]  # the request id travelled in the job's meta

    scheduler_port = _free_port()
    scheduler = Process(_command("scheduler"), {**production_env, "METRICS_PORT": str(scheduler_port)}, tmp_path,
                        "scheduler")
    try:
        ran = ("yiqi_scheduler_task_runs_total", (("outcome", "ok"), ("task", "payments.reconcile")))
        scheduler.wait_for(lambda: _samples(requests.get(f"http://127.0.0.1:{scheduler_port}/", timeout=2).text)
                           .get(ran) == 1, "a reconcile run in the scheduler's metrics")
    finally:
        assert scheduler.stop() in (0, -signal.SIGTERM)
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
    once = _run(_command("scheduler") + ["--once", "--at", later], production_env)
    assert once.returncode == 0, once.stderr[-3000:]
    assert once.stdout.startswith("ran: notifications.dispatch, payments.reconcile, claims.advance")
