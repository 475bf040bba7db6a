"""GET /memberships/{id}, the member's page on every visit: one statement (the plan version, immutable,
read once per app), on PostgreSQL without a transaction around it (no BEGIN/ROLLBACK round trips) and
through the function membership_own_view (its plan kept by the server), the same answer as the list's."""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Iterator

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import BalanceReturn
from app.services import memberships
from app.services.unit_of_work import atomic, one_statement_read
from tests.support import join_and_fund


@contextmanager
def _statements(engine) -> Iterator[list[tuple[str, bool | None]]]:
    """Each statement with the driver's autocommit flag while it ran (None: the driver has none)."""
    seen: list[tuple[str, bool | None]] = []

    def record(conn, cursor, statement, *args):
        seen.append((statement, getattr(conn.connection.dbapi_connection, "autocommit", None)))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_the_page_is_one_statement_and_equals_the_list_item(app, client, alice, clock, db_url):
    membership_id, _ = join_and_fund(client, alice, clock, amount_fen=500)
    assert client.get("/api/v1/memberships", headers=alice).status_code == 200  # the user is known from now on
    db.session.remove()  # the tests' app context is the requests' too: end its reads, as a request's end does
    with _statements(db.engine) as first_visit:
        assert client.get(f"/api/v1/memberships/{membership_id}", headers=alice).status_code == 200
    assert len(first_visit) == 2 and "FROM plan_versions" in first_visit[1][0]  # the version, read once
    with _statements(db.engine) as statements:
        one = client.get(f"/api/v1/memberships/{membership_id}", headers=alice)
    assert one.status_code == 200
    expected = "FROM membership_own_view" if db_url.startswith("postgresql") else "FROM memberships"
    assert len(statements) == 1 and expected in statements[0][0]
    if db_url.startswith("postgresql"):
        assert statements[0][1] is True  # no BEGIN before it, no ROLLBACK after it
        with atomic(db.session):  # the pooled connection is back to transactions
            assert db.session.connection().connection.dbapi_connection.autocommit is False
    listed = client.get("/api/v1/memberships", headers=alice).get_json()["items"]
    assert [m for m in listed if m["id"] == membership_id] == [one.get_json()]
    assert one.get_json()["plan_version"] == listed[0]["plan_version"] and one.get_json()["min_prepay_fen"] > 0
    assert one.get_json()["balance_return"] is None and one.get_json()["balance_fen"] == 500


def test_a_balance_return_is_read_when_there_is_one(app, client, alice, clock):
    membership_id, _ = join_and_fund(client, alice, clock, amount_fen=500)
    now = clock.now()
    with atomic(db.session):
        plan_id = db.session.execute(sa.text("SELECT plan_id FROM memberships WHERE id = :m"),
                                     {"m": membership_id}).scalar_one()
        db.session.add(BalanceReturn(membership_id=membership_id, plan_id=plan_id, reason="wind_down",
                                     status="pending", surplus_fen=7, amount_fen=507, by_refund_fen=0,
                                     by_transfer_fen=507, returned_fen=0, created_at=now, updated_at=now))
    one = client.get(f"/api/v1/memberships/{membership_id}", headers=alice).get_json()
    assert one["balance_return"]["amount_fen"] == 507 and one["balance_return"]["status"] == "pending"
    listed = client.get("/api/v1/memberships", headers=alice).get_json()["items"]
    assert [m for m in listed if m["id"] == membership_id] == [one]


def test_another_users_membership_is_still_404(client, alice, bob, clock):
    membership_id, _ = join_and_fund(client, alice, clock)
    response = client.get(f"/api/v1/memberships/{membership_id}", headers=bob)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "membership_not_found"
    missing = client.get(f"/api/v1/memberships/{membership_id + 1000}", headers=alice)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "membership_not_found"


def test_an_open_transaction_is_left_to_its_owner(app):
    session = db.session
    session.execute(sa.text("SELECT 1"))  # an earlier read of the same request began a transaction
    with one_statement_read(session):
        assert session.execute(sa.text("SELECT 2")).scalar_one() == 2
    assert session().in_transaction()
    session.rollback()


@pytest.mark.parametrize("fails", [False, True])
def test_the_connection_goes_back_to_transactions_even_after_an_error(app, db_url, fails):
    session = db.session
    with pytest.raises(sa.exc.DBAPIError) if fails else nullcontext():
        with one_statement_read(session):
            session.execute(sa.text("SELECT * FROM no_such_table" if fails else "SELECT 1"))
    assert not session().in_transaction()
    with atomic(session):
        dbapi = session.connection().connection.dbapi_connection
        if db_url.startswith("postgresql"):
            assert dbapi.autocommit is False


def test_writes_are_refused_in_the_block(app, clock):
    session = db.session
    with pytest.raises(RuntimeError, match="unsaved changes"):
        with one_statement_read(session):
            session.add(BalanceReturn(membership_id=1, plan_id=1, reason="leave", status="pending", surplus_fen=0,
                                      amount_fen=0, by_refund_fen=0, by_transfer_fen=0, returned_fen=0,
                                      created_at=clock.now(), updated_at=clock.now()))
    assert not session.new


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_function_answers_as_the_select_does(app, client, alice, bob, clock):
    """membership_own_view (migration 0024) and the SELECT SQLite runs (memberships._OWN_VIEW): the same
    rows, column for column, for every membership asked by every user (another's: no row from either)."""
    funded, _ = join_and_fund(client, alice, clock, amount_fen=500)
    suspended, _ = join_and_fund(client, alice, clock, amount_fen=300, plan="children", age=5,
                                  relation="child", name="张小丰")
    bobs, _ = join_and_fund(client, bob, clock, amount_fen=1200)
    now = clock.now()
    with atomic(db.session):
        db.session.execute(sa.text("UPDATE memberships SET state = 'suspended', suspended_at = :now, "
                                   "grace_ends_at = :now + interval '30 days' WHERE id = :m"),
                           {"now": now, "m": suspended})
        bobs_plan = db.session.execute(sa.text("SELECT plan_id FROM memberships WHERE id = :m"), {"m": bobs}).scalar_one()
        db.session.add(BalanceReturn(membership_id=bobs, plan_id=bobs_plan, reason="leave", status="pending", surplus_fen=0,
                                     amount_fen=1200, by_refund_fen=1200, by_transfer_fen=0, returned_fen=0,
                                     created_at=now, updated_at=now))
    users = db.session.execute(sa.text("SELECT DISTINCT user_id FROM memberships")).scalars().all()
    compared = 0
    for membership_id in (funded, suspended, bobs, bobs + 1000):
        for user_id in users:
            arguments = {"membership_id": membership_id, "user_id": user_id}
            by_function = db.session.execute(memberships._OWN_VIEW_FUNCTION, arguments).mappings().all()
            by_select = db.session.execute(memberships._OWN_VIEW, arguments).mappings().all()
            assert [dict(r) for r in by_function] == [dict(r) for r in by_select], arguments
            compared += len(by_function)
    db.session.rollback()
    assert compared == 3  # each membership once, by its own user
    rows = {m: db.session.execute(memberships._OWN_VIEW_FUNCTION, {"membership_id": m, "user_id": u}).one()
            for m, u in db.session.execute(sa.text("SELECT id, user_id FROM memberships")).all()}
    db.session.rollback()
    assert rows[bobs].has_balance_return is True and rows[funded].has_balance_return is False
    assert rows[suspended].state == "suspended" and rows[suspended].suspended_at == now
    assert rows[suspended].grace_ends_at.tzinfo is not None and rows[funded].balance_fen == 500
