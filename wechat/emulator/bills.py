"""WeChat Pay bills (对账单) built from the emulator's own records, in the real format:

- apply: GET /v3/bill/tradebill?bill_date=&bill_type=ALL&tar_type=GZIP and
  GET /v3/bill/fundflowbill?bill_date=&account_type=BASIC&tar_type=GZIP answer
  {"hash_type": "SHA1", "hash_value": SHA-1 of the bill file (uncompressed), "download_url"};
- download: GET /v3/billdownload/file?token= answers the gzip'd CSV;
- the CSV: a header row, detail rows whose every field starts with a backquote (`), amounts in yuan
  with two decimals, then a summary header and one summary row. The trade bill (ALL) holds the
  day's payments (交易状态 SUCCESS) and refunds (交易状态 REFUND); the fund-flow bill the day's
  merchant transfers (支出, 商家转账). A day is China time, by success/update time.

Tests plant gaps per bill date (POST /_emulator/bills/plant): an extra payment, refund or transfer
line, a line left out, an amount changed, or a wrong hash_value."""
from __future__ import annotations

import gzip
import hashlib
import secrets
import threading
from datetime import date, datetime

from flask import Blueprint, Response, g, request

from wechat.emulator import pay as pay_module
from wechat.emulator.pay import CHINA_TZ, ApiError, _json, _json_body, _param_error

bp = Blueprint("wechat_pay_bills", __name__)

TRADE_HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
                "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,"
                "商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")
TRADE_SUMMARY_HEADER = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
FUND_HEADER = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号"
FUND_SUMMARY_HEADER = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额"
FEE_RATE_PER_MILLE = 6  # 0.60%


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def fee_of(fen: int) -> int:
    return (fen * FEE_RATE_PER_MILLE + 500) // 1000  # rounded half up, per payment


def _row(*fields) -> str:
    return ",".join("`" + str(f) for f in fields)


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _day(epoch: float | None) -> date | None:
    return datetime.fromtimestamp(epoch, CHINA_TZ).date() if epoch is not None else None


class BillBook:
    """Planted gaps per bill date, and the files served by download token."""

    def __init__(self):
        self.lock = threading.Lock()
        self.plants: dict[str, list[dict]] = {}
        self.files: dict[str, bytes] = {}

    def plants_for(self, bill_date: str, kind: str | None = None) -> list[dict]:
        return [p for p in self.plants.get(bill_date, []) if kind is None or p["kind"] == kind]


def _book(pay) -> BillBook:
    with pay._lock:
        if not hasattr(pay, "bill_book"):
            pay.bill_book = BillBook()
        return pay.bill_book


def _amount(book: BillBook, bill_date: str, reference: str, actual: int) -> int:
    for plant in book.plants_for(bill_date, "amount"):
        if plant["reference"] == reference:
            return plant["amount_fen"]
    return actual


def _omitted(book: BillBook, bill_date: str, reference: str) -> bool:
    return any(p["reference"] == reference for p in book.plants_for(bill_date, "omit"))


def trade_bill(pay, bill_date: str) -> str:
    book, day = _book(pay), date.fromisoformat(bill_date)
    lines, count, settled, refunded, fees, ordered = [TRADE_HEADER], 0, 0, 0, 0, 0
    appid, mchid = pay.config.appid, pay.keys.mchid
    with pay._lock:
        orders = [o for o in pay.orders.values() if o.transaction_id and _day(o.success_time) == day]
        refunds = [r for r in pay.refunds.values() if r.status == "SUCCESS" and _day(r.success_time) == day]
    payments = [(o.success_time, o.transaction_id, o.out_trade_no, o.openid, o.description, o.total) for o in orders]
    payments += [(pay.now(), p.get("transaction_id") or "4200" + secrets.token_hex(12), p["reference"], "o-planted",
                  "planted", p["amount_fen"]) for p in book.plants_for(bill_date, "payment")]
    for when, transaction_id, out_trade_no, openid, description, total in payments:
        if _omitted(book, bill_date, out_trade_no):
            continue
        amount = _amount(book, bill_date, out_trade_no, total)
        fee = fee_of(amount)
        lines.append(_row(_stamp(when), appid, mchid, 0, "", transaction_id, out_trade_no, openid, "JSAPI", "SUCCESS",
                          "OTHERS", "CNY", yuan(amount), "0.00", 0, 0, "0.00", "0.00", "", "", description, "",
                          yuan(fee), "0.60%", yuan(amount), "0.00", ""))
        count, settled, fees, ordered = count + 1, settled + amount, fees + fee, ordered + amount
    refund_lines = [(r.success_time, r.order.transaction_id, r.order.out_trade_no, r.order.openid, r.refund_id,
                     r.out_refund_no, r.amount, r.order.total) for r in refunds]
    refund_lines += [(pay.now(), "4200" + secrets.token_hex(12), p.get("out_trade_no", "planted"), "o-planted",
                      "503" + secrets.token_hex(12), p["reference"], p["amount_fen"], p["amount_fen"])
                     for p in book.plants_for(bill_date, "refund")]
    for when, transaction_id, out_trade_no, openid, refund_id, out_refund_no, amount, total in refund_lines:
        if _omitted(book, bill_date, out_refund_no):
            continue
        amount = _amount(book, bill_date, out_refund_no, amount)
        fee = -fee_of(amount)
        lines.append(_row(_stamp(when), appid, mchid, 0, "", transaction_id, out_trade_no, openid, "JSAPI", "REFUND",
                          "OTHERS", "CNY", "0.00", "0.00", refund_id, out_refund_no, yuan(amount), "0.00", "ORIGINAL",
                          "SUCCESS", "", "", yuan(fee), "0.60%", yuan(total), yuan(amount), ""))
        count, refunded, fees = count + 1, refunded + amount, fees + fee
    lines += [TRADE_SUMMARY_HEADER, _row(count, yuan(settled), yuan(refunded), "0.00", yuan(fees), yuan(ordered),
                                         yuan(refunded))]
    return "\r\n".join(lines) + "\r\n"


