"""The demo's WeChat Pay bills: what WeChat's trade and fund-flow bills of a past day would have said,
written from our own records of that day in WeChat's format (backquoted fields, yuan with two
decimals, a summary section), so `flask demo seed` can reconcile a day through the real path
(bills.reconcile_day). `extra_payments` adds lines only WeChat knows of: a mismatch to resolve."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PaymentOrder, PaymentRefund, PayoutTransfer

from .bills import day_bounds

TRADE_HEADER = ("交易时间", "商户号", "微信订单号", "商户订单号", "交易状态", "应结订单金额", "微信退款单号", "商户退款单号",
                "退款金额", "退款状态")
FUND_HEADER = ("记账时间", "微信支付业务单号", "业务名称", "收支类型", "收支金额（元）", "业务凭证号")


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _row(*fields) -> str:
    return ",".join("`" + str(f) for f in fields)


class PastBills:
    """A bill source (ports.BillSource) over the demo's own past."""

    def __init__(self, session: Session, mchid: str, extra_payments: tuple[tuple[str, int], ...] = ()):
        self.session, self.mchid, self.extra_payments = session, mchid, extra_payments

    def download_bill(self, kind: str, bill_date: str, destination: BinaryIO) -> str:
        start, end = day_bounds(dt.date.fromisoformat(bill_date))
        text = self._trade(start, end) if kind == "trade" else self._fundflow(start, end)
        content = text.encode("utf-8")
        destination.write(content)
        return hashlib.sha1(content).hexdigest()

    def _trade(self, start: dt.datetime, end: dt.datetime) -> str:
        orders = self.session.execute(select(PaymentOrder.out_trade_no, PaymentOrder.amount_fen).where(
            PaymentOrder.status == "paid", PaymentOrder.paid_at >= start, PaymentOrder.paid_at < end)).all()
        refunds = self.session.execute(select(PaymentRefund.out_refund_no, PaymentRefund.amount_fen).where(
            PaymentRefund.status == "succeeded", PaymentRefund.completed_at >= start,
            PaymentRefund.completed_at < end)).all()
        stamp = start.isoformat()
        payments = list(orders) + list(self.extra_payments)
        lines = [",".join(TRADE_HEADER)]
        lines += [_row(stamp, self.mchid, "DEMO" + ref, ref, "SUCCESS", _yuan(fen), "0", "0", "0.00", "")
                  for ref, fen in payments]
        lines += [_row(stamp, self.mchid, "DEMO", "", "REFUND", "0.00", "DEMO" + ref, ref, _yuan(fen), "SUCCESS")
                  for ref, fen in refunds]
        lines += ["总交易单数,应结订单总金额,退款总金额",
                  _row(len(payments) + len(refunds), _yuan(sum(f for _, f in payments)), _yuan(sum(f for _, f in refunds)))]
        return "\r\n".join(lines) + "\r\n"

    def _fundflow(self, start: dt.datetime, end: dt.datetime) -> str:
        transfers = self.session.execute(select(PayoutTransfer.out_bill_no, PayoutTransfer.amount_fen).where(
            PayoutTransfer.status == "succeeded", PayoutTransfer.paid_at >= start, PayoutTransfer.paid_at < end)).all()
        lines = [",".join(FUND_HEADER)]
        lines += [_row(start.isoformat(), "DEMO" + ref, "商家转账", "支出", _yuan(fen), ref) for ref, fen in transfers]
        lines += ["资金流水总笔数,支出金额", _row(len(transfers), _yuan(sum(f for _, f in transfers)))]
        return "\r\n".join(lines) + "\r\n"
