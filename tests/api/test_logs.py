"""Structured logs: JSON lines carrying the request id (requests, WeChat calls, RQ jobs), and never a
name, ID number, login code, session key, openid or token."""
from __future__ import annotations

import io
import json
import logging

import pytest
import requests

from app.logs import configure_logging, current_request_id, redact_path, request_id_bound
from tests.support import join_body, mint_code, order_topup
from wechat.emulator.state import Fault


@pytest.fixture
def captured_logs():
    """The process's real JSON handler, at DEBUG, writing into a buffer; removed afterwards."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = configure_logging(logging.DEBUG, stream=buffer)
    # The in-process WeChat emulator's HTTP server logs as `werkzeug` (WeChat's side, with the codes in
    # its URLs); the API under gunicorn logs no werkzeug lines.
    handler.addFilter(lambda record: record.name != "werkzeug")
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_a_member_flow_logs_json_lines_with_request_ids_and_no_personal_data(client, emulator, captured_logs, clock):
    openid = "o-logs-privacy-7d1"
    code = mint_code(emulator.url, openid)
    login = client.post("/api/v1/auth/login", json={"code": code}, headers={"X-Request-ID": "login-req-0001"})
    assert login.status_code == 200 and login.headers["X-Request-ID"] == "login-req-0001"
    token = login.get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with emulator.state.lock:
        session_key = emulator.state.users[openid].session_key

    body = join_body(clock, name="欧阳娜娜")
    joined = client.post("/api/v1/memberships", json=body, headers=headers)
    assert joined.status_code == 201
    membership = joined.get_json()
    assert client.post("/api/v1/sponsor/lookup", json={"token": membership["sponsor_token"]},
                       headers=headers).status_code == 200
    order_topup(client, headers, membership["id"], 500)  # a WeChat Pay call
    sealed = requests.post(emulator.url + "_emulator/groups/encrypt", json={"openid": openid, "opengid": "G-logs"},
                           timeout=5).json()
    assert client.post("/api/v1/groups/enter", json=sealed, headers=headers).status_code == 200
    # And a failing WeChat call: a code WeChat refuses.
    emulator.state.add_fault(Fault(path="sns/jscode2session", errcode=40163, times=1))
    refused_code = mint_code(emulator.url, openid)
    assert client.post("/api/v1/auth/login", json={"code": refused_code}).status_code >= 400

    lines = _lines(captured_logs)
    calls = [line for line in lines if line["logger"] == "wechat.calls"]
    assert {"code_to_session", "pay"} <= {line["operation"] for line in calls}
    login_call = next(line for line in calls if line["operation"] == "code_to_session")
    assert login_call["request_id"] == "login-req-0001" and login_call["outcome"] == "ok"
    assert any(line["outcome"] == "error" and line["errcode"] == "40163" for line in calls)
    assert all(line["request_id"] for line in calls)

    secrets = {"name": "欧阳娜娜", "id number": body["person"]["id_number"], "login code": code,
               "refused code": refused_code, "session key": session_key, "openid": openid, "token": token,
               "sponsor token": membership["sponsor_token"], "sealed group data": sealed["encryptedData"]}
    text = captured_logs.getvalue()
    for what, value in secrets.items():
        escaped = json.dumps(value)[1:-1]  # as it would look if a line were ASCII-escaped
        assert value not in text and escaped not in text, f"the {what} appears in the logs"


def test_redact_path_hides_the_sponsor_token_only():
    assert redact_path("/api/v1/sponsor/abcDEF123_-x") == "/api/v1/sponsor/***"
    assert redact_path("/api/v1/sponsor/abc/topups") == "/api/v1/sponsor/***/topups"
    assert redact_path("/api/v1/plans/adult_789") == "/api/v1/plans/adult_789"


@pytest.fixture
def rq_app(postgresql_url, redis_url, keys_dir, emulator):
    from app import create_app, jobs
    from tests.support import app_config

    cfg = app_config(postgresql_url, keys_dir, emulator.url)
    cfg["REDIS_URL"] = redis_url
    application = create_app(cfg)
    jobs.queue(application).empty()
    yield application
    jobs.queue(application).empty()


def test_the_worker_binds_the_request_id_from_job_meta(rq_app):
    from app import jobs

    rq_queue = jobs.queue(rq_app)
    job = rq_queue.enqueue(current_request_id, meta={"request_id": "sched-tick-42"})
    assert current_request_id() is None
    with rq_app.app_context():
        jobs._request_id_worker_class()([rq_queue], connection=rq_queue.connection).work(burst=True,
                                                                                         with_scheduler=False)
    job.refresh()
    assert job.return_value() == "sched-tick-42"  # what the job saw bound while it ran


def test_the_enqueuer_puts_the_bound_request_id_in_job_meta(rq_app):
    from app import jobs

    enqueue = jobs.enqueuer(rq_app)
    with request_id_bound("dispatch-req-9"):
        job = enqueue([1, 2, 3], "claim-token")
    assert job.meta["request_id"] == "dispatch-req-9"
    assert enqueue([4], "other").meta["request_id"]  # none bound: a fresh one, never missing


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_one_command_run_gives_all_its_jobs_one_request_id(app, session, services, clock, redis_url, runner):
    import datetime as dt

    import sqlalchemy as sa

    from app import jobs
    from tests.support import member, new_user, record

    app.config.update(REDIS_URL=redis_url, NOTIFICATION_CHUNK_SIZE=1)
    rq_queue = jobs.queue(app)
    rq_queue.empty()
    plan_id = session.execute(sa.text("SELECT id FROM plans WHERE code = 'adult_789'")).scalar_one()
    for _ in range(2):
        member(session, services, clock, new_user(session, clock).id)
    record(session, "run.published", clock, plan_id=plan_id, run_id=1, payload={"share_fen": 100, "case_count": 1})
    later = (clock.now() + dt.timedelta(minutes=1)).isoformat()
    result = runner.invoke(args=["notifications", "dispatch", "--at", later])
    assert result.exit_code == 0, result.output
    request_ids = [job.meta["request_id"] for job in rq_queue.jobs]
    rq_queue.empty()
    assert len(request_ids) >= 2 and len(set(request_ids)) == 1 and request_ids[0]
