"""The logs of a full flow hold no secret and no personal data.

The API runs as in production (gunicorn, its access log on stdout, the app's own logs on stderr) on a
fresh SQLite database; a member logs in, joins (name, ID number), tops up and is paid through WeChat
(the emulator), a sponsor opens the share link and tops up through it, the member enters a group
(session key), an operator logs in and reads the cases. Then every bearer token, the sponsor token,
the session key, the operator's password, the ID number and the name are searched for in the logs."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support import join_body, mint_code, phone_pays, wait_until

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_PASSWORD = "correct horse battery staple 42"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_api(tmp_path, emulator, keys_dir):
    port = _free_port()
    env = {**os.environ, "APP_ENV": "development", "FLASK_APP": "wsgi", "PORT": str(port),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'logs.sqlite3'}", "WECHAT_KEYS_DIR": str(keys_dir),
           "WECHAT_API_BASE": emulator.url, "WECHAT_PAY_GATEWAY": emulator.url.rstrip("/"),
           "CLAIM_DOCUMENTS_DIR": str(tmp_path / "documents"), "REDIS_URL": "",
           "OPERATOR_PASSWORD": OPERATOR_PASSWORD}
    flask = [sys.executable, "-m", "flask"]
    for command in (["db", "upgrade"], ["plans", "load"],
                    ["operators", "create", "--role", "reviewer", "--username", "rev-logs"]):
        subprocess.run(flask + command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    with access_log.open("w") as out, error_log.open("w") as err:
        # The flags scripts/run.sh uses: the access log in gunicorn's default format (request line included).
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
             "--access-logfile", "-", "--log-level", "info", "wsgi:app"],
            cwd=ROOT, env=env, stdout=out, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        def listening():
            assert process.poll() is None, "gunicorn exited: " + error_log.read_text()
            return requests.get(base + "/healthz", timeout=5)

        wait_until(listening, 60, "gunicorn to listen", interval=0.1,
                   ignoring=(requests.ConnectionError, requests.Timeout), detail=error_log.read_text)
        yield base, lambda: access_log.read_text() + error_log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)


def _member(base, emulator, openid):
    answer = requests.post(base + "/api/v1/auth/login", json={"code": mint_code(emulator.url, openid)}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def _paid_topup(base, headers, emulator, url, body):
    answer = requests.post(base + url, json=body, headers=headers, timeout=10)
    assert answer.status_code == 201, answer.text
    phone_pays(emulator, answer.json()["payment"])  # the emulator notifies the live API
    order_id = answer.json()["order"]["id"]
    wait_until(lambda: requests.get(f"{base}/api/v1/topups/{order_id}", headers=headers, timeout=10)
               .json()["status"] == "paid", 15, "the payment notification (the emulator delivers it)")


def test_a_full_flow_leaves_no_secret_in_the_logs(gunicorn_api, emulator, clock):
    base, logs = gunicorn_api
    member_token = _member(base, emulator, "o-logs-member")
    member = {"Authorization": f"Bearer {member_token}"}
    body = join_body(clock, name="欧阳日志")
    joined = requests.post(base + "/api/v1/memberships", json=body, headers=member, timeout=10)
    assert joined.status_code == 201, joined.text
    membership = joined.json()
    _paid_topup(base, member, emulator, f"/api/v1/memberships/{membership['id']}/topups", {"amount_fen": 500})

    sponsor_token = _member(base, emulator, "o-logs-sponsor")
    sponsor = {"Authorization": f"Bearer {sponsor_token}"}
    link = {"token": membership["sponsor_token"]}
    assert requests.post(base + "/api/v1/sponsor/lookup", json=link, headers=sponsor, timeout=10).status_code == 200
    _paid_topup(base, sponsor, emulator, "/api/v1/sponsor/topups", {**link, "amount_fen": 300})
    # A wrong link and a broken token are logged as failures, still without the secrets.
    assert requests.post(base + "/api/v1/sponsor/lookup", json={"token": "nope"}, headers=sponsor,
                         timeout=10).status_code == 404
    assert requests.get(base + "/api/v1/memberships", headers={"Authorization": f"Bearer {member_token}x"},
                        timeout=10).status_code == 401

    sealed = requests.post(emulator.url + "_emulator/groups/encrypt",
                           json={"openid": "o-logs-member", "opengid": "G-logs"}, timeout=10).json()
    assert requests.post(base + "/api/v1/groups/enter", json=sealed, headers=member, timeout=10).status_code == 200
    session_key = requests.get(emulator.url + "_emulator/sessions/o-logs-member", timeout=10).json()["session_key"]

    operator = requests.post(base + "/api/v1/admin/auth/login",
                             json={"username": "rev-logs", "password": OPERATOR_PASSWORD}, timeout=10)
    assert operator.status_code == 200, operator.text
    operator_token = operator.json()["token"]
    assert requests.get(base + "/api/v1/admin/claims", headers={"Authorization": f"Bearer {operator_token}"},
                        timeout=10).status_code == 200

    text = logs()
    assert "POST /api/v1/sponsor/lookup" in text and "POST /api/v1/sponsor/topups" in text  # the log is there
    secrets = {
        "member token": member_token, "sponsor's token": sponsor_token, "operator token": operator_token,
        "sponsor link token": membership["sponsor_token"], "session key": session_key,
        "operator password": OPERATOR_PASSWORD, "ID number": body["person"]["id_number"],
        "name": body["person"]["name"], "encrypted group data": sealed["encryptedData"],
    }
    leaked = [what for what, value in secrets.items() if value in text]
    assert leaked == [], f"found in the logs: {leaked}"
