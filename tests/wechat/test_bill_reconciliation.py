"""Daily reconciliation against the emulator's real-format bills over HTTP (wechatpayv3's bill
calls): a clean day, each planted gap named, a wrong hash refused, re-running a day, the parser."""
import datetime as dt
import gzip
import io
import itertools

import pytest
import requests
import sqlalchemy as sa

from app.models import PaymentOrder, PaymentRefund, PayoutTransfer, User
from app.services import bills, payments
from app.services.clock import CHINA_TZ
from app.services.unit_of_work import atomic
from tests.support import add_claim, add_members, join, login, make_operator, order_topup, phone_pays
from wechat.emulator.bills import fundflow_bill, trade_bill


_days_ahead = itertools.count(400, 3)


@pytest.fixture
def day(emulator, clock):
    """Both clocks at noon (China time) of a day of its own, far from the days other tests pay on
    (the emulator is shared by the session, and its bills hold every payment of a day); the test acts
    then; the bill of that day is asked for the next morning. Bills and plants reset afterwards."""
    now = emulator.state.now()
    local = dt.datetime.fromtimestamp(now, CHINA_TZ) + dt.timedelta(days=next(_days_ahead))
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    emulator.state.advance_clock(noon.timestamp() - now)
    clock.at = noon.astimezone(dt.timezone.utc)
    yield noon.date()
    requests.post(emulator.url + "_emulator/bills/reset", timeout=5)


def _next_morning(emulator, clock) -> dt.datetime:
    emulator.state.advance_clock(22 * 3600)  # 10:00 the next day
    return clock.advance(hours=22)


def _plant(emulator, day, **body):
    response = requests.post(emulator.url + "_emulator/bills/plant", json={"bill_date": day.isoformat(), **body},
                             timeout=5)
    assert response.status_code == 200, response.text


def _paid_topups(client, emulator, clock, services, session, amounts, *, notified=True, openid="o-bill", age=30):
    """Top-ups paid at WeChat; settled on our side as a notification would (unless notified=False)."""
    headers = login(client, emulator.url, openid)
    membership = join(client, headers, clock, age=age)
    out = []
    for amount in amounts:
        ordered = order_topup(client, headers, membership["id"], amount)
        phone_pays(emulator, ordered["payment"], silent=True)
        out_trade_no = ordered["order"]["out_trade_no"]
        if notified:
            session.close()  # the API's requests wrote the order: read it afresh
            transaction = emulator.state.pay.orders[out_trade_no].as_transaction()
            assert payments.settle_transaction(session, services.pay, transaction, clock.now()).credited
        out.append(out_trade_no)
    return membership["id"], out


def _mismatches(result):
    return sorted((m["category"], m["kind"], m["reference"]) for m in result["mismatches"])


def test_a_clean_day_matches_every_line(client, emulator, clock, services, session, day):
    _, orders = _paid_topups(client, emulator, clock, services, session, [300, 500, 1_000])
    now = _next_morning(emulator, clock)
    rec = bills.reconcile_day(session, services.pay, day, now)
    assert (rec.status, rec.lines, rec.matched, rec.mismatched, rec.settled) == ("done", 3, 3, 0, 0), rec.error
    assert len(rec.trade_sha1) == 40 and len(rec.fundflow_sha1) == 40
    assert bills.get_day(session, day)["mismatches"] == []
    assert session.execute(sa.text("SELECT COUNT(*) FROM bill_lines")).scalar_one() == 0  # staging emptied


