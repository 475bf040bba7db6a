"""Top-ups, sponsors and the notify endpoint through the Flask test client (both databases).
Notifications are built exactly as WeChat (the emulator) signs and encrypts them."""
import time

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from app.extensions import db
from app.services.audit import audit_ledger
from tests.support import (DISCARD_URL, NOTIFY_PATH, join, notification_body, order_topup, phone_pays,
                           point_notifications_at, signed, transaction_of)
from wechat.emulator.pay import sign_message
from wechat.keys import load_keys
from wechat.pay import verify_payment_sign


@pytest.fixture(autouse=True)
def lost_notifications(app):
    point_notifications_at(app, DISCARD_URL)  # these tests deliver notifications themselves


def balance(client, headers, membership_id):
    return client.get(f"/api/v1/memberships/{membership_id}", headers=headers).get_json()["balance_fen"]


def ledger_rows(reason="topup"):
    return db.session.execute(sa.text("SELECT COUNT(*) FROM ledger_transactions WHERE reason = :r"),
                              {"r": reason}).scalar_one()


def paid_silently(client, emulator, headers, membership_id, amount_fen=500) -> dict:
    topup = order_topup(client, headers, membership_id, amount_fen)
    phone_pays(emulator, topup["payment"], silent=True)
    return topup


def test_topup_returns_payment_params_that_verify(client, alice, clock, keys_dir):
    m = join(client, alice, clock)
    topup = order_topup(client, alice, m["id"], 300)
    keys = load_keys(keys_dir)
    assert topup["payment"]["signType"] == "RSA" and topup["payment"]["package"].startswith("prepay_id=wx")
    assert verify_payment_sign(topup["payment"], keys.merchant_public_key, keys.appid)
    assert topup["order"]["status"] == "paying" and topup["order"]["amount_fen"] == 300
    assert not topup["order"]["sponsored"]
    polled = client.get(f"/api/v1/topups/{topup['order']['id']}", headers=alice).get_json()
    assert polled["status"] == "paying"


def test_amount_rules(client, alice, bob, clock, app):
    m = join(client, alice, clock)
    url = f"/api/v1/memberships/{m['id']}/topups"
    below = client.post(url, json={"amount_fen": 299}, headers=alice)
    assert below.status_code == 400 and below.get_json()["error"]["code"] == "amount_below_minimum"
    above = client.post(url, json={"amount_fen": app.config["TOPUP_MAX_FEN"] + 1}, headers=alice)
    assert above.status_code == 400 and above.get_json()["error"]["code"] == "amount_above_ceiling"
    for bad in ("300", 3.5, 0, -300, True):
        assert client.post(url, json={"amount_fen": bad}, headers=alice).status_code == 422, bad
    theirs = client.post(url, json={"amount_fen": 300}, headers=bob)
    assert theirs.status_code == 404 and theirs.get_json()["error"]["code"] == "membership_not_found"
    assert client.post(url, json={"amount_fen": 300}).status_code == 401
    assert db.session.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == 0


def test_genuine_notification_credits_once_and_starts_observation(client, alice, clock, emulator, services):
    m = join(client, alice, clock)
    topup = paid_silently(client, emulator, alice, m["id"], 500)
    headers, data = signed(emulator, notification_body(emulator, transaction_of(emulator, topup["order"]["out_trade_no"])))
    for _ in range(3):
        response = client.post(NOTIFY_PATH, data=data, headers=headers)
        assert response.status_code == 204, response.get_json()
    assert balance(client, alice, m["id"]) == 500 and ledger_rows() == 1
    assert client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()["state"] == "observing"
    assert client.get(f"/api/v1/topups/{topup['order']['id']}", headers=alice).get_json()["status"] == "paid"
    event = db.session.execute(sa.text("SELECT user_id, membership_id, payload FROM domain_events "
                                       "WHERE kind = 'topup.credited'")).one()
    assert event.membership_id == m["id"]
    payload = event.payload if isinstance(event.payload, dict) else __import__("json").loads(event.payload)
    assert payload == {"amount_fen": 500, "order_id": topup["order"]["id"], "sponsor_user_id": None}
    assert audit_ledger(db.session).ok


