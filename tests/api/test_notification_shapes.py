"""Notifications whose signature and encryption are genuine but whose resource has the wrong shape:
400 in the envelope, nothing credited, refunded or paid (both databases)."""
import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.api.test_hostile_input import assert_refused, row_counts
from tests.support import (DISCARD_URL, NOTIFY_PATH, REFUND_NOTIFY_PATH, join, notification_body, order_topup,
                           phone_pays, point_notifications_at, signed, transaction_of, wait_until)


@pytest.fixture(autouse=True)
def lost_notifications(app):
    point_notifications_at(app, DISCARD_URL)


def deliver(client, emulator, resource, event_type="TRANSACTION.SUCCESS", original_type="transaction",
            path=NOTIFY_PATH):
    headers, data = signed(emulator, notification_body(emulator, resource, event_type, original_type))
    return client.post(path, data=data, headers=headers)


@pytest.fixture
def paid_resource(client, alice, clock, emulator):
    membership = join(client, alice, clock)
    topup = order_topup(client, alice, membership["id"], 500)
    phone_pays(emulator, topup["payment"], silent=True)
    return transaction_of(emulator, topup["order"]["out_trade_no"])


def _reshape(resource, change):
    field, value = change
    if "." in field:
        outer, inner = field.split(".")
        return {**resource, outer: {**resource[outer], inner: value}}
    return {**resource, field: value}


@pytest.mark.parametrize("change", [
    ("amount", "500"), ("amount", [500]), ("amount.total", "500"), ("amount.total", 500.0),
    ("amount.total", True), ("payer", "o-somebody"), ("payer.openid", ["o"]), ("out_trade_no", 123),
    ("out_trade_no", ["T1"]), ("transaction_id", "4" * 200), ("transaction_id", None), ("appid", {"a": 1}),
])
def test_malformed_payment_resources(client, emulator, paid_resource, change):
    before = row_counts()
    response = deliver(client, emulator, _reshape(paid_resource, change))
    assert_refused(response, 400, "notification_malformed")
    assert change[0] in response.get_json()["error"]["details"]["fields"]
    assert row_counts() == before
    # The genuine one still credits.
    assert deliver(client, emulator, paid_resource).status_code == 204


def test_a_resource_that_is_not_an_object(client, emulator, paid_resource):
    from wechat.emulator.pay import encrypt_resource

    body = notification_body(emulator, paid_resource)
    body["resource"] = encrypt_resource(emulator.state.pay.keys.apiv3_key, [1, 2], "transaction")
    headers, data = signed(emulator, body)
    before = row_counts()
    assert 400 <= client.post(NOTIFY_PATH, data=data, headers=headers).status_code < 500
    assert row_counts() == before


def test_malformed_refund_resources(client, alice, clock, emulator, paid_resource):
    assert deliver(client, emulator, paid_resource).status_code == 204
    membership_id = db.session.execute(sa.text("SELECT membership_id FROM orders")).scalar_one()
    left = client.post(f"/api/v1/memberships/{membership_id}/leave", headers=alice).get_json()
    number = left["refunds"][0]["out_refund_no"]
    wait_until(lambda: emulator.state.pay.refunds[number].status == "SUCCESS",
               10, "the refund to succeed at the emulator")
    resource = emulator.state.pay.refunds[number].as_notification_resource(emulator.state.pay.keys.mchid)
    before = row_counts()
    for change in [("amount.refund", "500"), ("amount", "500"), ("out_refund_no", 7), ("out_trade_no", ["x"]),
                   ("refund_status", None)]:
        response = deliver(client, emulator, _reshape(resource, change), "REFUND.SUCCESS", "refund",
                           REFUND_NOTIFY_PATH)
        assert_refused(response, 400, "notification_malformed")
    assert row_counts() == before
    assert deliver(client, emulator, resource, "REFUND.SUCCESS", "refund", REFUND_NOTIFY_PATH).status_code == 204


@pytest.mark.parametrize("resource", [
    {"out_bill_no": ["B1"], "state": "SUCCESS"},
    {"out_bill_no": 12345, "state": "SUCCESS"},
    {"out_bill_no": "B1", "state": "SUCCESS", "transfer_amount": "100"},
    {"out_bill_no": "B1", "state": ["SUCCESS"]},
    {"state": "SUCCESS"},
])
def test_malformed_transfer_resources(client, emulator, resource):
    before = row_counts()
    assert_refused(deliver(client, emulator, resource, "MCHTRANSFER.BILL.FINISHED", "mch_payment"),
                   400, "notification_malformed")
    assert row_counts() == before
