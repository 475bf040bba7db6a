"""/livez, /readyz (503 naming what is down), request ids, and /metrics: request metrics by endpoint
and the domain gauges and counters moving with the work."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.extensions import db
from app.services import apportionment
from tests.support import (PG_URL, add_claim, add_members, app_config, join, make_user, member, new_user, order_topup,
                           phone_pays, record)
from wechat.emulator.state import Fault


def _app(url: str, keys_dir, emulator, **overrides):
    cfg = app_config(url, keys_dir, emulator.url)
    cfg.update(overrides)
    return create_app(cfg)


def _readyz(application):
    response = application.test_client().get("/readyz")
    return response.status_code, response.get_json()


def test_livez_and_readyz_answer_ok_on_a_migrated_database(client):
    assert client.get("/livez").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok",
                                                                  "redis": "not configured"}}


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1:1/yiqi",  # nothing listens: PostgreSQL stopped
                                 PG_URL.rsplit("/", 1)[0] + "/no_such_database_yiqi"])
def test_readyz_is_503_naming_the_database_when_it_cannot_be_reached(url, keys_dir, emulator):
    status, body = _readyz(_app(url, keys_dir, emulator))
    assert status == 503
    assert body["error"]["code"] == "not_ready"
    assert body["error"]["details"]["down"] == ["database", "migrations"] or \
        body["error"]["details"]["down"] == ["database"]
    assert body["error"]["details"]["checks"]["database"].startswith("unreachable (OperationalError)")
    assert "127.0.0.1" not in str(body) and "postgres@" not in str(body)  # no URL (it may carry a password)


def test_readyz_is_503_when_migrations_are_not_at_head(tmp_path, keys_dir, emulator):
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    application = _app(url, keys_dir, emulator)
    with application.app_context():
        upgrade(revision="0006")  # a database one deploy behind the code
        db.engine.dispose()
    status, body = _readyz(application)
    assert status == 503
    assert body["error"]["details"]["down"] == ["migrations"]
    from alembic.script import ScriptDirectory

    head = ScriptDirectory("migrations").get_current_head()
    assert body["error"]["details"]["checks"]["migrations"] == f"not at head (database: 0006; code: {head})"
    with application.app_context():
        upgrade()
        db.engine.dispose()
    assert _readyz(application)[0] == 200


def test_readyz_checks_redis(postgresql_url, redis_url, keys_dir, emulator):
    status, body = _readyz(_app(postgresql_url, keys_dir, emulator, REDIS_URL=redis_url))
    assert (status, body["checks"]["redis"]) == (200, "ok")
    status, body = _readyz(_app(postgresql_url, keys_dir, emulator, REDIS_URL="redis://127.0.0.1:1/0"))
    assert status == 503
    assert body["error"]["details"]["down"] == ["redis"]
    assert body["error"]["details"]["checks"]["redis"].startswith("unreachable (")


@pytest.mark.no_database
def test_probes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/livez"]["get"]["responses"]) >= {"200"}
    assert set(paths["/readyz"]["get"]["responses"]) >= {"200", "503"}


@pytest.mark.no_database
def test_request_id_is_echoed_when_sane_and_generated_otherwise(client):
    assert client.get("/livez", headers={"X-Request-ID": "edge-7f3a.01"}).headers["X-Request-ID"] == "edge-7f3a.01"
    for insane in ("a b", "x" * 200, "<script>", "id\u00e9"):
        generated = client.get("/livez", headers={"X-Request-ID": insane}).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", generated)
    first, second = (client.get("/livez").headers["X-Request-ID"] for _ in range(2))
    assert first != second


def _metrics(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def _value(metrics, name, **labels) -> float | None:
    return metrics.get((name, tuple(sorted(labels.items()))))


def test_domain_gauges_move_with_the_work(client, session, services, clock):
    before = _metrics(client)
    assert _value(before, "yiqi_domain_metrics_up") == 1
    assert _value(before, "yiqi_notifications_outbox", status="pending") == 0
    assert _value(before, "yiqi_claims_open", status="ready") == 0

    # An event with three members to tell: three outbox rows pending.
    plan_id = session.execute(sa.text("SELECT id FROM plans WHERE code = 'adult_789'")).scalar_one()
    for _ in range(3):
        member(session, services, clock, new_user(session, clock).id)
    record(session, "run.published", clock, plan_id=plan_id, run_id=1, payload={"share_fen": 100, "case_count": 1})
    pending = session.execute(sa.text("SELECT count(*) FROM notifications WHERE status = 'pending'")).scalar_one()
    assert pending >= 3
    assert _value(_metrics(client), "yiqi_notifications_outbox", status="pending") == pending

    # A case ready for a run, then the run prepared (0 of 2 chunks) and executed one chunk at a time.
    now = clock.now()
    user = make_user(session, now)
    payers = add_members(session, user, "adult_789", [500] * 4, now)
    add_claim(session, payers[0], approved_fen=300, publicity_ends_at=now - dt.timedelta(days=1))
    assert _value(_metrics(client), "yiqi_claims_open", status="ready") == 1
    run = apportionment.prepare(session, "adult_789", now, chunk_size=max(1, (payers[-1] - payers[0] + 2) // 2))
    labels = {"plan": "adult_789", "run_id": str(run.id), "status": "prepared"}
    metrics = _metrics(client)
    total = _value(metrics, "yiqi_apportionment_run_chunks_total", **labels)
    assert total >= 2 and _value(metrics, "yiqi_apportionment_run_chunks_done", **labels) == 0
    apportionment.publish(session, run.id, now)
    apportionment.execute(session, run.id, now, max_chunks=1)
    executing = {**labels, "status": "executing"}
    assert _value(_metrics(client), "yiqi_apportionment_run_chunks_done", **executing) == 1
    apportionment.execute(session, run.id, now)
    metrics = _metrics(client)  # executed: no longer an open run, and its case is collected
    assert not [key for key in metrics if key[0] == "yiqi_apportionment_run_chunks_done"]
    assert _value(metrics, "yiqi_claims_open", status="collected") == 1


def test_request_metrics_are_by_endpoint_never_by_path(client):
    key = ("flask_http_request_duration_seconds_count", "plans.get_plan")
    counted = lambda: sum(v for (name, labels), v in _metrics(client).items()  # noqa: E731
                          if name == key[0] and dict(labels).get("endpoint") == key[1])
    before = counted()
    client.get("/api/v1/plans/adult_789")
    client.get("/api/v1/sponsor/a-secret-sponsor-token")
    assert counted() == before + 1
    text = client.get("/metrics").get_data(as_text=True)
    assert "a-secret-sponsor-token" not in text and "/api/v1/plans/adult_789" not in text


def test_domain_metrics_report_down_instead_of_failing_the_scrape(keys_dir, emulator):
    application = _app("postgresql://postgres@127.0.0.1:1/yiqi", keys_dir, emulator)
    metrics = _metrics(application.test_client())
    assert _value(metrics, "yiqi_domain_metrics_up") == 0
    assert not [key for key in metrics if key[0] == "yiqi_notifications_outbox"]


def _wechat_errors(operation: str, errcode: str) -> float:
    return REGISTRY.get_sample_value("yiqi_wechat_call_errors_total",
                                     {"api": "mp", "operation": operation, "errcode": errcode}) or 0


def test_wechat_call_errors_are_counted_by_errcode(client, emulator):
    before = _wechat_errors("code_to_session", "40029")
    emulator.state.add_fault(Fault(path="sns/jscode2session", errcode=40029, times=1))
    response = client.post("/api/v1/auth/login", json={"code": "any-code"})
    assert response.status_code >= 400
    assert _wechat_errors("code_to_session", "40029") == before + 1
    assert _value(_metrics(client), "yiqi_wechat_call_errors_total", api="mp", operation="code_to_session",
                  errcode="40029") == before + 1


def test_scheduled_reconcile_counts_what_it_corrected(app, client, alice, emulator, clock):  # noqa: F811
    from app.jobs.schedule import TASKS, Scheduler

    def settled():
        return REGISTRY.get_sample_value("yiqi_reconcile_corrections_total", {"kind": "order_settled"}) or 0

    def task_runs():
        return REGISTRY.get_sample_value("yiqi_scheduler_task_runs_total",
                                         {"task": "payments.reconcile", "outcome": "ok"}) or 0

    before, runs_before = settled(), task_runs()
    membership = join(client, alice, clock)
    topup = order_topup(client, alice, membership["id"], 500)
    phone_pays(emulator, topup["payment"], silent=True)  # paid, but WeChat's notification never arrives
    reconcile = Scheduler(app, tasks=[task for task in TASKS if task.name == "payments.reconcile"])
    assert reconcile.tick(clock.now() + dt.timedelta(minutes=10)) == ["payments.reconcile"]
    assert settled() == before + 1
    assert task_runs() == runs_before + 1