def test_each_planted_gap_is_named(client, emulator, clock, services, session, day):
    membership_id, orders = _paid_topups(client, emulator, clock, services, session, [300, 500, 700, 900])
    _, [missed] = _paid_topups(client, emulator, clock, services, session, [400], notified=False, openid="o-bill-2",
                                  age=41)
    _plant(emulator, day, kind="payment", reference="WXONLY0001", amount_fen=1_234)  # WeChat-only payment
    _plant(emulator, day, kind="amount", reference=orders[0], amount_fen=301)  # amount mismatch
    _plant(emulator, day, kind="omit", reference=orders[1])  # ours only
    _plant(emulator, day, kind="refund", reference="RF-WX-ONLY", out_trade_no=orders[2], amount_fen=100)
    # A refund we completed that WeChat's bill does not show.
    now = clock.now()
    with atomic(session):
        order_id = session.execute(sa.select(PaymentOrder.id).where(PaymentOrder.out_trade_no == orders[3])).scalar_one()
        session.add(PaymentRefund(out_refund_no="RF-OURS-ONLY", order_id=order_id, membership_id=membership_id,
                                  amount_fen=200, status="succeeded", attempts=1, created_at=now, updated_at=now,
                                  completed_at=now))
    # An aid transfer whose amount WeChat's fund flow shows differently.
    uid = session.execute(sa.select(User.id).where(User.openid == "o-bill")).scalar_one()
    [claimant] = add_members(session, uid, "adult_789", [0], now)
    claim_id = add_claim(session, claimant, 50_000, now - dt.timedelta(days=1))
    operator = make_operator("fin-bill", "finance", now=now)
    with atomic(session):
        session.add(PayoutTransfer(claim_id=claim_id, out_bill_no="AID0000000001", amount_fen=50_000,
                                   status="succeeded", attempts=1, approved_by_operator_id=operator.id,
                                   created_at=now, updated_at=now, paid_at=now))
    _plant(emulator, day, kind="transfer", reference="AID0000000001", amount_fen=49_000)

    later = _next_morning(emulator, clock)
    rec = bills.reconcile_day(session, services.pay, day, later)
    assert rec.status == "done", rec.error
    result = bills.get_day(session, day)
    assert _mismatches(result) == sorted([
        ("wechat_only", "payment", "WXONLY0001"),
        ("amount_differs", "payment", orders[0]),
        ("ours_only", "payment", orders[1]),
        ("settled_missed", "payment", missed),
        ("wechat_only", "refund", "RF-WX-ONLY"),
        ("ours_only", "refund", "RF-OURS-ONLY"),
        ("amount_differs", "transfer", "AID0000000001"),
    ])
    amounts = {(m["category"], m["reference"]): (m["wechat_amount_fen"], m["our_amount_fen"]) for m in result["mismatches"]}
    assert amounts[("amount_differs", orders[0])] == (301, 300)
    assert amounts[("amount_differs", "AID0000000001")] == (49_000, 50_000)
    # The missed top-up was credited through the payments' path, once.
    assert session.execute(sa.select(PaymentOrder.status).where(PaymentOrder.out_trade_no == missed)).scalar_one() == "paid"
    # Lines: 4 ours + missed + planted payment (omitted one gone) + planted refund + transfer = 7 lines.
    assert (rec.lines, rec.settled, rec.mismatched) == (7, 1, 6)
    assert rec.matched == rec.lines - 4  # wechat_only ×2, amount ×2 are lines; ours_only are not
    again = bills.reconcile_day(session, services.pay, day, later)  # re-runnable: the same answer
    assert _mismatches(bills.get_day(session, day)) == sorted(
        m for m in _mismatches(result) if m[0] != "settled_missed")  # nothing left to settle the second time
    assert again.settled == 0


def test_a_bill_whose_hash_differs_is_refused(client, emulator, clock, services, session, day):
    _paid_topups(client, emulator, clock, services, session, [300])
    _plant(emulator, day, kind="bad_hash")
    rec = bills.reconcile_day(session, services.pay, day, _next_morning(emulator, clock))
    assert rec.status == "refused" and "SHA-1" in rec.error and rec.lines == 0
    assert session.execute(sa.text("SELECT COUNT(*) FROM bill_lines")).scalar_one() == 0


def test_today_is_not_reconciled_and_the_scheduler_waits_for_ten(client, emulator, clock, services, session, day):
    from app.services.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        bills.reconcile_day(session, services.pay, day, clock.now())
    nine = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(9, 59), CHINA_TZ)
    assert bills.reconcile_due(session, services.pay, nine) is None
    _next_morning(emulator, clock)
    ten = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(10, 0), CHINA_TZ)
    assert bills.reconcile_due(session, services.pay, ten).status == "done"
    assert bills.reconcile_due(session, services.pay, ten) is None  # done once


