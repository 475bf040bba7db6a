"""The WeChat emulator from the test's side: the phone paying, notifications exactly as WeChat signs
and encrypts them, the app on a real port for the emulator to call back, subscription consent on
both sides, messages delivered, QR codes read back."""
from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager

import requests
from werkzeug.serving import make_server

from app.services import subscriptions
from wechat.emulator.pay import encrypt_resource, sign_notification

NOTIFY_PATH = "/api/v1/payments/wechat/notify"
REFUND_NOTIFY_PATH = "/api/v1/payments/wechat/refund-notify"
DISCARD_URL = "http://127.0.0.1:9"  # nothing listens: notifications there are lost, as if never sent


# --- payments ----------------------------------------------------------------------------------
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


# --- mini-program --------------------------------------------------------------------------------
def consent(session, services, emulator, user, key: str, count: int = 1) -> None:
    """The user taps "allow" (WeChat's count) and the mini-program tells us (our count)."""
    from wechat.emulator.state import MiniProgramUser

    template = services.subscribe_templates[key]
    with emulator.state.lock:
        emulator.state.users.setdefault(user.openid, MiniProgramUser(user.openid, "a2V5a2V5a2V5a2V5a2V5aw=="))
        emulator.state.subscribe_quota[(user.openid, template.id)] += count
    for _ in range(count):
        subscriptions.consent(session, services.subscribe_templates, user_id=user.id, accepted=[key],
                              now=services.clock.now())


def delivered(emulator, openid: str, key_template_id: str | None = None) -> list:
    with emulator.state.lock:
        return [m for m in emulator.state.sent_messages
                if m.touser == openid and key_template_id in (None, m.template_id)]


def decode_qr(png: bytes) -> list[str]:
    """The texts of the QR codes in a PNG, read by zbar (libzbar0, installed by scripts/system_packages.sh)."""
    import io

    from PIL import Image

    try:
        from pyzbar.pyzbar import decode
    except ImportError as exc:  # the Python package is there; the shared library is missing
        from tests.support.environment import unreachable

        unreachable("zbar (libzbar0)", exc)
    image = Image.open(io.BytesIO(png)).convert("L")
    return [symbol.data.decode() for symbol in decode(image)]


class RecordingPay:
    """The refund side of the pay gateway, in memory: accepts every refund and remembers it."""
    mchid = "1900000109"

    def __init__(self):
        self.refunds: list[tuple[str, int]] = []

    def refund(self, out_refund_no, *, out_trade_no, refund_fen, total_fen, reason):
        self.refunds.append((out_trade_no, refund_fen))
        return {"refund_id": f"WX{out_refund_no}", "status": "PROCESSING"}
