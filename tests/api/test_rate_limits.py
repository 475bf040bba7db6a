"""Rate limits (Flask-Limiter, memory storage in tests) and the operator lock-out (both databases)."""
import datetime as dt

import sqlalchemy as sa

from app.extensions import db
from config import BaseConfig
from app.models import Operator, OperatorAuditEntry
from tests.api.test_hostile_input import assert_refused, row_counts
from tests.support import PASSWORD, join, login, make_operator, mint_code

OPERATOR_LOGIN = "/api/v1/admin/auth/login"


def operator_attempt(client, username, password, address="10.0.0.1"):
    return client.post(OPERATOR_LOGIN, json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def assert_rate_limited(response, code="too_many_requests"):
    assert_refused(response, 429, code)
    assert int(response.headers["Retry-After"]) >= 1


def test_sixth_wrong_operator_password_in_a_minute_is_429(app, client, clock):
    app.config["RATELIMIT_OPERATOR_LOGIN"] = BaseConfig.RATELIMIT_OPERATOR_LOGIN  # the production default
    make_operator("finance-a", "finance", now=clock.now())
    for _ in range(5):
        assert_refused(operator_attempt(client, "finance-a", "wrong password!"), 401, "operator_login_failed")
    before = row_counts()
    assert_rate_limited(operator_attempt(client, "finance-a", "wrong password!"))
    # The limit is per address: the same account from elsewhere still gets an answer.
    assert operator_attempt(client, "finance-a", PASSWORD, address="10.0.0.2").status_code == 200
    del before["operators"], before["operator_audit_log"]  # the successful login above
    after = row_counts()
    del after["operators"], after["operator_audit_log"]
    assert after == before


def test_repeated_failures_lock_the_account_and_the_lock_is_audited(app, client, clock):
    app.config.update(RATELIMIT_OPERATOR_LOGIN="1000/minute", OPERATOR_LOCKOUT_THRESHOLD=3,
                      OPERATOR_LOCKOUT_MINUTES=15)
    operator = make_operator("reviewer-a", "reviewer", now=clock.now())
    # Guessing from many addresses: the per-address limit never sees it, the lock-out does.
    for attempt in range(2):
        assert_refused(operator_attempt(client, "reviewer-a", "guess", address=f"10.1.0.{attempt}"), 401)
    locked = operator_attempt(client, "reviewer-a", "guess", address="10.1.0.9")
    assert_refused(locked, 429, "operator_locked")
    # Flask-Limiter re-writes Retry-After against the wall clock: a second may have gone by.
    assert 15 * 60 - 2 <= int(locked.headers["Retry-After"]) <= 15 * 60
    audit = db.session.execute(sa.select(OperatorAuditEntry).where(OperatorAuditEntry.action == "operator.locked")).scalar_one()
    assert (audit.target_type, audit.target_id, audit.operator_id) == ("operator", operator.id, None)
    assert audit.after["failed_logins"] == 3
    # While locked even the right password is refused (and not checked).
    clock.advance(minutes=14)
    still = operator_attempt(client, "reviewer-a", PASSWORD)
    assert_refused(still, 429, "operator_locked")
    assert 58 <= int(still.headers["Retry-After"]) <= 60
    clock.advance(minutes=1, seconds=1)
    assert operator_attempt(client, "reviewer-a", PASSWORD).status_code == 200
    db.session.expire_all()
    row = db.session.get(Operator, operator.id)
    assert row.failed_logins == 0 and row.locked_until is None
    # An unknown username locks nothing and is not told apart from a wrong password.
    for _ in range(4):
        assert_refused(operator_attempt(client, "nobody-here", "guess"), 401, "operator_login_failed")


def test_a_success_resets_the_count_of_failures(app, client, clock):
    app.config.update(RATELIMIT_OPERATOR_LOGIN="1000/minute", OPERATOR_LOCKOUT_THRESHOLD=3)
    make_operator("auditor-b", "auditor", now=clock.now())
    for _ in range(3):
        assert operator_attempt(client, "auditor-b", "guess").status_code == 401
        assert operator_attempt(client, "auditor-b", "guess").status_code == 401
        assert operator_attempt(client, "auditor-b", PASSWORD).status_code == 200
    assert db.session.execute(sa.select(sa.func.count()).select_from(OperatorAuditEntry)
                              .where(OperatorAuditEntry.action == "operator.locked")).scalar_one() == 0


def test_member_login_is_limited_per_address(app, client, emulator):
    app.config["RATELIMIT_MEMBER_LOGIN"] = "2/minute"
    for n in range(2):
        response = client.post("/api/v1/auth/login", json={"code": mint_code(emulator.url, f"o-rl-{n}")},
                               environ_base={"REMOTE_ADDR": "10.2.0.1"})
        assert response.status_code == 200
    users_before = row_counts()["users"]
    third = client.post("/api/v1/auth/login", json={"code": mint_code(emulator.url, "o-rl-3")},
                        environ_base={"REMOTE_ADDR": "10.2.0.1"})
    assert_rate_limited(third)
    assert row_counts()["users"] == users_before
    elsewhere = client.post("/api/v1/auth/login", json={"code": mint_code(emulator.url, "o-rl-3")},
                            environ_base={"REMOTE_ADDR": "10.2.0.2"})
    assert elsewhere.status_code == 200


def test_topups_are_limited_per_member(app, client, emulator, clock):
    app.config["RATELIMIT_TOPUP"] = "2/minute"
    alice, bob = login(client, emulator.url, "o-rl-alice"), login(client, emulator.url, "o-rl-bob")
    mine, theirs = join(client, alice, clock), join(client, bob, clock, age=41)
    for _ in range(2):
        assert client.post(f"/api/v1/memberships/{mine['id']}/topups", json={"amount_fen": 300},
                           headers=alice).status_code == 201
    orders = row_counts()["orders"]
    assert_rate_limited(client.post(f"/api/v1/memberships/{mine['id']}/topups", json={"amount_fen": 300},
                                    headers=alice))
    assert row_counts()["orders"] == orders
    # Same address, another member: their own allowance.
    assert client.post(f"/api/v1/memberships/{theirs['id']}/topups", json={"amount_fen": 300},
                       headers=bob).status_code == 201


def test_limits_are_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, method in [("/api/v1/auth/login", "post"), ("/api/v1/admin/auth/login", "post"),
                         ("/api/v1/memberships/{membership_id}/topups", "post"),
                         ("/api/v1/announcements/{claim_id}/objections", "post")]:
        assert "429" in spec["paths"][path][method]["responses"], (path, method)


def test_lock_out_clock_is_the_injected_one(app, client, clock):
    """The lock's end is business time (FrozenClock), like every other deadline."""
    app.config.update(RATELIMIT_OPERATOR_LOGIN="1000/minute", OPERATOR_LOCKOUT_THRESHOLD=1)
    make_operator("finance-c", "finance", now=clock.now())
    assert operator_attempt(client, "finance-c", "guess").status_code == 429
    row = db.session.execute(sa.select(Operator).where(Operator.username == "finance-c")).scalar_one()
    assert row.locked_until == clock.now() + dt.timedelta(minutes=app.config["OPERATOR_LOCKOUT_MINUTES"])


def test_limits_are_counted_in_redis_when_configured(sqlite_url, keys_dir, redis_url):
    """Production: every gunicorn worker (here: two apps) counts in the same Redis window."""
    import uuid

    import redis

    from app import create_app
    from tests.support import app_config

    settings = {**app_config(sqlite_url, keys_dir, None), "REDIS_URL": redis_url,
                "RATELIMIT_OPERATOR_LOGIN": BaseConfig.RATELIMIT_OPERATOR_LOGIN}
    worker_a, worker_b = create_app(settings), create_app(settings)
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    attempts = [worker.test_client().post(OPERATOR_LOGIN, json={"username": "nobody", "password": "guess"},
                                          environ_base={"REMOTE_ADDR": address})
                for worker in (worker_a, worker_b, worker_a, worker_b, worker_a, worker_b)]
    assert [a.status_code for a in attempts] == [401] * 5 + [429]
    assert_rate_limited(attempts[-1])
    assert redis.Redis.from_url(redis_url).keys(f"*yiqi:ratelimit*{address}*")


def test_limits_are_checked_by_their_routes_not_by_a_hook_on_every_request(app, client, sqlite_url):
    """Every limit is on a route, checked by Flask-Limiter's route decorator: its per-request hook (default,
    application and blueprint limits) is left out. A default limit configured one day brings it back."""
    from app import create_app
    from app.api.rate_limits import limiter
    from tests.support import app_config

    assert limiter._check_request_limit not in app.before_request_funcs[None]
    assert not limiter.limit_manager._blueprint_limits  # rate_limited is the only way limits are added
    cfg = app_config(sqlite_url)
    cfg["RATELIMIT_DEFAULT"] = "2/minute"
    with_default = create_app(cfg)
    try:
        assert limiter._check_request_limit in with_default.before_request_funcs[None]
        other = with_default.test_client()
        assert [other.get("/healthz").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        limiter.limit_manager.set_default_limits([])  # the module's limiter is shared by the tests' apps