def fundflow_bill(pay, bill_date: str) -> str:
    book, day = _book(pay), date.fromisoformat(bill_date)
    with pay._lock:
        transfers = [t for t in pay.transfers.values()
                     if t.state == "SUCCESS" and _day(t.update_time or t.create_time) == day]
    entries = [(t.update_time or t.create_time, t.transfer_bill_no, t.out_bill_no, t.amount) for t in transfers]
    entries += [(pay.now(), "1330" + secrets.token_hex(12), p["reference"], p["amount_fen"])
                for p in book.plants_for(bill_date, "transfer")]
    lines, count, out_total, balance = [FUND_HEADER], 0, 0, 10_000_000_00
    for when, transfer_bill_no, out_bill_no, amount in entries:
        if _omitted(book, bill_date, out_bill_no):
            continue
        amount = _amount(book, bill_date, out_bill_no, amount)
        balance -= amount
        lines.append(_row(_stamp(when), transfer_bill_no, "5000" + secrets.token_hex(10), "商家转账", "商家转账", "支出",
                          yuan(amount), yuan(balance), pay.keys.mchid, "互助金", out_bill_no))
        count, out_total = count + 1, out_total + amount
    lines += [FUND_SUMMARY_HEADER, _row(count, 0, "0.00", count, yuan(out_total))]
    return "\r\n".join(lines) + "\r\n"


def _serve(text: str, bill_date: str) -> Response:
    pay = pay_module._pay()
    book = _book(pay)
    content = text.encode("utf-8")
    digest = hashlib.sha1(content).hexdigest()
    if book.plants_for(bill_date, "bad_hash"):
        digest = hashlib.sha1(content + b"tampered").hexdigest()
    token = secrets.token_urlsafe(16)
    with book.lock:
        book.files[token] = gzip.compress(content, mtime=0)
    base = request.host_url.rstrip("/")
    return _json({"hash_type": "SHA1", "hash_value": digest, "download_url": f"{base}/v3/billdownload/file?token={token}"})


def _bill_date() -> str:
    value = request.args.get("bill_date", "")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _param_error("bill_date格式错误") from None
    if day >= datetime.fromtimestamp(pay_module._pay().now(), CHINA_TZ).date():
        raise ApiError(400, "NO_STATEMENT_EXIST", "账单尚未生成")  # bills exist from the next day
    if request.args.get("tar_type", "GZIP") != "GZIP":
        raise _param_error("仅支持GZIP")
    return value


@bp.before_request
def _authenticate_merchant():
    g.merchant_mchid = pay_module._verify_merchant_signature(pay_module._pay())


@bp.after_request
def _sign_response(response: Response) -> Response:
    if response.mimetype != "application/json":  # the bill file itself: the client checks its SHA-1 instead
        return response
    return pay_module._sign_response(response)


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    return pay_module._api_error(error)


@bp.get("/v3/bill/tradebill")
def apply_trade_bill():
    if request.args.get("bill_type", "ALL") != "ALL":
        raise _param_error("仅支持bill_type=ALL")
    bill_date = _bill_date()
    return _serve(trade_bill(pay_module._pay(), bill_date), bill_date)


@bp.get("/v3/bill/fundflowbill")
def apply_fundflow_bill():
    if request.args.get("account_type", "BASIC") != "BASIC":
        raise _param_error("仅支持account_type=BASIC")
    bill_date = _bill_date()
    return _serve(fundflow_bill(pay_module._pay(), bill_date), bill_date)


@bp.get("/v3/billdownload/file")
def download_file():
    book = _book(pay_module._pay())
    with book.lock:
        content = book.files.pop(request.args.get("token", ""), None)
    if content is None:
        raise ApiError(404, "RESOURCE_NOT_EXISTS", "下载地址无效或已过期")
    return Response(content, mimetype="application/octet-stream")


# --- test helpers -------------------------------------------------------------------------------
control_bp = Blueprint("wechat_pay_bills_control", __name__, url_prefix="/_emulator/bills")
PLANT_KINDS = ("payment", "refund", "transfer", "omit", "amount", "bad_hash")


@control_bp.post("/plant")
def plant():
    """{"bill_date", "kind", "reference" (out_trade_no / out_refund_no / out_bill_no), "amount_fen", ...}"""
    body = _json_body()
    if body.get("kind") not in PLANT_KINDS or not isinstance(body.get("bill_date"), str):
        return _json({"code": "PARAM_ERROR", "message": f"kind in {PLANT_KINDS}, bill_date required"}, 400)
    book = _book(pay_module._pay())
    with book.lock:
        book.plants.setdefault(body["bill_date"], []).append(body)
    return _json({"planted": body})


@control_bp.post("/reset")
def reset():
    book = _book(pay_module._pay())
    with book.lock:
        book.plants.clear()
        book.files.clear()
    return Response(status=204)
