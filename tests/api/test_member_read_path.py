"""GET /memberships/{id}, the member's page on every visit: one statement (the plan version, immutable,
read once per app), on PostgreSQL without a transaction around it (no BEGIN/ROLLBACK round trips), the
same answer as the list's."""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Iterator

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import BalanceReturn
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
    assert len(statements) == 1 and "FROM memberships" in statements[0][0]
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
