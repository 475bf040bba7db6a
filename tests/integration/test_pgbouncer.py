"""The app through PgBouncer in transaction mode (scripts/pgbouncer.sh installs and starts it): a small
API flow, and more concurrent requests than PgBouncer has server connections."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from app.extensions import db
from app.services import memberships
from app.services.unit_of_work import atomic
from tests.api.test_memberships_api import join_body
from tests.support import login, running_app

ROOT = Path(__file__).resolve().parents[2]
SERVER_CONNECTIONS = 2
CONCURRENT_REQUESTS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bouncer_url(postgresql_url):
    port = _free_port()
    # Not pytest's tmp_path: as root, PgBouncer runs as the postgres user, which cannot enter it.
    directory = tempfile.mkdtemp(prefix=f"yiqi-pgbouncer-test-{port}-")
    upstream = make_url(postgresql_url)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PGBOUNCER_PORT": str(port),
           "PGBOUNCER_DIR": directory, "UPSTREAM_HOST": upstream.host or "127.0.0.1",
           "UPSTREAM_PORT": str(upstream.port or 5432), "PGBOUNCER_USER": upstream.username or "postgres",
           "PGBOUNCER_POOL_SIZE": str(SERVER_CONNECTIONS)}
    started = subprocess.run([str(ROOT / "scripts" / "pgbouncer.sh"), "start"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert started.returncode == 0, started.stderr  # never a skip: the script installs what it needs
    yield upstream.set(port=port).render_as_string(hide_password=False), port
    subprocess.run([str(ROOT / "scripts" / "pgbouncer.sh"), "stop"], env=env, timeout=60)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def bounced_app(bouncer_url, keys_dir, emulator, clock):
    with running_app(bouncer_url[0], keys_dir, emulator.url, clock) as application:
        yield application


def _pools(port: int) -> list[dict]:
    """PgBouncer's admin console (SHOW POOLS): plain psycopg2 in autocommit, it knows no SQL."""
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="pgbouncer")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW POOLS")
            names = [c.name for c in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        conn.close()


def test_api_flow_through_pgbouncer_in_transaction_mode(bounced_app, bouncer_url, emulator, clock):
    _, port = bouncer_url
    client = bounced_app.test_client()
    headers = login(client, emulator.url, "o-bouncer")
    joined = client.post("/api/v1/memberships", json=join_body(clock), headers=headers)
    assert joined.status_code == 201, joined.get_json()
    membership_id = joined.get_json()["id"]
    with bounced_app.app_context(), atomic(db.session):
        memberships.credit(db.session, membership_id=membership_id, amount_fen=300, idempotency_key="bouncer-1",
                           now=clock.now())
    plans = {p["code"]: p for p in client.get("/api/v1/plans").get_json()["items"]}
    assert plans["adult_789"]["counts"]["members"] == 1 and plans["adult_789"]["balances_held_fen"] == 300

    start = threading.Barrier(CONCURRENT_REQUESTS)
    answers: list[tuple[int, int | None]] = []

    def member_reads():
        own_client = bounced_app.test_client()
        start.wait()
        for _ in range(5):
            response = own_client.get(f"/api/v1/memberships/{membership_id}", headers=headers)
            answers.append((response.status_code, (response.get_json() or {}).get("balance_fen")))

    threads = [threading.Thread(target=member_reads) for _ in range(CONCURRENT_REQUESTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [(200, 300)] * CONCURRENT_REQUESTS * 5
    pool = next(p for p in _pools(port) if p["database"] == make_url(bouncer_url[0]).database)
    assert pool["pool_mode"] == "transaction"
    # Forty requests from eight threads at once were served by at most the pool (+ its reserve of 5).
    assert 0 < pool["sv_active"] + pool["sv_idle"] + pool["sv_used"] <= SERVER_CONNECTIONS + 5
