"""The WeChat Pay emulator over HTTP: merchant authentication, signed responses, and
notification delivery (retries, duplicates) to a real local receiver."""

import threading
from base64 import b64decode

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response
from wechatpayv3.utils import build_authorization, load_private_key

from tests.support import wait_until
from wechat.emulator.server import EmulatorServer
from wechat.emulator.state import EmulatorConfig
from wechat.keys import generate_dev_keys, load_keys
from wechat.pay import PayClient

OPENID = "o-payer-openid"
TIME_SCALE = 0.001  # WeChat's 15s/15s/30s retry schedule becomes 15ms/15ms/30ms


class NotificationReceiver:
    """The app's notify endpoint stand-in: records requests and answers scripted statuses."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)  # answered in order; 200 once exhausted
        self.received: list[tuple[dict, bytes]] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/pay/notify"

    @Request.application
    def _app(self, request):
        with self._lock:
            self.received.append((dict(request.headers), request.get_data()))
            status = self.statuses.pop(0) if self.statuses else 200
        return Response(status=status)

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def keys(keys_dir):  # keys_dir: tests/conftest.py
    return load_keys(keys_dir)


@pytest.fixture
def emulator(keys_dir):
    with EmulatorServer.from_keys_dir(keys_dir, notify_time_scale=TIME_SCALE) as server:
        yield server


@pytest.fixture
def receiver():
    receiver = NotificationReceiver()
    yield receiver
    receiver.stop()


def make_client(keys, emulator, notify_url) -> PayClient:
    return PayClient(
        mchid=keys.mchid, appid=keys.appid, merchant_private_key_pem=keys.merchant_private_key,
        merchant_serial=keys.merchant_serial, apiv3_key=keys.apiv3_key,
        platform_public_key_pem=keys.platform_public_key, platform_public_key_id=keys.platform_public_key_id,
        notify_url=notify_url, gateway=emulator.url, timeout=2,
    )


@pytest.fixture
def client(keys, emulator, receiver):
    return make_client(keys, emulator, receiver.url)


def phone_pays(emulator, client, out_trade_no="ORDER0001", **extra) -> requests.Response:
    prepay_id = client.create_jsapi_order(out_trade_no, "互助金", 1000, OPENID)
    params = client.request_payment_params(prepay_id)
    return requests.post(emulator.url + "_emulator/pay", json={**params, **extra}, timeout=2)


def deliveries(emulator) -> list[dict]:
    return requests.get(emulator.url + "_emulator/notifications", timeout=2).json()["deliveries"]


# --- merchant authentication and response signatures --------------------------------------------


def signed_request(keys, emulator, method, path, body="", serial=None, private_key=None):
    authorization = build_authorization(
        path, method, keys.mchid, serial or keys.merchant_serial,
        load_private_key(private_key or keys.merchant_private_key), data=body,
    )
    return requests.request(method, emulator.url.rstrip("/") + path, data=body.encode(), timeout=2,
                            headers={"Authorization": authorization, "Content-Type": "application/json"})


ORDER_PATH = "/v3/pay/transactions/out-trade-no/ORDER0001"


def test_unsigned_request_is_401(keys, emulator):
    answer = requests.get(emulator.url.rstrip("/") + ORDER_PATH, params={"mchid": keys.mchid}, timeout=2)
    assert answer.status_code == 401 and answer.json()["code"] == "SIGN_ERROR"


def test_correctly_signed_request_passes_authentication(keys, emulator):
    answer = signed_request(keys, emulator, "GET", f"{ORDER_PATH}?mchid={keys.mchid}")
    assert answer.status_code == 404 and answer.json()["code"] == "ORDER_NOT_EXIST"


def test_signature_over_another_url_is_401(keys, emulator):
    authorization = build_authorization(f"{ORDER_PATH}?mchid=1", "GET", keys.mchid, keys.merchant_serial,
                                        load_private_key(keys.merchant_private_key))
    answer = requests.get(emulator.url.rstrip("/") + f"{ORDER_PATH}?mchid={keys.mchid}",
                          headers={"Authorization": authorization}, timeout=2)
    assert answer.status_code == 401


def test_wrong_serial_or_wrong_key_is_401(keys, emulator, tmp_path):
    path = f"{ORDER_PATH}?mchid={keys.mchid}"
    assert signed_request(keys, emulator, "GET", path, serial="0123ABCD").status_code == 401
    generate_dev_keys(tmp_path)
    stranger = load_keys(tmp_path)
    assert signed_request(keys, emulator, "GET", path, private_key=stranger.merchant_private_key).status_code == 401


def test_tampered_body_is_401(keys, emulator):
    authorization = build_authorization("/v3/pay/transactions/jsapi", "POST", keys.mchid, keys.merchant_serial,
                                        load_private_key(keys.merchant_private_key), data='{"a": 1}')
    answer = requests.post(emulator.url + "v3/pay/transactions/jsapi", data=b'{"a": 2}', timeout=2,
                           headers={"Authorization": authorization, "Content-Type": "application/json"})
    assert answer.status_code == 401 and answer.json()["code"] == "SIGN_ERROR"


def test_responses_are_signed_with_the_platform_key(keys, emulator):
    answer = signed_request(keys, emulator, "GET", f"{ORDER_PATH}?mchid={keys.mchid}")
    headers = answer.headers
    assert headers["Wechatpay-Serial"] == keys.platform_public_key_id
    message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n{answer.text}\n".encode()
    platform_key = load_pem_public_key(keys.platform_public_key.encode())
    platform_key.verify(b64decode(headers["Wechatpay-Signature"]), message, PKCS1v15(), SHA256())


# --- payment notifications -----------------------------------------------------------------------


def test_payment_notification_reaches_the_receiver_and_parses(emulator, client, receiver):
    assert phone_pays(emulator, client).status_code == 200
    wait_until(lambda: len(receiver.received) == 1, 10, "the payment notification")
    headers, body = receiver.received[0]
    notification = client.parse_notification(headers, body)
    assert notification.event_type == "TRANSACTION.SUCCESS"
    assert notification.resource == client.query_order("ORDER0001")
    assert notification.resource["trade_state"] == "SUCCESS"


def test_phone_refuses_a_payment_with_a_bad_pay_sign(emulator, client, receiver):
    answer = phone_pays(emulator, client, paySign="AAAA")
    assert answer.status_code == 400
    assert client.query_order("ORDER0001")["trade_state"] == "NOTPAY"


def test_paying_twice_is_refused(emulator, client):
    prepay_id = client.create_jsapi_order("ORDER0001", "互助金", 1000, OPENID)
    first = requests.post(emulator.url + "_emulator/pay", json={"package": f"prepay_id={prepay_id}"}, timeout=2)
    second = requests.post(emulator.url + "_emulator/pay", json={"package": f"prepay_id={prepay_id}"}, timeout=2)
    assert (first.status_code, second.status_code) == (200, 400)
    assert second.json()["code"] == "ORDER_PAID"


def test_failed_deliveries_are_retried_until_204(emulator, client, receiver):
    receiver.statuses = [500, 500, 204]
    phone_pays(emulator, client)
    wait_until(lambda: len(receiver.received) == 3, 10, "three delivery attempts")
    assert emulator.state.pay.idle(), "the delivery should end at the 204"
    assert len(receiver.received) == 3
    log = deliveries(emulator)
    assert [(entry["attempt"], entry["status"]) for entry in log] == [(1, 500), (2, 500), (3, 204)]
    assert len({entry["id"] for entry in log}) == 1
    # Each attempt is signed afresh and passes verification.
    assert all(client.parse_notification(headers, body).id == log[0]["id"] for headers, body in receiver.received)


def test_unreachable_receiver_is_retried_and_logged(keys, receiver):
    config = EmulatorConfig.from_keys(keys, notify_time_scale=TIME_SCALE, notify_url="http://127.0.0.1:9/gone")
    with EmulatorServer(config) as emulator:
        client = make_client(keys, emulator, receiver.url)
        phone_pays(emulator, client)
        wait_until(lambda: len(deliveries(emulator)) >= 3, 10, "three attempts at the unreachable receiver")
        first = deliveries(emulator)[0]
        assert first["url"] == "http://127.0.0.1:9/gone" and first["status"] is None and first["error"]
    assert receiver.received == []  # config.notify_url overrides the order's notify_url


def test_duplicates_arrive_together_even_after_success(emulator, client, receiver):
    phone_pays(emulator, client, duplicates=2)
    wait_until(lambda: len(receiver.received) == 3, 10, "the notification and its two duplicates")
    ids = {client.parse_notification(headers, body).id for headers, body in receiver.received}
    assert len(ids) == 1
    assert emulator.state.pay.idle(), "the deliveries should end once answered"
    assert len(receiver.received) == 3
    assert sorted(entry["duplicate"] for entry in deliveries(emulator)) == [False, True, True]


def test_silent_payment_sends_no_notification(emulator, client, receiver):
    prepay_id = client.create_jsapi_order("ORDER0001", "互助金", 1000, OPENID)
    answer = requests.post(emulator.url + "_emulator/pay/silent", json={"package": f"prepay_id={prepay_id}"},
                           timeout=2)
    assert answer.status_code == 200
    assert client.query_order("ORDER0001")["transaction_id"] == answer.json()["transaction_id"]
    assert emulator.state.pay.idle(timeout=0), "a silent payment starts no delivery"
    assert receiver.received == [] and deliveries(emulator) == []


def test_unknown_prepay_id_cannot_be_paid(emulator):
    answer = requests.post(emulator.url + "_emulator/pay", json={"package": "prepay_id=wxnothing"}, timeout=2)
    assert answer.status_code == 404


# --- refund and transfer notifications ------------------------------------------------------------


def test_refund_success_is_notified(emulator, client, receiver):
    phone_pays(emulator, client)
    wait_until(lambda: len(receiver.received) == 1, 10, "the payment notification")
    refund = client.refund("REFUND1", out_trade_no="ORDER0001", refund_fen=300, total_fen=1000)
    wait_until(lambda: len(receiver.received) == 2, 10, "the refund notification")
    notification = client.parse_notification(*receiver.received[1])
    assert notification.event_type == "REFUND.SUCCESS"
    assert notification.resource["refund_id"] == refund["refund_id"]
    assert notification.resource["refund_status"] == "SUCCESS"
    assert notification.resource["amount"]["refund"] == 300


def test_confirmed_transfer_is_notified(emulator, client, receiver):
    created = client.transfer("CLAIM0001", OPENID, 5000, "互助理赔")
    answer = requests.post(emulator.url + "_emulator/transfer/confirm",
                           json={"package_info": created["package_info"]}, timeout=2)
    assert answer.status_code == 200 and answer.json()["state"] == "SUCCESS"
    wait_until(lambda: len(receiver.received) == 1, 10, "the transfer notification")
    notification = client.parse_notification(*receiver.received[0])
    assert notification.event_type == "MCHTRANSFER.BILL.FINISHED"
    assert notification.resource["out_bill_no"] == "CLAIM0001"
    assert notification.resource["state"] == "SUCCESS"