def _other_private_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key


@pytest.mark.parametrize("forgery", [
    "forged_signature", "wrong_serial", "stale_timestamp", "future_timestamp", "wrong_amount", "unknown_order",
    "tampered_ciphertext", "wrong_apiv3_key", "wrong_mchid", "wrong_appid", "other_payer", "not_success",
    "missing_headers", "not_json",
])
def test_doubtful_notifications_are_refused_and_change_nothing(client, alice, clock, emulator, services, monkeypatch,
                                                               forgery):
    signed_at = int(time.time())  # the app checks timestamps against this instant, however slow the run
    monkeypatch.setattr(services.pay, "wall_clock", lambda: signed_at)
    m = join(client, alice, clock)
    topup = paid_silently(client, emulator, alice, m["id"], 500)
    resource = transaction_of(emulator, topup["order"]["out_trade_no"])
    timestamp = signed_at
    apiv3_key = None
    if forgery == "wrong_amount":
        resource["amount"] = {**resource["amount"], "total": 50000, "payer_total": 50000}
    elif forgery == "unknown_order":
        resource["out_trade_no"] = "T20260302FFFFFFFFFFFFFFFF"
    elif forgery == "wrong_mchid":
        resource["mchid"] = "1900000000"
    elif forgery == "wrong_appid":
        resource["appid"] = "wx0000000000000000"
    elif forgery == "other_payer":
        resource["payer"] = {"openid": "o-mallory"}
    elif forgery == "not_success":
        resource["trade_state"] = "NOTPAY"
    elif forgery == "stale_timestamp":
        timestamp = signed_at - 301
    elif forgery == "future_timestamp":
        timestamp = signed_at + 301
    elif forgery == "wrong_apiv3_key":
        apiv3_key = "x" * 32
    body = notification_body(emulator, resource, apiv3_key=apiv3_key)
    if forgery == "tampered_ciphertext":
        cipher = body["resource"]["ciphertext"]
        body["resource"]["ciphertext"] = cipher[:10] + ("A" if cipher[10] != "A" else "B") + cipher[11:]
    headers, data = signed(emulator, body, timestamp)
    if forgery == "forged_signature":
        mallory = _other_private_key()
        message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n{data.decode()}\n"
        headers["Wechatpay-Signature"] = sign_message(mallory, message)
    elif forgery == "wrong_serial":
        headers["Wechatpay-Serial"] = "PUB_KEY_ID_0000000000000000000000000000"
    elif forgery == "missing_headers":
        headers = {"Content-Type": "application/json"}
    elif forgery == "not_json":
        headers, data = signed(emulator, {"id": "x"})
        data = b"not json"  # the signature no longer matches either
    response = client.post(NOTIFY_PATH, data=data, headers=headers)
    assert 400 <= response.status_code < 500, (forgery, response.status_code, response.get_json())
    assert balance(client, alice, m["id"]) == 0 and ledger_rows() == 0
    order = client.get(f"/api/v1/topups/{topup['order']['id']}", headers=alice).get_json()
    assert order["status"] == "paying"
    assert db.session.execute(sa.text("SELECT COUNT(*) FROM domain_events WHERE kind = 'topup.credited'")).scalar_one() == 0


