"""PayClient (wechat/pay.py) over real HTTP against the WeChat Pay emulator."""

import json
import time
from base64 import b64encode

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.support import wait_until
from wechat.emulator.pay import ApiError, encrypt_resource, sign_notification, signed_headers
from wechat.emulator.server import EmulatorServer
from wechat.emulator.state import EmulatorConfig
from wechat.keys import generate_dev_keys, load_keys
from app.services.ports import InvalidNotification, PayOutcomeUnknown, PayRejected
from wechat.pay import PayClient, verify_payment_sign

OPENID = "o-payer-openid"


@pytest.fixture(scope="module")
def keys(keys_dir):  # keys_dir: tests/conftest.py
    return load_keys(keys_dir)


@pytest.fixture
def emulator(keys_dir):
    with EmulatorServer.from_keys_dir(keys_dir, notify_time_scale=0.001) as server:
        yield server


def make_client(keys, gateway, **overrides) -> PayClient:
    settings = dict(
        mchid=keys.mchid, appid=keys.appid, merchant_private_key_pem=keys.merchant_private_key,
        merchant_serial=keys.merchant_serial, apiv3_key=keys.apiv3_key,
        platform_public_key_pem=keys.platform_public_key, platform_public_key_id=keys.platform_public_key_id,
        notify_url="http://127.0.0.1:9/pay/notify", gateway=gateway, timeout=2,
    )
    return PayClient(**{**settings, **overrides})


@pytest.fixture
def client(keys, emulator):
    return make_client(keys, emulator.url)


def paid_order(client, emulator, out_trade_no="ORDER0001", amount_fen=1000) -> dict:
    prepay_id = client.create_jsapi_order(out_trade_no, "互助金", amount_fen, OPENID)
    emulator.state.pay.pay(f"prepay_id={prepay_id}", notify=False)
    return client.query_order(out_trade_no)


# --- orders ------------------------------------------------------------------------------------


def test_same_order_twice_gives_same_prepay_id_and_changed_content_is_refused(client):
    prepay_id = client.create_jsapi_order("ORDER0001", "互助金", 1000, OPENID)
    assert prepay_id.startswith("wx")
    assert client.create_jsapi_order("ORDER0001", "互助金", 1000, OPENID) == prepay_id
    with pytest.raises(PayRejected) as error:
        client.create_jsapi_order("ORDER0001", "互助金", 2000, OPENID)
    assert (error.value.status, error.value.code) == (400, "INVALID_REQUEST")


def test_malformed_out_trade_no_is_a_param_error(client):
    with pytest.raises(PayRejected) as error:
        client.create_jsapi_order("bad no!", "互助金", 1000, OPENID)
    assert (error.value.status, error.value.code) == (400, "PARAM_ERROR")


def test_payment_params_verify_with_the_merchant_public_key(client, keys):
    params = client.request_payment_params("wx2024prepay")
    assert params["package"] == "prepay_id=wx2024prepay" and params["signType"] == "RSA"
    assert verify_payment_sign(params, keys.merchant_public_key, keys.appid)
    assert not verify_payment_sign({**params, "package": "prepay_id=other"}, keys.merchant_public_key, keys.appid)
    assert not verify_payment_sign(params, keys.merchant_public_key, "wx-another-app")


def test_query_shows_the_order_before_and_after_payment(client, emulator):
    prepay_id = client.create_jsapi_order("ORDER0001", "互助金", 1000, OPENID)
    unpaid = client.query_order("ORDER0001")
    assert unpaid["trade_state"] == "NOTPAY" and "transaction_id" not in unpaid

    emulator.state.pay.pay(f"prepay_id={prepay_id}", notify=False)
    paid = client.query_order("ORDER0001")
    assert paid["trade_state"] == "SUCCESS"
    assert len(paid["transaction_id"]) == 28
    assert paid["amount"]["payer_total"] == 1000 and paid["payer"]["openid"] == OPENID
    assert paid["success_time"].endswith("+08:00")


def test_query_of_unknown_order_is_404(client):
    with pytest.raises(PayRejected) as error:
        client.query_order("NOSUCHORDER")
    assert (error.value.status, error.value.code) == (404, "ORDER_NOT_EXIST")