def test_operators_see_the_days(app, client, emulator, clock, services, session, day, runner):
    from tests.support import operator_login

    _paid_topups(client, emulator, clock, services, session, [300])
    later = _next_morning(emulator, clock)
    result = runner.invoke(args=["bills", "reconcile", "--date", day.isoformat(), "--at", later.isoformat()])
    assert result.exit_code == 0 and "done, lines 1, matched 1" in result.output, result.output
    make_operator("aud-bill", "auditor", now=later)
    headers = operator_login(client, "aud-bill")
    [listed] = client.get("/api/v1/admin/reconciliations", headers=headers).get_json()["items"]
    assert listed["bill_date"] == day.isoformat() and listed["matched"] == 1
    one = client.get(f"/api/v1/admin/reconciliations/{day.isoformat()}", headers=headers).get_json()
    assert one["mismatches"] == []
    assert client.get("/api/v1/admin/reconciliations/2000-01-01", headers=headers).status_code == 404
    assert client.get("/api/v1/admin/reconciliations/nope", headers=headers).status_code == 400
    assert client.get("/api/v1/admin/reconciliations").status_code == 401


# --- the parser, on the emulator's own format -------------------------------------------------------
class _Pay:
    """Just enough of the emulator's PayState for its bill builders."""

    def __init__(self, emulator):
        self.config, self.keys, self._lock = emulator.state.pay.config, emulator.state.pay.keys, emulator.state.pay._lock
        self.orders, self.refunds, self.transfers = {}, {}, {}

    def now(self):
        return 0.0


def _parse(text, kind):
    stream = io.StringIO(text, newline="")
    first = bills.TRADE_SUMMARY_FIRST if kind == "trade" else bills.FUND_SUMMARY_FIRST
    lines = bills.trade_lines if kind == "trade" else bills.fundflow_lines
    return list(lines(bills.ParsedBill(stream, first)))


def test_parser_reads_backquoted_fields_into_fen_and_checks_the_summary(emulator):
    text = ("\ufeff交易时间,商户订单号,微信订单号,交易状态,应结订单金额,微信退款单号,商户退款单号,退款金额,退款状态\r\n"
            "`2026-03-01 10:00:00,`T1,`4200001,`SUCCESS,`1234.56,`0,`0,`0.00,`\r\n"
            "`2026-03-01 11:00:00,`T1,`4200001,`REFUND,`0.00,`5030001,`R1,`0.07,`SUCCESS\r\n"
            "总交易单数,应结订单总金额,退款总金额\r\n`2,`1234.56,`0.07\r\n")
    payment, refund = _parse(text, "trade")
    assert (payment.kind, payment.reference, payment.wechat_id, payment.amount_fen) == ("payment", "T1", "4200001", 123_456)
    assert (refund.kind, refund.reference, refund.amount_fen, refund.state) == ("refund", "R1", 7, "SUCCESS")
    with pytest.raises(bills.BillFormatError, match="总交易单数"):
        _parse(text.replace("`2,`1234.56", "`3,`1234.56"), "trade")
    with pytest.raises(bills.BillFormatError, match="no summary"):
        _parse(text.split("总交易单数")[0], "trade")
    for bad in ("12.3", "1e3", "12.345", "", "１.00"):
        with pytest.raises(bills.BillFormatError):
            bills.yuan_to_fen(bad)
    assert bills.yuan_to_fen("-0.05") == -5 and bills.yuan_to_fen("0.00") == 0


def test_the_emulator_format_round_trips(emulator):
    from wechat.emulator import bills as emulator_bills

    pay = _Pay(emulator)
    book = emulator_bills._book(emulator.state.pay)
    with book.lock:
        book.plants["2026-03-01"] = [
            {"kind": "payment", "reference": "P1", "amount_fen": 1},
            {"kind": "payment", "reference": "P2", "amount_fen": 99_999_99},
            {"kind": "refund", "reference": "R1", "amount_fen": 5},
            {"kind": "transfer", "reference": "B1", "amount_fen": 30_000_000},
        ]
    pay.bill_book = book
    try:
        trade = trade_bill(pay, "2026-03-01")
        assert all(field.startswith("`") for line in trade.splitlines()[1:-2] for field in line.split(","))
        assert [(l.kind, l.reference, l.amount_fen) for l in _parse(trade, "trade")] == [
            ("payment", "P1", 1), ("payment", "P2", 99_999_99), ("refund", "R1", 5)]
        flows = _parse(fundflow_bill(pay, "2026-03-01"), "fundflow")
        assert [(l.kind, l.reference, l.amount_fen) for l in flows] == [("transfer", "B1", 30_000_000)]
        assert gzip.decompress(gzip.compress(trade.encode())) == trade.encode()
    finally:
        with book.lock:
            book.plants.clear()
