"""WeChat Pay API v3 client for the app (JSAPI/mini-program payments, refunds, merchant transfers).

A thin layer over wechatpayv3 in public-key mode that returns plain dicts and turns every
failure into one of the services' port exceptions (app.services.ports):

- PayRejected: the gateway answered with an error (or something we cannot trust); the call failed.
- PayOutcomeUnknown: no answer; the outcome is unknown. Retry with the same out_* number
  (every call here is idempotent on it) or query.
- InvalidNotification: a payment/refund/transfer notification that must be rejected.
- BillHashMismatch: a downloaded bill that does not hash to what WeChat announced.

Nothing here imports Flask or the app beyond app.services.ports: callers pass plain values.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import secrets
import time
from base64 import b64decode
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Mapping

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import aes_decrypt, rsa_verify

from app.services.ports import BillHashMismatch, InvalidNotification, PayOutcomeUnknown, PayRejected

from .metrics import observed_call

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
NOTIFICATION_MAX_SKEW_SECONDS = 300
# 商家转账 scene; 1000 = 现金营销. The scene must be enabled for the merchant.
DEFAULT_TRANSFER_SCENE_ID = "1000"


@dataclass(frozen=True)
class Notification:
    id: str
    event_type: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, MCHTRANSFER.BILL.FINISHED, ...
    resource: dict  # the decrypted resource (transaction, refund or transfer bill)


class PayClient:
    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        merchant_private_key_pem: str,
        merchant_serial: str,
        apiv3_key: str,
        platform_public_key_pem: str,
        platform_public_key_id: str,
        notify_url: str,
        gateway: str | None = None,
        refund_notify_url: str | None = None,
        transfer_notify_url: str | None = None,
        transfer_scene_id: str = DEFAULT_TRANSFER_SCENE_ID,
        timeout: float | tuple[float, float] = (5, 10),
        wall_clock: Callable[[], float] = time.time,
    ):
        self.mchid = mchid
        self.wall_clock = wall_clock  # what notification timestamps are checked against (tests fix it)
        self.appid = appid
        self.notify_url = notify_url
        self.refund_notify_url = refund_notify_url or notify_url
        self.transfer_notify_url = transfer_notify_url or notify_url
        self.transfer_scene_id = transfer_scene_id
        self._apiv3_key = apiv3_key
        self._platform_public_key_id = platform_public_key_id
        self._platform_public_key = load_pem_public_key(platform_public_key_pem.encode())
        # Public-key mode: no certificate download, so construction never touches the network.
        self._wxpay = WeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG,
            mchid=mchid,
            private_key=merchant_private_key_pem,
            cert_serial_no=merchant_serial,
            appid=appid,
            apiv3_key=apiv3_key,
            notify_url=notify_url,
            public_key=platform_public_key_pem,
            public_key_id=platform_public_key_id,
            timeout=timeout,
        )
        if gateway:
            # wechatpayv3 2.0.4 hard-codes the host in this private attribute (version pinned).
            self._wxpay._core._gate_way = gateway.rstrip("/")

    # --- payments -------------------------------------------------------------------------

    def create_jsapi_order(self, out_trade_no: str, description: str, amount_fen: int, openid: str) -> str:
        """Returns the prepay_id. Same out_trade_no and content again returns the same prepay_id."""
        _require_positive_fen(amount_fen)
        answer = self._call(
            self._wxpay.pay,
            description=description,
            out_trade_no=out_trade_no,
            amount={"total": amount_fen, "currency": "CNY"},
            payer={"openid": openid},
        )
        return answer["prepay_id"]

    def request_payment_params(self, prepay_id: str) -> dict:
        """The object the mini-program passes to wx.requestPayment."""
        params = {
            "timeStamp": str(int(time.time())),
            "nonceStr": secrets.token_hex(16),
            "package": f"prepay_id={prepay_id}",
            "signType": "RSA",
        }
        params["paySign"] = self._wxpay.sign(
            [self.appid, params["timeStamp"], params["nonceStr"], params["package"]]
        )
        return params

    def query_order(self, out_trade_no: str) -> dict:
        return self._call(self._wxpay.query, out_trade_no=out_trade_no)

    def close_order(self, out_trade_no: str) -> None:
        self._call(self._wxpay.close, out_trade_no=out_trade_no)

    # --- refunds --------------------------------------------------------------------------

    def refund(
        self,
        out_refund_no: str,
        *,
        out_trade_no: str | None = None,
        transaction_id: str | None = None,
        refund_fen: int,
        total_fen: int,
        reason: str | None = None,
    ) -> dict:
        """Same out_refund_no refunds once: a retry returns the existing refund."""
        if bool(out_trade_no) == bool(transaction_id):
            raise ValueError("give exactly one of out_trade_no and transaction_id")
        _require_positive_fen(refund_fen)
        _require_positive_fen(total_fen)
        return self._call(
            self._wxpay.refund,
            out_refund_no=out_refund_no,
            amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            out_trade_no=out_trade_no,
            transaction_id=transaction_id,
            reason=reason,
            notify_url=self.refund_notify_url,
        )

    def query_refund(self, out_refund_no: str) -> dict:
        return self._call(self._wxpay.query_refund, out_refund_no=out_refund_no)

    # --- merchant transfers (商家转账) -------------------------------------------------------

    def transfer(
        self,
        out_bill_no: str,
        openid: str,
        amount_fen: int,
        remark: str,
        *,
        scene_report_infos: list[dict] | None = None,
    ) -> dict:
        """Starts a transfer; idempotent by out_bill_no.

        The answer's state is usually WAIT_USER_CONFIRM: hand package_info to the mini-program
        (wx.requestMerchantTransfer) so the user confirms receipt.
        """
        _require_positive_fen(amount_fen)
        return self._call(
            self._wxpay.mch_transfer_bills,
            out_bill_no=out_bill_no,
            transfer_scene_id=self.transfer_scene_id,
            openid=openid,
            transfer_amount=amount_fen,
            transfer_remark=remark,
            transfer_scene_report_infos=scene_report_infos or [],
            notify_url=self.transfer_notify_url,
        )

    def query_transfer(self, out_bill_no: str) -> dict:
        return self._call(self._wxpay.mch_transfer_bills_query, out_bill_no=out_bill_no)

    # --- bills ----------------------------------------------------------------------------

    def download_bill(self, kind: str, bill_date: str, destination: BinaryIO) -> str:
        """Apply for a day's bill (kind "trade": the trade bill, ALL; "fundflow": the fund-flow bill,
        BASIC), download the gzip and write it decompressed to `destination` while computing its
        SHA-1, in 1 MiB pieces. Returns the SHA-1; BillHashMismatch when it is not WeChat's hash_value
        (the caller must then discard what was written)."""
        if kind == "trade":
            answer = self._call(self._wxpay.trade_bill, bill_date=bill_date, bill_type="ALL", tar_type="GZIP")
        elif kind == "fundflow":
            answer = self._call(self._wxpay.fundflow_bill, bill_date=bill_date, account_type="BASIC", tar_type="GZIP")
        else:
            raise ValueError(f"unknown bill kind {kind!r}")
        with observed_call("pay", "download_bill", _errcode_of):
            status, content = self._call_raw(self._wxpay.download_bill, url=answer["download_url"])
        if not 200 <= status < 300:
            detail = _json_or_empty(content)
            raise PayRejected(status, str(detail.get("code", "UNKNOWN")), str(detail.get("message", "")))
        digest = hashlib.sha1()
        with gzip.GzipFile(fileobj=io.BytesIO(content)) as unzipped:
            for piece in iter(lambda: unzipped.read(1 << 20), b""):
                digest.update(piece)
                destination.write(piece)
        if answer.get("hash_type", "SHA1").upper() != "SHA1" or digest.hexdigest() != str(answer.get("hash_value")).lower():
            raise BillHashMismatch(kind, bill_date, answer.get("hash_value"), digest.hexdigest())
        return digest.hexdigest()

    # --- notifications --------------------------------------------------------------------

    def parse_notification(
        self,
        headers: Mapping[str, str],
        body: bytes,
        now: float | None = None,
        max_skew_seconds: int = NOTIFICATION_MAX_SKEW_SECONDS,
    ) -> Notification:
        """Verify and decrypt a notification; anything doubtful raises InvalidNotification."""
        try:
            return self._parse_notification(headers, body, self.wall_clock() if now is None else now,
                                            max_skew_seconds)
        except InvalidNotification:
            raise
        except Exception as error:  # noqa: BLE001 - a notification must never crash the handler
            raise InvalidNotification(f"unreadable notification: {type(error).__name__}") from error

    def _parse_notification(self, headers, body: bytes, now: float, max_skew_seconds: int) -> Notification:
        header = {name.lower(): value for name, value in headers.items()}
        names = ("wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature", "wechatpay-serial")
        missing = [name for name in names if not header.get(name)]
        if missing:
            raise InvalidNotification(f"missing headers: {', '.join(missing)}")
        if header.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise InvalidNotification("unsupported signature type")
        # Checked before anything else: the SDK would fetch certificates for an unknown serial.
        if header["wechatpay-serial"] != self._platform_public_key_id:
            raise InvalidNotification("unknown platform key serial")
        timestamp = header["wechatpay-timestamp"]
        if not timestamp.isdigit() or abs(now - int(timestamp)) > max_skew_seconds:
            raise InvalidNotification("timestamp too far from now")
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        if not rsa_verify(timestamp, header["wechatpay-nonce"], text, header["wechatpay-signature"],
                          self._platform_public_key):
            raise InvalidNotification("bad signature")
        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
            if resource["algorithm"] != "AEAD_AES_256_GCM":
                raise InvalidNotification("unsupported resource algorithm")
            ciphertext, nonce = resource["ciphertext"], resource["nonce"]
            associated_data = resource.get("associated_data") or ""
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidNotification("malformed notification body") from error
        try:
            plaintext = aes_decrypt(nonce=nonce, ciphertext=ciphertext, associated_data=associated_data,
                                    apiv3_key=self._apiv3_key)
        except (ValueError, TypeError) as error:  # bad base64, bad nonce length
            raise InvalidNotification("bad ciphertext") from error
        if plaintext is None:  # the SDK's way of saying the GCM tag did not match
            raise InvalidNotification("bad ciphertext")
        try:
            decrypted = json.loads(plaintext)
        except ValueError as error:
            raise InvalidNotification("malformed resource") from error
        if not isinstance(decrypted, dict):
            raise InvalidNotification("malformed resource")
        return Notification(id=str(envelope.get("id", "")), event_type=str(envelope.get("event_type", "")),
                            resource=decrypted)

    # --- plumbing -------------------------------------------------------------------------

    def _call(self, sdk_method: Callable[..., tuple[int, Any]], **kwargs) -> dict:
        with observed_call("pay", sdk_method.__name__, _errcode_of):
            return self._call_sdk(sdk_method, **kwargs)

    def _call_sdk(self, sdk_method: Callable[..., tuple[int, Any]], **kwargs) -> dict:
        status, content = self._call_raw(sdk_method, **kwargs)
        answer = _json_or_empty(content)
        if 200 <= status < 300:
            return answer
        raise PayRejected(status, str(answer.get("code", "UNKNOWN")), str(answer.get("message", content)))

    @staticmethod
    def _call_raw(sdk_method: Callable[..., tuple[int, Any]], **kwargs) -> tuple[int, Any]:
        try:
            return sdk_method(**kwargs)
        except (requests.Timeout, requests.ConnectionError) as error:
            raise PayOutcomeUnknown(str(error)) from error
        except Exception as error:  # noqa: BLE001 - the SDK raises bare Exception (e.g. bad response signature)
            raise PayRejected(None, "SDK_ERROR", str(error)) from error


def verify_payment_sign(params: Mapping[str, str], merchant_public_key_pem: str, appid: str) -> bool:
    """Does paySign verify as WeChat checks it in wx.requestPayment? (For tests.)"""
    message = "".join(
        f"{value}\n" for value in (appid, params["timeStamp"], params["nonceStr"], params["package"])
    ).encode()
    try:
        public_key = load_pem_public_key(merchant_public_key_pem.encode())
        public_key.verify(b64decode(params["paySign"]), message, PKCS1v15(), SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _errcode_of(error: Exception) -> str | None:
    if isinstance(error, PayOutcomeUnknown):
        return "timeout"
    if isinstance(error, PayRejected):
        return error.code
    return None


def _json_or_empty(content: str | bytes) -> dict:
    if not content:
        return {}
    try:
        value = json.loads(content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _require_positive_fen(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError(f"amount in fen must be a positive int, got {amount!r}")
