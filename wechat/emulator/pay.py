"""WeChat Pay API v3 gateway emulator (api.mch.weixin.qq.com) for JSAPI payments, refunds and
merchant transfers, plus the phone-side helpers tests use to "pay" or "confirm receipt".

Behaviour follows the real gateway where the app can observe it:
- every /v3 request must carry a valid merchant signature (else 401 SIGN_ERROR) and every
  response is signed with the platform key (public-key mode, Wechatpay-Serial = key id);
- notifications are signed, AES-256-GCM encrypted and retried on WeChat's schedule
  (scaled by config.notify_time_scale) until the receiver answers 200/204;
- out_trade_no / out_refund_no / out_bill_no make their calls idempotent.

Business times (create_time, success_time, refund deadline) follow the emulator clock
(state.now(), movable by tests); signature timestamps follow the wall clock, as both real
parties' clocks do.

State is reached through wechat.emulator.state.current_state().pay (server.py creates it and
calls PayState.close() on shutdown, which ends retry threads). Faults go through the server's
generic mechanism (state.add_fault, applied before any blueprint runs); fail_next_transfers()
and refuse_next_refunds() are the shortcuts for payout and refund tests, set_merchant_balance()
makes refunds lack funds (NOT_ENOUGH), and idle() tells when no background delivery is pending.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import threading
import time
import uuid
from base64 import b64decode, b64encode
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from flask import Blueprint, Response, g, request

from wechat.emulator.state import Fault, current_state

bp = Blueprint("wechat_pay", __name__)

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
REQUEST_MAX_SKEW_SECONDS = 300
# Seconds between notification attempts after the first (WeChat Pay v3 documentation).
NOTIFY_RETRY_SCHEDULE = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)
NOTIFY_HTTP_TIMEOUT_SECONDS = 5
REFUND_SETTLE_SECONDS = 5  # scaled by notify_time_scale, like the notification schedule
REFUND_WINDOW = timedelta(days=365)
CHINA_TZ = timezone(timedelta(hours=8))
TRANSFER_BILLS_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
REFUNDS_PATH = "/v3/refund/domestic/refunds"
# HTTP status of the refund API's error codes (WeChat Pay v3 refund documentation).
REFUND_ERROR_STATUS = {"SYSTEM_ERROR": 500, "FREQUENCY_LIMITED": 429, "NOT_ENOUGH": 403, "USER_ACCOUNT_ABNORMAL": 403,
                       "NO_AUTH": 403, "INVALID_REQUEST": 400, "PARAM_ERROR": 400, "MCH_NOT_EXISTS": 400,
                       "RESOURCE_NOT_EXISTS": 404, "SIGN_ERROR": 401}

OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-|*@]{1,64}$")
OUT_BILL_NO = re.compile(r"^[0-9A-Za-z]{5,32}$")
AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _param_error(message: str) -> ApiError:
    return ApiError(400, "PARAM_ERROR", message)


# --- records -----------------------------------------------------------------------------------


@dataclass
class Order:
    appid: str
    mchid: str
    out_trade_no: str
    description: str
    notify_url: str
    total: int
    openid: str
    prepay_id: str
    create_time: float
    trade_state: str = "NOTPAY"  # NOTPAY -> SUCCESS -> REFUND, or NOTPAY -> CLOSED
    transaction_id: str | None = None
    success_time: float | None = None

    def request_content(self) -> tuple:
        return (self.appid, self.mchid, self.description, self.notify_url, self.total, self.openid)

    def as_transaction(self) -> dict:
        transaction = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_type": "JSAPI",
            "trade_state": self.trade_state,
            "trade_state_desc": TRADE_STATE_DESC[self.trade_state],
            "attach": "",
            "payer": {"openid": self.openid},
            "amount": {"total": self.total, "currency": "CNY"},
        }
        if self.transaction_id:
            transaction.update(
                transaction_id=self.transaction_id,
                bank_type="OTHERS",
                success_time=_rfc3339(self.success_time),
                amount={"total": self.total, "payer_total": self.total, "currency": "CNY", "payer_currency": "CNY"},
            )
        return transaction


TRADE_STATE_DESC = {"NOTPAY": "未支付", "SUCCESS": "支付成功", "CLOSED": "已关闭", "REFUND": "转入退款"}


@dataclass
class Refund:
    refund_id: str
    out_refund_no: str
    order: Order
    amount: int
    reason: str
    notify_url: str | None
    create_time: float
    status: str = "PROCESSING"
    success_time: float | None = None

    def request_content(self) -> tuple:
        return (self.order.out_trade_no, self.amount, self.order.total)

    def as_refund(self) -> dict:
        refund = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.order.transaction_id,
            "out_trade_no": self.order.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": _rfc3339(self.create_time),
            "status": self.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": self.order.total, "refund": self.amount,
                "payer_total": self.order.total, "payer_refund": self.amount,
                "settlement_total": self.order.total, "settlement_refund": self.amount,
                "discount_refund": 0, "refund_fee": 0, "currency": "CNY",
            },
            "promotion_detail": [],
        }
        if self.success_time is not None:
            refund["success_time"] = _rfc3339(self.success_time)
        return refund

    def as_notification_resource(self, mchid: str) -> dict:
        return {
            "mchid": mchid,
            "transaction_id": self.order.transaction_id,
            "out_trade_no": self.order.out_trade_no,
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "refund_status": self.status,
            "success_time": _rfc3339(self.success_time),
            "user_received_account": "支付用户零钱",
            "amount": {"total": self.order.total, "refund": self.amount,
                       "payer_total": self.order.total, "payer_refund": self.amount},
        }


@dataclass
class TransferBill:
    mchid: str
    appid: str
    out_bill_no: str
    transfer_bill_no: str
    transfer_scene_id: str
    openid: str
    amount: int
    remark: str
    notify_url: str | None
    create_time: float
    package_info: str
    state: str = "WAIT_USER_CONFIRM"  # the user confirms receipt in the mini-program
    update_time: float | None = None

    def request_content(self) -> tuple:
        return (self.appid, self.transfer_scene_id, self.openid, self.amount, self.remark)

    def as_created(self) -> dict:
        answer = {"out_bill_no": self.out_bill_no, "transfer_bill_no": self.transfer_bill_no,
                  "create_time": _rfc3339(self.create_time), "state": self.state}
        if self.state == "WAIT_USER_CONFIRM":
            answer["package_info"] = self.package_info
        return answer

    def as_bill(self) -> dict:
        return {
            "mch_id": self.mchid, "appid": self.appid,
            "out_bill_no": self.out_bill_no, "transfer_bill_no": self.transfer_bill_no,
            "state": self.state, "transfer_amount": self.amount, "transfer_remark": self.remark,
            "openid": self.openid, "create_time": _rfc3339(self.create_time),
            "update_time": _rfc3339(self.update_time or self.create_time),
        }


# --- state -------------------------------------------------------------------------------------


class PayState:
    def __init__(self, config, state):
        self.config = config
        self.keys = config.keys
        self._state = state
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self.platform_private_key = load_pem_private_key(self.keys.platform_private_key.encode(), password=None)
        self.merchant_public_key = load_pem_public_key(self.keys.merchant_public_key.encode())
        self.orders: dict[str, Order] = {}
        self.refunds: dict[str, Refund] = {}
        self._refunded: dict[str, int] = {}  # out_trade_no → fen refunded (bench scale: one look-up a refund)
        self.transfers: dict[str, TransferBill] = {}
        self.deliveries: list[dict] = []  # notification delivery log
        self.merchant_balance_fen: int | None = None  # None: refunds never lack funds
        self._in_flight = 0  # background work: notification deliveries, refunds settling
        self._idle = threading.Condition(self._lock)

    def now(self) -> float:
        return self._state.now()

    def close(self) -> None:
        """End notification retries and pending refunds (called when the emulator stops)."""
        self._stopped.set()

    def fail_next_transfers(self, times: int = 1, status: int | None = 500, delay_seconds: float = 0.0) -> None:
        """The next `times` transfer requests answer `status`, or (status None) answer after a
        real-time delay, having taken effect: what a client timeout looks like."""
        fault = Fault(path=TRANSFER_BILLS_PATH.lstrip("/"), times=times, status=status, delay_seconds=delay_seconds)
        self._state.add_fault(fault)

    def refuse_next_refunds(self, code: str, times: int = 1, status: int | None = None) -> None:
        """The next `times` refund requests are answered with WeChat Pay's error `code` (at its
        documented HTTP status unless `status` says otherwise) and take no effect."""
        fault = Fault(path=REFUNDS_PATH.lstrip("/"), times=times, code=code,
                      status=status or REFUND_ERROR_STATUS.get(code, 400))
        self._state.add_fault(fault)

    def set_merchant_balance(self, fen: int | None) -> None:
        """The merchant's available balance that refunds draw on (None: unlimited); below a
        refund's amount the refund is refused with 403 NOT_ENOUGH, as WeChat does."""
        with self._lock:
            self.merchant_balance_fen = fen

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until no notification delivery or refund settlement is pending (True), so a test
        can state that nothing more will arrive without sleeping."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def _background(self, target, *args) -> None:
        with self._lock:
            self._in_flight += 1

        def run():
            try:
                target(*args)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

        threading.Thread(target=run, daemon=True).start()

    # orders

    def create_order(self, mchid: str, body: dict) -> str:
        order = self._order_from_request(mchid, body)
        with self._lock:
            existing = self.orders.get(order.out_trade_no)
            if existing is None:
                self.orders[order.out_trade_no] = order
                return order.prepay_id
        if existing.trade_state in ("SUCCESS", "REFUND"):
            raise ApiError(400, "ORDER_PAID", "该订单已支付")
        if existing.trade_state == "CLOSED":
            raise ApiError(400, "ORDER_CLOSED", "该订单已关闭")
        if existing.request_content() != order.request_content():
            raise ApiError(400, "INVALID_REQUEST", "201 商户订单号重复")
        return existing.prepay_id

    def _order_from_request(self, mchid: str, body: dict) -> Order:
        if body.get("mchid") != mchid:
            raise _param_error("mchid与请求方商户号不一致")
        if body.get("appid") != self.config.appid:
            raise ApiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        out_trade_no = _required_str(body, "out_trade_no")
        if not OUT_TRADE_NO.match(out_trade_no):
            raise _param_error("out_trade_no格式错误")
        description = _required_str(body, "description")
        if len(description) > 127:
            raise _param_error("description过长")
        amount = body.get("amount") or {}
        total = amount.get("total")
        if not _is_positive_int(total):
            raise _param_error("amount.total必须为正整数(分)")
        if amount.get("currency", "CNY") != "CNY":
            raise _param_error("amount.currency仅支持CNY")
        openid = (body.get("payer") or {}).get("openid")
        if not isinstance(openid, str) or not openid:
            raise _param_error("缺少payer.openid")
        return Order(
            appid=body["appid"], mchid=mchid, out_trade_no=out_trade_no, description=description,
            notify_url=_notify_url(body, required=True), total=total, openid=openid,
            prepay_id=_new_prepay_id(self.now()), create_time=self.now(),
        )

    def get_order(self, out_trade_no: str) -> Order:
        return self._find(self.orders, out_trade_no, ApiError(404, "ORDER_NOT_EXIST", "订单不存在"))

    def close_order(self, out_trade_no: str) -> None:
        with self._lock:
            order = self.get_order(out_trade_no)
            if order.trade_state in ("SUCCESS", "REFUND"):
                raise ApiError(400, "ORDER_PAID", "订单已支付")
            order.trade_state = "CLOSED"

    def pay(self, package: str, duplicates: int = 0, notify: bool = True) -> Order:
        """What wx.requestPayment does once the user confirms: the order becomes paid."""
        prepay_id = package.removeprefix("prepay_id=")
        with self._lock:
            order = next((o for o in self.orders.values() if o.prepay_id == prepay_id), None)
            if order is None or not package.startswith("prepay_id="):
                raise ApiError(404, "ORDER_NOT_EXIST", "prepay_id无效")
            if order.trade_state != "NOTPAY":
                code = "ORDER_CLOSED" if order.trade_state == "CLOSED" else "ORDER_PAID"
                raise ApiError(400, code, f"订单状态为{order.trade_state}")
            order.trade_state = "SUCCESS"
            order.transaction_id = _new_digits("4200", 28)
            order.success_time = self.now()
            transaction = order.as_transaction()
        if notify:
            self.notify(order.notify_url, "TRANSACTION.SUCCESS", "支付成功", "transaction", transaction, duplicates)
        return order

    # refunds

    def create_refund(self, body: dict) -> Refund:
        out_refund_no = _required_str(body, "out_refund_no")
        if not OUT_REFUND_NO.match(out_refund_no):
            raise _param_error("out_refund_no格式错误")
        amount = body.get("amount") or {}
        refund_fen, total = amount.get("refund"), amount.get("total")
        if not (_is_positive_int(refund_fen) and _is_positive_int(total)):
            raise _param_error("amount.refund与amount.total必须为正整数(分)")
        if amount.get("currency", "CNY") != "CNY":
            raise _param_error("amount.currency仅支持CNY")
        with self._lock:
            order = self._refundable_order(body, total)
            existing = self.refunds.get(out_refund_no)
            if existing is not None:
                if existing.request_content() != (order.out_trade_no, refund_fen, total):
                    raise ApiError(400, "INVALID_REQUEST", "同一退款单号的请求参数不一致")
                return existing
            if self.now() - order.success_time > REFUND_WINDOW.total_seconds():
                raise ApiError(400, "INVALID_REQUEST", "订单已超过退款期限")
            already = self._refunded.get(order.out_trade_no, 0)  # kept per order: no scan of every refund
            if already + refund_fen > order.total:
                raise ApiError(400, "NOT_ENOUGH", "可退金额不足")
            if self.merchant_balance_fen is not None:
                if self.merchant_balance_fen < refund_fen:
                    raise ApiError(403, "NOT_ENOUGH", "基本账户余额不足，请充值后重新发起")
                self.merchant_balance_fen -= refund_fen
            refund = Refund(
                refund_id=_new_digits("50", 32), out_refund_no=out_refund_no, order=order, amount=refund_fen,
                reason=str(body.get("reason") or ""), notify_url=_notify_url(body, required=False),
                create_time=self.now(),
            )
            self.refunds[out_refund_no] = refund
            self._refunded[order.out_trade_no] = already + refund_fen
            order.trade_state = "REFUND"
        self._after(REFUND_SETTLE_SECONDS * self.config.notify_time_scale, self._settle_refund, refund)
        return refund

    def _refundable_order(self, body: dict, total: int) -> Order:
        transaction_id, out_trade_no = body.get("transaction_id"), body.get("out_trade_no")
        if transaction_id:
            order = next((o for o in self.orders.values() if o.transaction_id == transaction_id), None)
        elif out_trade_no:
            order = self.orders.get(out_trade_no)
        else:
            raise _param_error("transaction_id和out_trade_no必须二选一")
        if order is None:
            raise ApiError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        if order.transaction_id is None or order.trade_state == "CLOSED":
            raise ApiError(400, "INVALID_REQUEST", "订单未支付")
        if total != order.total:
            raise _param_error("amount.total与订单金额不一致")
        return order

    def _settle_refund(self, refund: Refund) -> None:
        with self._lock:
            refund.status = "SUCCESS"
            refund.success_time = self.now()
            resource = refund.as_notification_resource(self.keys.mchid)
        if refund.notify_url or self.config.notify_url:
            self.notify(refund.notify_url, "REFUND.SUCCESS", "退款成功", "refund", resource)

    def get_refund(self, out_refund_no: str) -> Refund:
        return self._find(self.refunds, out_refund_no, ApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在"))

    # merchant transfers

    def create_transfer(self, mchid: str, body: dict) -> TransferBill:
        bill = self._transfer_from_request(mchid, body)
        with self._lock:
            existing = self.transfers.setdefault(bill.out_bill_no, bill)
        if existing is not bill and existing.request_content() != bill.request_content():
            raise ApiError(400, "INVALID_REQUEST", "同一商户单号的请求参数不一致")
        return existing

    def _transfer_from_request(self, mchid: str, body: dict) -> TransferBill:
        if body.get("appid") != self.config.appid:
            raise ApiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        out_bill_no = _required_str(body, "out_bill_no")
        if not OUT_BILL_NO.match(out_bill_no):
            raise _param_error("out_bill_no只能由数字、大小写字母组成")
        amount = body.get("transfer_amount")
        if not _is_positive_int(amount):
            raise _param_error("transfer_amount必须为正整数(分)")
        remark = _required_str(body, "transfer_remark")
        if len(remark) > 32:
            raise _param_error("transfer_remark最多32个字符")
        return TransferBill(
            mchid=mchid, appid=body["appid"], out_bill_no=out_bill_no,
            transfer_bill_no=_new_digits("1330", 40), transfer_scene_id=_required_str(body, "transfer_scene_id"),
            openid=_required_str(body, "openid"), amount=amount, remark=remark,
            notify_url=_notify_url(body, required=False), create_time=self.now(),
            package_info=secrets.token_urlsafe(48),
        )

    def get_transfer(self, out_bill_no: str) -> TransferBill:
        return self._find(self.transfers, out_bill_no, ApiError(404, "NOT_FOUND", "记录不存在"))

    def confirm_transfer(self, package_info: str) -> TransferBill:
        """What wx.requestMerchantTransfer does once the user confirms receipt."""
        with self._lock:
            bill = next((b for b in self.transfers.values() if b.package_info == package_info), None)
            if bill is None:
                raise ApiError(404, "NOT_FOUND", "package_info无效")
            if bill.state != "WAIT_USER_CONFIRM":
                raise ApiError(400, "INVALID_REQUEST", f"转账单状态为{bill.state}")
            bill.state = "SUCCESS"
            bill.update_time = self.now()
            resource = bill.as_bill()
        if bill.notify_url or self.config.notify_url:
            self.notify(bill.notify_url, "MCHTRANSFER.BILL.FINISHED", "商家转账单据终态通知", "mch_payment", resource)
        return bill

    # notifications

    def notify(self, url: str | None, event_type: str, summary: str, original_type: str, resource: dict,
               duplicates: int = 0) -> None:
        """Deliver a notification in the background on WeChat's retry schedule."""
        body = {
            "id": str(uuid.uuid4()),
            "create_time": _rfc3339(self.now()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": encrypt_resource(self.keys.apiv3_key, resource, original_type),
        }
        target = self.config.notify_url or url
        self._background(self._deliver, target, body, duplicates)

    def _deliver(self, url: str, body: dict, duplicates: int) -> None:
        for _ in range(duplicates):  # WeChat may send the same notification twice within a second
            self._background(self._post_notification, url, body, 1, True)
        waits = (0,) + NOTIFY_RETRY_SCHEDULE
        for attempt, wait in enumerate(waits, start=1):
            if self._stopped.wait(wait * self.config.notify_time_scale):
                return
            if self._post_notification(url, body, attempt, False) in (200, 204):
                return

    def _post_notification(self, url: str, body: dict, attempt: int, duplicate: bool) -> int | None:
        headers, data = sign_notification(self, body)
        entry = {"id": body["id"], "event_type": body["event_type"], "url": url, "attempt": attempt,
                 "duplicate": duplicate, "status": None, "error": None, "at": self.now()}
        try:
            entry["status"] = requests.post(url, data=data, headers=headers,
                                            timeout=NOTIFY_HTTP_TIMEOUT_SECONDS).status_code
        except requests.RequestException as error:
            entry["error"] = f"{type(error).__name__}: {error}"
        with self._lock:
            self.deliveries.append(entry)
        return entry["status"]

    def _find(self, records: dict, key: str, missing: ApiError):
        with self._lock:
            record = records.get(key)
        if record is None:
            raise missing
        return record

    def _after(self, seconds: float, action, *args) -> None:
        def run():
            if not self._stopped.wait(seconds):
                action(*args)

        self._background(run)


# --- signing and encryption (shared with tests) -----------------------------------------------


def sign_message(private_key, message: str) -> str:
    return b64encode(private_key.sign(message.encode(), PKCS1v15(), SHA256())).decode()


def signed_headers(pay: PayState, body: bytes, timestamp: int | None = None) -> dict:
    """Wechatpay-* headers as the platform signs responses and notifications."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(16).upper()
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_message(pay.platform_private_key, f"{timestamp}\n{nonce}\n{body.decode()}\n"),
        "Wechatpay-Serial": pay.keys.platform_public_key_id,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def sign_notification(state, body: dict, timestamp: int | None = None) -> tuple[dict, bytes]:
    """Headers and body of a notification as WeChat sends it. `state` is an EmulatorState or PayState."""
    pay = state if isinstance(state, PayState) else state.pay
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", **signed_headers(pay, data, timestamp)}
    return headers, data


def encrypt_resource(apiv3_key: str, resource: dict, original_type: str) -> dict:
    nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
    plaintext = json.dumps(resource, ensure_ascii=False).encode()
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, original_type.encode())
    return {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": b64encode(ciphertext).decode(), "associated_data": original_type, "nonce": nonce}


# --- HTTP: merchant API ------------------------------------------------------------------------


def _pay() -> PayState:
    return current_state().pay


@bp.before_request
def _authenticate_merchant():
    if request.path.startswith("/v3/"):
        g.merchant_mchid = _verify_merchant_signature(_pay())


def _verify_merchant_signature(pay: PayState) -> str:
    scheme, _, params = request.headers.get("Authorization", "").partition(" ")
    fields = dict(AUTH_FIELD.findall(params))
    if scheme != SIGNATURE_TYPE or not {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} <= fields.keys():
        raise ApiError(401, "SIGN_ERROR", "Authorization缺失或格式错误")
    if fields["mchid"] != pay.keys.mchid:
        raise ApiError(401, "SIGN_ERROR", "商户号不存在")
    if fields["serial_no"] != pay.keys.merchant_serial:
        raise ApiError(401, "SIGN_ERROR", "商户证书序列号不正确")
    if not fields["timestamp"].isdigit() or abs(time.time() - int(fields["timestamp"])) > REQUEST_MAX_SKEW_SECONDS:
        raise ApiError(401, "SIGN_ERROR", "时间戳过期")
    url = request.environ.get("RAW_URI") or request.full_path.rstrip("?")
    message = f"{request.method}\n{url}\n{fields['timestamp']}\n{fields['nonce_str']}\n"
    try:
        pay.merchant_public_key.verify(
            b64decode(fields["signature"]), message.encode() + request.get_data() + b"\n", PKCS1v15(), SHA256()
        )
    except (InvalidSignature, ValueError):
        raise ApiError(401, "SIGN_ERROR", "签名错误") from None
    return fields["mchid"]


@bp.after_request
def _sign_response(response: Response) -> Response:
    if request.path.startswith("/v3/"):
        response.headers.update(signed_headers(_pay(), response.get_data()))
    return response


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    return _json({"code": error.code, "message": error.message}, error.status)


@bp.post("/v3/pay/transactions/jsapi")
def create_jsapi_order():
    return _json({"prepay_id": _pay().create_order(g.merchant_mchid, _json_body())})


@bp.get("/v3/pay/transactions/out-trade-no/<out_trade_no>")
def query_order(out_trade_no):
    if request.args.get("mchid") != g.merchant_mchid:
        raise _param_error("mchid与请求方商户号不一致")
    return _json(_pay().get_order(out_trade_no).as_transaction())


@bp.post("/v3/pay/transactions/out-trade-no/<out_trade_no>/close")
def close_order(out_trade_no):
    if _json_body().get("mchid") != g.merchant_mchid:
        raise _param_error("mchid与请求方商户号不一致")
    _pay().close_order(out_trade_no)
    return Response(status=204)


@bp.post(REFUNDS_PATH)
def create_refund():
    return _json(_pay().create_refund(_json_body()).as_refund())


@bp.get("/v3/refund/domestic/refunds/<out_refund_no>")
def query_refund(out_refund_no):
    return _json(_pay().get_refund(out_refund_no).as_refund())


@bp.post(TRANSFER_BILLS_PATH)
def create_transfer():
    return _json(_pay().create_transfer(g.merchant_mchid, _json_body()).as_created())


@bp.get(TRANSFER_BILLS_PATH + "/out-bill-no/<out_bill_no>")
def query_transfer(out_bill_no):
    return _json(_pay().get_transfer(out_bill_no).as_bill())


# --- HTTP: phone and test helpers ---------------------------------------------------------------


@bp.post("/_emulator/pay")
def phone_pays():
    """wx.requestPayment: body is its params (paySign is checked when present) or just {"package"}."""
    return _phone_pays(notify=True)


@bp.post("/_emulator/pay/silent")
def phone_pays_without_notification():
    """Paid, but the notification never arrives: only querying the order reveals it."""
    return _phone_pays(notify=False)


def _phone_pays(notify: bool):
    pay = _pay()
    body = _json_body()
    package = _required_str(body, "package")
    if "paySign" in body and not _pay_sign_valid(pay, body):
        raise ApiError(400, "SIGN_ERROR", "支付验证签名失败")
    order = pay.pay(package, duplicates=int(body.get("duplicates", 0)), notify=notify)
    return _json({"out_trade_no": order.out_trade_no, "transaction_id": order.transaction_id})


def _pay_sign_valid(pay: PayState, params: dict) -> bool:
    message = "".join(f"{part}\n" for part in (pay.config.appid, params.get("timeStamp"),
                                               params.get("nonceStr"), params.get("package")))
    try:
        pay.merchant_public_key.verify(b64decode(params["paySign"]), message.encode(), PKCS1v15(), SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


@bp.post("/_emulator/transfer/confirm")
def phone_confirms_transfer():
    """wx.requestMerchantTransfer: the user accepts the money; body {"package_info"}."""
    return _json(_pay().confirm_transfer(_required_str(_json_body(), "package_info")).as_bill())


@bp.get("/_emulator/notifications")
def notification_deliveries():
    pay = _pay()
    with pay._lock:
        return _json({"deliveries": list(pay.deliveries)})


# --- helpers -----------------------------------------------------------------------------------


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def _json_body() -> dict:
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError:
        raise _param_error("请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise _param_error("请求体必须是JSON对象")
    return body


def _required_str(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _param_error(f"缺少参数{name}")
    return value


def _notify_url(body: dict, required: bool) -> str | None:
    url = body.get("notify_url")
    if url is None and not required:
        return None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or "?" in url:
        raise _param_error("notify_url必须是不带参数的http(s)地址")
    return url


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _rfc3339(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, CHINA_TZ).isoformat(timespec="seconds")


def _new_prepay_id(now: float) -> str:
    return "wx" + datetime.fromtimestamp(now, CHINA_TZ).strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)


def _new_digits(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(string.digits) for _ in range(length - len(prefix)))
