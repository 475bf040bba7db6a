"""A member token's user is looked up once per process and period, never remembered when missing."""
from __future__ import annotations

import sqlalchemy as sa

from app.container import container_of
from app.api.security import KnownUsers
from tests.support import login


def test_a_signed_token_of_a_missing_user_is_refused_every_time(app, client):
    token = container_of(app).member_tokens.issue(987_654)
    for _ in range(2):
        response = client.get("/api/v1/memberships", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "token_invalid"


def test_a_known_user_is_not_looked_up_again(app, client, emulator, session):
    headers = login(client, emulator.url, "o-known")
    assert client.get("/api/v1/memberships", headers=headers).status_code == 200  # looked up, remembered
    statements = []
    sa.event.listen(session.get_bind(), "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert client.get("/api/v1/memberships", headers=headers).status_code == 200
    assert not any("FROM users" in s for s in statements)


def test_known_users_forget_after_their_period_and_when_full():
    known = KnownUsers(ttl_seconds=0.0)
    known.add(1)
    assert 1 not in known  # a period of zero: always looked up
    known = KnownUsers(ttl_seconds=300, max_size=2)
    known.add(1), known.add(2)
    assert 1 in known and 2 in known
    known.add(3)
    assert 3 in known and 1 not in known