def test_sponsor_link_view_and_sponsored_topup(client, alice, bob, clock, emulator):
    m = join(client, alice, clock, plan="left_behind_children", age=8, relation="child", name="李小花",
             extra_answers={"is_left_behind": True})
    bad = client.post("/api/v1/sponsor/lookup", json={"token": "no-such-token"}, headers=bob)
    assert bad.status_code == 404 and bad.get_json()["error"]["code"] == "sponsor_link_invalid"
    link = {"token": m["sponsor_token"]}
    assert client.post("/api/v1/sponsor/lookup", json=link).status_code == 401
    for malformed in ("", "a/b", "x" * 65, "a\u00e9"):
        assert client.post("/api/v1/sponsor/lookup", json={"token": malformed}, headers=bob).status_code == 422
    view = client.post("/api/v1/sponsor/lookup", json=link, headers=bob).get_json()
    assert view == {"person_name": "李*", "plan_code": "left_behind_children", "plan_name": m["plan_name"],
                    "state": "pending", "balance_fen": 0, "min_prepay_fen": m["min_prepay_fen"], "is_own": False}
    assert "sponsor_token" not in view and "id_number" not in view
    response = client.post("/api/v1/sponsor/topups", json={**link, "amount_fen": 1000}, headers=bob)
    assert response.status_code == 201, response.get_json()
    topup = response.get_json()
    assert topup["order"]["sponsored"] is True
    # Alice cannot see Bob's order; Bob can.
    assert client.get(f"/api/v1/topups/{topup['order']['id']}", headers=alice).status_code == 404
    phone_pays(emulator, topup["payment"], silent=True)
    headers, data = signed(emulator, notification_body(emulator, transaction_of(emulator, topup["order"]["out_trade_no"])))
    assert client.post(NOTIFY_PATH, data=data, headers=headers).status_code == 204
    assert client.post("/api/v1/sponsor/lookup", json=link, headers=bob).get_json()["balance_fen"] == 1000
    row = db.session.execute(sa.text(
        "SELECT t.initiated_by_user_id, o.payer_user_id FROM ledger_transactions t "
        "JOIN orders o ON CAST(o.id AS TEXT) = t.reference_id WHERE t.reason = 'topup'")).one()
    bob_id = db.session.execute(sa.text("SELECT id FROM users WHERE openid = 'o-bob'")).scalar_one()
    assert row.initiated_by_user_id == bob_id and row.payer_user_id == bob_id
    statement = client.get(f"/api/v1/memberships/{m['id']}/ledger", headers=alice).get_json()
    assert statement["items"][0]["sponsored"] is True and statement["items"][0]["amount_fen"] == 1000
    assert client.get(f"/api/v1/memberships/{m['id']}/ledger", headers=bob).status_code == 404


def test_ledger_is_newest_first_and_paginated(client, alice, clock, emulator):
    m = join(client, alice, clock)
    amounts = [300, 400, 500]
    for amount in amounts:
        topup = paid_silently(client, emulator, alice, m["id"], amount)
        headers, data = signed(emulator, notification_body(emulator, transaction_of(emulator, topup["order"]["out_trade_no"])))
        assert client.post(NOTIFY_PATH, data=data, headers=headers).status_code == 204
        clock.advance(minutes=1)
    first = client.get(f"/api/v1/memberships/{m['id']}/ledger?per_page=2", headers=alice).get_json()
    second = client.get(f"/api/v1/memberships/{m['id']}/ledger?per_page=2&page=2", headers=alice).get_json()
    assert first["total"] == 3 and [i["amount_fen"] for i in first["items"]] == [500, 400]
    assert [i["amount_fen"] for i in second["items"]] == [300]
    assert {i["reason"] for i in first["items"]} == {"topup"} and first["items"][0]["reference_type"] == "order"
    assert client.get(f"/api/v1/memberships/{m['id']}/ledger?per_page=1000", headers=alice).status_code == 422


def test_wechat_refusing_the_order_is_503_and_reconcile_closes_it(client, alice, clock, emulator, services):
    m = join(client, alice, clock)
    emulator.state.add_fault(__import__("wechat.emulator.state", fromlist=["Fault"]).Fault(
        path="v3/pay/transactions/jsapi", times=1, status=500))
    response = client.post(f"/api/v1/memberships/{m['id']}/topups", json={"amount_fen": 300}, headers=alice)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "wechat_pay_order_failed"
    from app.services.payments import reconcile

    clock.advance(hours=3)
    report = reconcile(db.session, services.pay, clock.now())
    assert report.orders_checked == 1 and report.orders_closed == 1
    assert db.session.execute(sa.text("SELECT status FROM orders")).scalar_one() == "closed"
