"""`make run`'s process set (scripts/run.sh) on free ports, driven like a newcomer would: a sponsor's
top-up paid through the emulator reaches the member as a subscribe message with no other command run
(the clock dispatches it); a `flask` command beside it finds the instance; Ctrl-C leaves nothing behind."""
from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
import requests

from app.services.clock import FrozenClock
from config import DEVELOPMENT_SCHEDULE_SECONDS
from tests.support import join_body, mint_code, wait_until

ROOT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE = 180  # migrations + four processes on a shared 2-core machine
TEMPLATE = "yiqi-topup-credited-dev"
# The clock looks every SCHEDULER_POLL_SECONDS (1 s) for a due dispatch (every 5 s in development).
DELIVERY_DEADLINE = DEVELOPMENT_SCHEDULE_SECONDS["notifications.dispatch"] + 1 + 20  # + slack for a loaded machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment carries the marker (every process `make run` started does)."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                status = (entry / "status").read_text()
                if "\nState:\tZ" not in status:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


class Running:
    def __init__(self, tmp_path: Path, redis_url: str | None):
        self.marker = f"YIQI_RUN_TEST={uuid.uuid4().hex}"
        self.port, self.emulator_port = free_port(), free_port()
        self.database = tmp_path / "elsewhere" / "demo.sqlite3"  # outside the instance: only run.env tells
        self.database.parent.mkdir()
        self.instance = tmp_path / "instance"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "APP_ENV", "FLASK_APP")}
        env.update(PORT=str(self.port), EMULATOR_PORT=str(self.emulator_port), INSTANCE_DIR=str(self.instance),
                   DATABASE_URL=f"sqlite:///{self.database}", YIQI_RUN_TEST=self.marker.split("=", 1)[1])
        if redis_url:
            env["REDIS_URL"] = redis_url
        self.with_redis = redis_url is not None
        self.output: list[str] = []
        self.process = subprocess.Popen([str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def emulator(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}/"

    def text(self) -> str:
        return "".join(self.output)

    def login(self, openid: str) -> dict:
        response = requests.post(self.api + "/api/v1/auth/login", json={"code": mint_code(self.emulator, openid)},
                                 timeout=10)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def running(request, tmp_path):
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    run = Running(tmp_path, redis_url)
    yield run
    if run.process.poll() is None:  # the test failed before its Ctrl-C: do not leave the platform running
        run.process.send_signal(signal.SIGINT)
        run.process.wait(timeout=60)


@pytest.mark.parametrize("running", ["inline", "redis"], indirect=True)
def test_make_run_delivers_a_sponsor_topup_push_and_stops_cleanly(running):
    wait_until(lambda: "is running" in running.text() or running.process.poll() is not None, STARTUP_DEADLINE,
               "the startup banner")
    assert running.process.poll() is None, running.text()
    banner = running.text()
    assert f"http://127.0.0.1:{running.port}/api/v1/plans" in banner and running.emulator in banner
    assert "notifications.dispatch every 5 s" in banner and "flask demo seed" in banner
    assert ("RQ worker" in banner) == running.with_redis

    member_openid = f"o-run-{uuid.uuid4().hex[:8]}"
    member, sponsor = running.login(member_openid), running.login(f"o-run-{uuid.uuid4().hex[:8]}")
    today = FrozenClock(dt.datetime.now(dt.timezone.utc))
    joined = requests.post(running.api + "/api/v1/memberships", json=join_body(today), headers=member, timeout=10)
    assert joined.status_code == 201, joined.text
    membership = joined.json()
    # The member allowed the top-up message in wx.requestSubscribeMessage: WeChat and our API both know.
    assert requests.post(running.api + "/api/v1/subscriptions", json={"accepted": ["topup_credited"]},
                         headers=member, timeout=10).status_code == 200
    requests.post(running.emulator + "_emulator/subscribe/consent",
                  json={"openid": member_openid, "template_id": TEMPLATE}, timeout=10).raise_for_status()

    topup = requests.post(running.api + "/api/v1/sponsor/topups",
                          json={"token": membership["sponsor_token"], "amount_fen": 300}, headers=sponsor, timeout=10)
    assert topup.status_code == 201, topup.text
    paid = requests.post(running.emulator + "_emulator/pay", json=topup.json()["payment"], timeout=10)
    assert paid.status_code == 200, paid.text
    order = topup.json()["order"]["id"]
    wait_until(lambda: requests.get(running.api + f"/api/v1/topups/{order}", headers=sponsor, timeout=10)
               .json()["status"] == "paid", 30, "the payment notification crediting the order")

    def delivered():
        return requests.get(running.emulator + "_emulator/subscribe/messages",
                            params={"openid": member_openid, "template_id": TEMPLATE}, timeout=10).json()["messages"]

    [message] = wait_until(delivered, DELIVERY_DEADLINE, "the subscribe message at the emulator")
    assert message["data"]["amount2"]["value"] == "3.00元" and message["data"]["thing3"]["value"] == "有人为您的互助充值了"

    # A flask command beside it, given nothing but where the instance lives, finds its database.
    beside = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "notifications", "status", "--json"], cwd=ROOT,
                            env={"PATH": os.environ["PATH"], "INSTANCE_DIR": str(running.instance)},
                            capture_output=True, text=True, timeout=120)
    assert beside.returncode == 0, beside.stderr
    assert '"sent": 1' in beside.stdout, beside.stdout
    assert f"DATABASE_URL=sqlite:///{running.database}" in (running.instance / "run.env").read_text()

    assert processes_with(running.marker), "the marker should find the running processes"
    running.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert running.process.wait(timeout=60) == 0, running.text()
    assert processes_with(running.marker) == []