def test_close_unpaid_order_then_it_cannot_be_paid(client, emulator):
    prepay_id = client.create_jsapi_order("ORDER0001", "互助金", 1000, OPENID)
    client.close_order("ORDER0001")
    client.close_order("ORDER0001")  # closing again is harmless
    assert client.query_order("ORDER0001")["trade_state"] == "CLOSED"
    with pytest.raises(ApiError) as error:
        emulator.state.pay.pay(f"prepay_id={prepay_id}")
    assert error.value.code == "ORDER_CLOSED"


def test_close_paid_order_is_refused(client, emulator):
    paid_order(client, emulator)
    with pytest.raises(PayRejected) as error:
        client.close_order("ORDER0001")
    assert (error.value.status, error.value.code) == (400, "ORDER_PAID")


# --- refunds -----------------------------------------------------------------------------------


def test_same_out_refund_no_refunds_once(client, emulator):
    paid_order(client, emulator, amount_fen=1000)
    first = client.refund("REFUND1", out_trade_no="ORDER0001", refund_fen=600, total_fen=1000, reason="退出互助")
    assert first["status"] == "PROCESSING"
    again = client.refund("REFUND1", out_trade_no="ORDER0001", refund_fen=600, total_fen=1000, reason="退出互助")
    assert again["refund_id"] == first["refund_id"]
    # Only 600 of 1000 is gone: a second, different refund of 400 fits, 401 would not.
    with pytest.raises(PayRejected) as error:
        client.refund("REFUND2", out_trade_no="ORDER0001", refund_fen=401, total_fen=1000)
    assert (error.value.status, error.value.code) == (400, "NOT_ENOUGH")
    client.refund("REFUND2", out_trade_no="ORDER0001", refund_fen=400, total_fen=1000)
    assert client.query_order("ORDER0001")["trade_state"] == "REFUND"


def test_refund_replay_with_other_amount_is_refused(client, emulator):
    paid_order(client, emulator)
    client.refund("REFUND1", out_trade_no="ORDER0001", refund_fen=100, total_fen=1000)
    with pytest.raises(PayRejected) as error:
        client.refund("REFUND1", out_trade_no="ORDER0001", refund_fen=200, total_fen=1000)
    assert error.value.code == "INVALID_REQUEST"


def test_refund_by_transaction_id_settles_to_success(client, emulator):
    order = paid_order(client, emulator)
    client.refund("REFUND1", transaction_id=order["transaction_id"], refund_fen=1000, total_fen=1000)
    wait_until(lambda: client.query_refund("REFUND1")["status"] == "SUCCESS", 10, "the refund to settle")
    refund = client.query_refund("REFUND1")
    assert refund["out_trade_no"] == "ORDER0001" and refund["amount"]["refund"] == 1000


def test_refund_of_unpaid_order_is_refused(client):
    client.create_jsapi_order("ORDER0001", "互助金", 1000, OPENID)
    with pytest.raises(PayRejected) as error:
        client.refund("REFUND1", out_trade_no="ORDER0001", refund_fen=100, total_fen=1000)
    assert error.value.status == 400


def test_refund_more_than_a_year_after_payment_is_refused(client, emulator):
    paid_order(client, emulator)
    emulator.state.advance_clock(366 * 24 * 3600)
    with pytest.raises(PayRejected) as error:
        client.refund("REFUND1", out_trade_no="ORDER0001", refund_fen=100, total_fen=1000)
    assert (error.value.status, error.value.code) == (400, "INVALID_REQUEST")


def test_query_of_unknown_refund_is_404(client):
    with pytest.raises(PayRejected) as error:
        client.query_refund("NOSUCHREFUND")
    assert error.value.status == 404


# --- merchant transfers ------------------------------------------------------------------------


def test_transfer_is_idempotent_by_out_bill_no(client):
    first = client.transfer("CLAIM0001", OPENID, 5000, "互助理赔")
    assert first["state"] == "WAIT_USER_CONFIRM" and first["package_info"]
    again = client.transfer("CLAIM0001", OPENID, 5000, "互助理赔")
    assert again["transfer_bill_no"] == first["transfer_bill_no"]
    bill = client.query_transfer("CLAIM0001")
    assert (bill["transfer_amount"], bill["openid"], bill["state"]) == (5000, OPENID, "WAIT_USER_CONFIRM")
    with pytest.raises(PayRejected) as error:
        client.transfer("CLAIM0001", OPENID, 6000, "互助理赔")
    assert error.value.code == "INVALID_REQUEST"


