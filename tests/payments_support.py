"""Helpers for top-up, notification and refund tests: joining, paying through the emulator,
building notifications exactly as WeChat signs and encrypts them, and serving the app on a real port."""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from contextlib import contextmanager

import pytest
import requests
from werkzeug.serving import make_server

from tests.support import JOIN_CONSENT, login, make_id_number, no_answers, years_ago
from wechat.emulator.pay import encrypt_resource, sign_notification

NOTIFY_PATH = "/api/v1/payments/wechat/notify"
REFUND_NOTIFY_PATH = "/api/v1/payments/wechat/refund-notify"
DISCARD_URL = "http://127.0.0.1:9"  # nothing listens: notifications there are lost, as if never sent


@pytest.fixture
def alice(client, emulator):
    return login(client, emulator.url, "o-alice")


@pytest.fixture
def bob(client, emulator):
    return login(client, emulator.url, "o-bob")


def point_notifications_at(app, base_url: str) -> None:
    """Before the container builds its PayClient: where WeChat (the emulator) sends notifications."""
    app.config["WECHAT_PAY_NOTIFY_URL"] = base_url + NOTIFY_PATH
    app.config["WECHAT_PAY_REFUND_NOTIFY_URL"] = base_url + REFUND_NOTIFY_PATH


@contextmanager
def live_server(app):
    """The app on a real port (threaded), so the emulator's notifications arrive over HTTP."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    point_notifications_at(app, base)
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def join_body(clock, plan="adult_789", age=30, relation="self", name="张三", extra_answers=None) -> dict:
    today = (clock.now() + dt.timedelta(hours=8)).date()
    return {"plan_code": plan, "relation": relation, "answers": {**no_answers(), **(extra_answers or {})},
            "consent": JOIN_CONSENT,
            "person": {"name": name, "id_number": make_id_number(years_ago(today, age))}}


def join(client, headers, clock, **options) -> dict:
    response = client.post("/api/v1/memberships", json=join_body(clock, **options), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def order_topup(client, headers, membership_id: int, amount_fen: int) -> dict:
    response = client.post(f"/api/v1/memberships/{membership_id}/topups", json={"amount_fen": amount_fen},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def phone_pays(emulator, payment: dict, *, silent: bool = False, duplicates: int = 0) -> dict:
    """What wx.requestPayment does on the phone (the emulator checks paySign)."""
    path = "_emulator/pay/silent" if silent else "_emulator/pay"
    response = requests.post(emulator.url + path, json={**payment, "duplicates": duplicates}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def notification_body(emulator, resource: dict, event_type="TRANSACTION.SUCCESS", original_type="transaction",
                      apiv3_key: str | None = None) -> dict:
    key = apiv3_key or emulator.state.pay.keys.apiv3_key
    return {"id": str(uuid.uuid4()), "create_time": "2026-03-02T10:00:00+08:00",
            "resource_type": "encrypt-resource", "event_type": event_type, "summary": "支付成功",
            "resource": encrypt_resource(key, resource, original_type)}


def transaction_of(emulator, out_trade_no: str) -> dict:
    """The paid transaction as WeChat describes it in its notification."""
    return emulator.state.pay.orders[out_trade_no].as_transaction()


def signed(emulator, body: dict, timestamp: int | None = None) -> tuple[dict, bytes]:
    return sign_notification(emulator.state, body, timestamp)


def wait_until(predicate, timeout: float = 10.0) -> bool:
    """Waits for asynchronous deliveries (the emulator's threads), not for business time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
