"""What the services need from the outside world, and the failures they may meet there.

The services are written against these Protocols and catch only these exceptions. The adapters
that talk to WeChat (wechat/pay.py over the Pay v3 SDK, wechat/mp.py over the mini-program SDK) implement
the Protocols and translate every SDK or HTTP failure into one of the exceptions below; they import
this module, never the reverse. Tests pass in-memory fakes (tests/fakes.py).

Failures, by what they mean to a caller:

- PayRejected: WeChat Pay answered and said no (status, code, message); nothing happened.
- PayOutcomeUnknown: no answer; the call may or may not have taken effect. Retry with the
  same out_* number (every pay call is idempotent on it) or query.
- InvalidNotification: a payment, refund or transfer notification that must be refused.
- BillHashMismatch: a downloaded bill whose SHA-1 is not the one WeChat announced.
- WeChatRejected: a mini-program API answered with an errcode.
- WeChatUnavailable: a mini-program API gave no usable answer (timeout, network, HTTP error).
- OpenDataInvalid: encrypted open data that does not decrypt, or was sealed for another appid.
"""
from __future__ import annotations

import datetime as dt
from typing import BinaryIO, Mapping, Protocol

# --- failures ------------------------------------------------------------------------------------


class PayFailure(Exception):
    """A WeChat Pay call failed (either kind below)."""


class PayRejected(PayFailure):
    """WeChat Pay refused the call. status is the HTTP status, None when none applies."""

    def __init__(self, status: int | None, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class PayOutcomeUnknown(PayFailure):
    """No answer from WeChat Pay: the call may or may not have taken effect."""


class InvalidNotification(Exception):
    """A notification that must be refused; `reason` says why (never the notification itself)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class BillHashMismatch(Exception):
    """A downloaded bill does not hash to the SHA-1 WeChat announced: it must not be used."""

    def __init__(self, kind: str, bill_date: str, announced, computed: str):
        super().__init__(f"{kind} bill of {bill_date}: WeChat says SHA-1 {announced}, the file is {computed}")
        self.kind, self.bill_date, self.announced, self.computed = kind, bill_date, announced, computed


class WeChatCallFailed(Exception):
    """A mini-program server API call failed (either kind below). errcode is None when WeChat gave none."""

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatRejected(WeChatCallFailed):
    """WeChat answered with an errcode (e.g. 40029 invalid code, 43101 no subscription left, -1 busy)."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errcode, errmsg)


class WeChatUnavailable(WeChatCallFailed):
    """No usable answer: a timeout (timed_out) or a network or HTTP failure."""

    def __init__(self, errmsg: str, *, timed_out: bool = False):
        super().__init__(None, errmsg)
        self.timed_out = timed_out


class OpenDataInvalid(Exception):
    """Encrypted open data that does not decrypt, or was not sealed for this appid."""


# --- collaborators -------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class PayNotification(Protocol):
    event_type: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, MCHTRANSFER.BILL.FINISHED, ...
    resource: dict  # the decrypted resource


class PayGateway(Protocol):
    """What top-ups and refunds need from WeChat Pay (PayClient in wechat/pay.py provides it)."""

    mchid: str
    appid: str

    def create_jsapi_order(self, out_trade_no: str, description: str, amount_fen: int, openid: str) -> str: ...
    def request_payment_params(self, prepay_id: str) -> dict: ...
    def query_order(self, out_trade_no: str) -> dict: ...
    def close_order(self, out_trade_no: str) -> None: ...
    def refund(self, out_refund_no: str, *, out_trade_no: str | None = None, transaction_id: str | None = None,
               refund_fen: int, total_fen: int, reason: str | None = None) -> dict: ...
    def query_refund(self, out_refund_no: str) -> dict: ...
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> PayNotification: ...


class TransferGateway(Protocol):
    """What aid payout needs from WeChat Pay's merchant transfers."""

    def transfer(self, out_bill_no: str, openid: str, amount_fen: int, remark: str) -> dict: ...
    def query_transfer(self, out_bill_no: str) -> dict: ...


class BillSource(Protocol):
    """A day's trade or fund-flow bill, written decompressed to `destination`; returns its SHA-1."""

    def download_bill(self, kind: str, bill_date: str, destination: BinaryIO) -> str: ...


class WeChatSession(Protocol):
    openid: str
    unionid: str | None
    session_key: str


class LoginGateway(Protocol):
    """What login needs from the mini-program server API (MiniProgramClient in wechat/mp.py provides it)."""

    def code_to_session(self, code: str) -> WeChatSession: ...


class CodeGateway(Protocol):
    def get_unlimited_code(self, scene: str, page: str | None, width: int = 430) -> bytes: ...


class OpenDataDecryptor(Protocol):
    def decrypt_open_data(self, session_key: str, encrypted_data: str, iv: str) -> dict: ...


class SubscribeMessageSender(Protocol):
    def send_subscribe_message(self, openid: str, template_id: str, data: dict[str, str],
                               page: str | None = None) -> None: ...