def test_transfer_confirmed_by_the_user_succeeds(client, emulator):
    created = client.transfer("CLAIM0001", OPENID, 5000, "互助理赔")
    emulator.state.pay.confirm_transfer(created["package_info"])
    assert client.query_transfer("CLAIM0001")["state"] == "SUCCESS"


def test_injected_transfer_errors_fail_the_next_calls_only(client, emulator):
    emulator.state.pay.fail_next_transfers(times=2, status=500)
    for _ in range(2):
        with pytest.raises(PayRejected) as error:
            client.transfer("CLAIM0001", OPENID, 5000, "互助理赔")
        assert error.value.status == 500
    assert client.transfer("CLAIM0001", OPENID, 5000, "互助理赔")["state"] == "WAIT_USER_CONFIRM"


def test_transfer_timeout_is_reported_and_a_retry_finds_the_same_bill(keys, emulator):
    impatient = make_client(keys, emulator.url, timeout=0.2)
    emulator.state.pay.fail_next_transfers(times=1, status=None, delay_seconds=0.5)
    with pytest.raises(PayOutcomeUnknown):
        impatient.transfer("CLAIM0001", OPENID, 5000, "互助理赔")
    wait_until(lambda: "CLAIM0001" in emulator.state.pay.transfers, 10, "the transfer to be recorded")
    created = emulator.state.pay.transfers["CLAIM0001"]
    assert impatient.transfer("CLAIM0001", OPENID, 5000, "互助理赔")["transfer_bill_no"] == created.transfer_bill_no
    assert len(emulator.state.pay.transfers) == 1


def test_query_of_unknown_transfer_is_404(client):
    with pytest.raises(PayRejected) as error:
        client.query_transfer("NOSUCHBILL")
    assert error.value.status == 404


# --- transport ---------------------------------------------------------------------------------


def test_response_signed_by_another_platform_key_is_not_trusted(keys, emulator, tmp_path):
    generate_dev_keys(tmp_path)
    other = load_keys(tmp_path)
    client = make_client(keys, emulator.url, platform_public_key_pem=other.platform_public_key)
    with pytest.raises(PayRejected) as error:
        client.create_jsapi_order("ORDER0001", "互助金", 1000, OPENID)
    assert error.value.code == "SDK_ERROR"


def test_unreachable_gateway_is_a_timeout(keys):
    client = make_client(keys, "http://127.0.0.1:9")
    with pytest.raises(PayOutcomeUnknown):
        client.query_order("ORDER0001")


# --- notifications -----------------------------------------------------------------------------


def notification_body(emulator, resource=None) -> dict:
    resource = resource or {"out_trade_no": "ORDER0001", "trade_state": "SUCCESS"}
    return {
        "id": "EV-1", "create_time": "2024-01-01T00:00:00+08:00", "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": encrypt_resource(emulator.config.keys.apiv3_key, resource, "transaction"),
    }


def test_signed_notification_is_accepted(client, emulator):
    headers, body = sign_notification(emulator.state, notification_body(emulator))
    notification = client.parse_notification(headers, body)
    assert notification.event_type == "TRANSACTION.SUCCESS" and notification.id == "EV-1"
    assert notification.resource == {"out_trade_no": "ORDER0001", "trade_state": "SUCCESS"}


def test_header_names_are_case_insensitive(client, emulator):
    headers, body = sign_notification(emulator.state, notification_body(emulator))
    assert client.parse_notification({k.lower(): v for k, v in headers.items()}, body).id == "EV-1"


def rejection_reason(client, headers, body, **kwargs) -> str:
    with pytest.raises(InvalidNotification) as error:
        client.parse_notification(headers, body, **kwargs)
    return error.value.reason


def test_forged_signature_is_rejected(client, emulator):
    headers, body = sign_notification(emulator.state, notification_body(emulator))
    forged_body = body.replace(b"EV-1", b"EV-2")
    assert rejection_reason(client, headers, forged_body) == "bad signature"
    assert rejection_reason(client, {**headers, "Wechatpay-Signature": "AAAA"}, body) == "bad signature"
    assert rejection_reason(client, {**headers, "Wechatpay-Signature": "not base64!"}, body) == "bad signature"


def test_signature_by_another_key_is_rejected(client, emulator, tmp_path):
    generate_dev_keys(tmp_path)
    with EmulatorServer(EmulatorConfig.from_keys(load_keys(tmp_path))) as impostor:
        headers, body = sign_notification(impostor.state, notification_body(emulator))
    headers["Wechatpay-Serial"] = emulator.config.keys.platform_public_key_id
    assert rejection_reason(client, headers, body) == "bad signature"


def test_unknown_serial_is_rejected_without_fetching_certificates(client, emulator):
    headers, body = sign_notification(emulator.state, notification_body(emulator))
    assert rejection_reason(client, {**headers, "Wechatpay-Serial": "5157F09EFDC096DE15EBE81A47057A72"}, body) \
        == "unknown platform key serial"


def test_stale_and_future_timestamps_are_rejected(client, emulator):
    now = int(time.time())
    client.wall_clock = lambda: now  # checked against this instant, however slow the run
    for timestamp in (now - 301, now + 301):
        headers, body = sign_notification(emulator.state, notification_body(emulator), timestamp=timestamp)
        assert rejection_reason(client, headers, body) == "timestamp too far from now"
    for timestamp in (now - 300, now + 300):  # the edges are still accepted
        headers, body = sign_notification(emulator.state, notification_body(emulator), timestamp=timestamp)
        assert client.parse_notification(headers, body).id == "EV-1"


def test_now_can_be_injected(client, emulator):
    headers, body = sign_notification(emulator.state, notification_body(emulator), timestamp=1_000_000)
    assert client.parse_notification(headers, body, now=1_000_100).id == "EV-1"
    assert rejection_reason(client, headers, body, now=1_000_100, max_skew_seconds=60) == "timestamp too far from now"


def test_missing_headers_are_rejected(client, emulator):
    headers, body = sign_notification(emulator.state, notification_body(emulator))
    del headers["Wechatpay-Nonce"]
    assert rejection_reason(client, headers, body).startswith("missing headers")


def test_tampered_ciphertext_is_rejected(client, emulator):
    envelope = notification_body(emulator)
    ciphertext = bytearray(envelope["resource"]["ciphertext"].encode())
    ciphertext[5] = ord("A") if ciphertext[5] != ord("A") else ord("B")
    envelope["resource"]["ciphertext"] = ciphertext.decode()
    headers, body = sign_notification(emulator.state, envelope)  # validly signed, but not decryptable
    assert rejection_reason(client, headers, body) == "bad ciphertext"


def test_wrong_associated_data_or_garbled_base64_is_rejected(client, emulator):
    for change in ({"associated_data": "refund"}, {"ciphertext": "%%%"}, {"nonce": ""}):
        envelope = notification_body(emulator)
        envelope["resource"].update(change)
        headers, body = sign_notification(emulator.state, envelope)
        assert rejection_reason(client, headers, body) in ("bad ciphertext", "malformed notification body")


def test_malformed_bodies_are_rejected_as_invalid_notifications(client, emulator):
    pay = emulator.state.pay
    for body in (b"not json", b"[]", b'{"resource": "x"}', json.dumps({"resource": {"algorithm": "RSA"}}).encode()):
        assert rejection_reason(client, signed_headers(pay, body), body)  # validly signed, still refused
    not_utf8 = "互助".encode("utf-16")
    assert rejection_reason(client, signed_headers(pay, b""), not_utf8)


def test_resource_that_is_not_json_is_rejected(client, emulator):
    envelope = notification_body(emulator)
    nonce = envelope["resource"]["nonce"]
    ciphertext = AESGCM(emulator.config.keys.apiv3_key.encode()).encrypt(nonce.encode(), b"not json", b"transaction")
    envelope["resource"]["ciphertext"] = b64encode(ciphertext).decode()
    headers, body = sign_notification(emulator.state, envelope)
    assert rejection_reason(client, headers, body) == "malformed resource"
