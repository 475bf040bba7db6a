"""Top-ups, reconcile and leaving end to end: the app on a real port, the emulator paying and
POSTing its signed, encrypted notifications to our notify URL over HTTP."""
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from app.extensions import db
from app.services import ledger
from app.services.audit import audit_ledger
from app.services.payments import reconcile
from app.services.unit_of_work import atomic
from tests.support import (NOTIFY_PATH, join_body, live_server, mint_code, notification_body, phone_pays, signed,
                           transaction_of, wait_until)
from wechat.emulator.state import Fault
from wechat.keys import load_keys
from wechat.pay import verify_payment_sign


class Api:
    """The mini-program's side, over real HTTP."""

    def __init__(self, base: str, emulator, openid: str):
        token = requests.post(base + "/api/v1/auth/login", json={"code": mint_code(emulator.url, openid)},
                              timeout=5).json()["token"]
        self.base, self.headers = base, {"Authorization": f"Bearer {token}"}

    def get(self, path):
        return requests.get(self.base + path, headers=self.headers, timeout=10)

    def post(self, path, body=None):
        return requests.post(self.base + path, json=body or {}, headers=self.headers, timeout=10)

    def join(self, clock) -> dict:
        response = self.post("/api/v1/memberships", join_body(clock))
        assert response.status_code == 201, response.text
        return response.json()

    def membership(self, membership_id):
        return self.get(f"/api/v1/memberships/{membership_id}").json()

    def topup(self, membership_id, amount_fen):
        response = self.post(f"/api/v1/memberships/{membership_id}/topups", {"amount_fen": amount_fen})
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def live(app):
    with live_server(app) as base:
        yield base


def count(sql, **params):
    return db.session.execute(sa.text(sql), params).scalar_one()


def deliveries_to(emulator, path):
    return [d for d in emulator.state.pay.deliveries if d["url"].endswith(path)]


def paid_topup(api, emulator, membership_id, amount_fen):
    topup = api.topup(membership_id, amount_fen)
    phone_pays(emulator, topup["payment"])
    wait_until(lambda: api.get(f"/api/v1/topups/{topup['order']['id']}").json()["status"] == "paid",
               10, "the payment notification to mark the order paid")
    return topup


def test_topup_end_to_end_over_http(app, live, emulator, clock, keys_dir, runner):
    api = Api(live, emulator, "o-e2e")
    m = api.join(clock)
    topup = api.topup(m["id"], 800)
    keys = load_keys(keys_dir)
    assert verify_payment_sign(topup["payment"], keys.merchant_public_key, keys.appid)
    before = len(emulator.state.pay.deliveries)
    phone_pays(emulator, topup["payment"], duplicates=3)  # WeChat may say it twice within a second
    wait_until(lambda: api.membership(m["id"])["balance_fen"] == 800, 10, "the balance of 800 fen")
    out_trade_no = topup["order"]["out_trade_no"]
    wait_until(lambda: len([d for d in emulator.state.pay.deliveries[before:] if d["status"]]) >= 4,
               10, "four answered deliveries")
    statuses = [d["status"] for d in emulator.state.pay.deliveries[before:] if d["url"].endswith(NOTIFY_PATH)]
    assert statuses and set(statuses) == {204}, statuses
    assert api.membership(m["id"])["state"] == "observing"
    assert count("SELECT COUNT(*) FROM ledger_transactions WHERE reason = 'topup'") == 1
    assert count("SELECT transaction_id FROM orders WHERE out_trade_no = :n", n=out_trade_no) == \
        emulator.state.pay.orders[out_trade_no].transaction_id
    result = runner.invoke(args=["ledger", "audit"])
    assert result.exit_code == 0 and "ledger audit passed" in result.output


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_same_notification_100_times_20_at_once_credits_once(app, live, emulator, clock):
    api = Api(live, emulator, "o-conc")
    m = api.join(clock)
    topup = api.topup(m["id"], 1200)
    phone_pays(emulator, topup["payment"], silent=True)
    headers, data = signed(emulator, notification_body(emulator, transaction_of(emulator, topup["order"]["out_trade_no"])))

    def deliver(_):
        return requests.post(live + NOTIFY_PATH, data=data, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(deliver, range(100)))
    assert statuses == [204] * 100
    assert api.membership(m["id"])["balance_fen"] == 1200
    assert count("SELECT COUNT(*) FROM ledger_transactions WHERE reason = 'topup'") == 1
    assert count("SELECT COUNT(*) FROM domain_events WHERE kind = 'topup.credited'") == 1
    assert count("SELECT COUNT(*) FROM domain_events WHERE kind = 'membership.observing'") == 1
    assert audit_ledger(db.session).ok


def test_missing_notification_is_reconciled_once_even_if_it_arrives_late(app, live, emulator, clock, services, runner):
    api = Api(live, emulator, "o-late")
    m = api.join(clock)
    paid = api.topup(m["id"], 500)
    phone_pays(emulator, paid["payment"], silent=True)  # paid; WeChat never tells us
    unpaid = api.topup(m["id"], 600)  # the user closed the payment sheet
    early = runner.invoke(args=["payments", "reconcile", "--at", (clock.now() + dt.timedelta(minutes=1)).isoformat()])
    assert "orders checked: 0" in early.output and api.membership(m["id"])["balance_fen"] == 0
    later = (clock.now() + dt.timedelta(minutes=6)).isoformat()
    result = runner.invoke(args=["payments", "reconcile", "--at", later])
    assert result.exit_code == 0 and "orders checked: 2, settled: 1, closed: 0, still open: 1" in result.output, result.output
    assert api.membership(m["id"])["balance_fen"] == 500
    # Now the notification arrives after all, from WeChat, over HTTP: a duplicate, answered 204.
    order = emulator.state.pay.orders[paid["order"]["out_trade_no"]]
    before = len(emulator.state.pay.deliveries)
    emulator.state.pay.notify(order.notify_url, "TRANSACTION.SUCCESS", "支付成功", "transaction", order.as_transaction())

    def late_deliveries():  # the emulator is shared: other tests' retries may be in the log too
        return [d for d in emulator.state.pay.deliveries[before:] if d["url"] == order.notify_url]

    wait_until(lambda: late_deliveries(), 10, "the late delivery")
    assert late_deliveries()[0]["status"] == 204
    again = runner.invoke(args=["payments", "reconcile", "--at", later])
    assert "settled: 0" in again.output
    assert api.membership(m["id"])["balance_fen"] == 500
    assert count("SELECT COUNT(*) FROM ledger_transactions WHERE reason = 'topup'") == 1
    # Past its expiry the unpaid order is closed at WeChat too, so it can no longer be paid.
    expired = (clock.now() + dt.timedelta(hours=3)).isoformat()
    assert "closed: 1" in runner.invoke(args=["payments", "reconcile", "--at", expired]).output
    assert emulator.state.pay.orders[unpaid["order"]["out_trade_no"]].trade_state == "CLOSED"
    assert api.get(f"/api/v1/topups/{unpaid['order']['id']}").json()["status"] == "closed"
    assert audit_ledger(db.session).ok


def test_scheduled_job_reconciles(app, live, emulator, clock):
    from app.jobs.payments import reconcile_payments

    api = Api(live, emulator, "o-job")
    m = api.join(clock)
    phone_pays(emulator, api.topup(m["id"], 300)["payment"], silent=True)
    clock.advance(minutes=10)
    report = reconcile_payments(app)
    assert report.orders_settled == 1 and api.membership(m["id"])["balance_fen"] == 300


def _deduct(membership_id, amount_fen, now):
    """Stand-in for an apportionment deduction: the balance drops below the sum paid."""
    with atomic(db.session):
        ledger.post_transaction(
            db.session, idempotency_key=f"test-deduction:{membership_id}", reason="deduction",
            legs=[ledger.Leg(ledger.account_id(db.session, f"member:{membership_id}"), -amount_fen),
                  ledger.Leg(ledger.account_id(db.session, "plan:adult_789:plan_pool"), amount_fen)], now=now)


def test_leave_refunds_three_orders_newest_first_and_retry_refunds_nothing(app, live, emulator, clock, runner):
    api = Api(live, emulator, "o-leaver")
    m = api.join(clock)
    orders = []
    for amount in (300, 500, 700):
        orders.append(paid_topup(api, emulator, m["id"], amount))
        clock.advance(days=1)
    _deduct(m["id"], 200, clock.now())
    assert api.membership(m["id"])["balance_fen"] == 1300
    response = api.post(f"/api/v1/memberships/{m['id']}/leave")
    assert response.status_code == 200, response.text
    left = response.json()
    assert left["membership"]["state"] == "left" and left["membership"]["ended_at"]
    assert left["refunded_fen"] == 1300 and left["membership"]["balance_fen"] == 0
    by_order = {r["order_id"]: r["amount_fen"] for r in left["refunds"]}
    assert by_order == {orders[2]["order"]["id"]: 700, orders[1]["order"]["id"]: 500, orders[0]["order"]["id"]: 100}
    assert len({r["out_refund_no"] for r in left["refunds"]}) == 3
    # WeChat settles each refund and notifies our refund URL over HTTP.
    wait_until(lambda: all(r["status"] == "succeeded"
                           for r in api.get(f"/api/v1/memberships/{m['id']}/refunds").json()["items"]),
               10, "every refund to succeed")
    wechat_refunds = {r.out_refund_no: r.amount for r in emulator.state.pay.refunds.values()
                      if r.out_refund_no in {x["out_refund_no"] for x in left["refunds"]}}
    assert sorted(wechat_refunds.values()) == [100, 500, 700]
    retry = api.post(f"/api/v1/memberships/{m['id']}/leave").json()
    assert retry["refunded_fen"] == 0 and len(retry["refunds"]) == 3
    assert sum(r.amount for r in emulator.state.pay.refunds.values()
               if r.order.out_trade_no in {o["order"]["out_trade_no"] for o in orders}) == 1300
    assert count("SELECT balance_fen FROM accounts WHERE code = 'system:refund_pending'") == 0
    assert count("SELECT balance_fen FROM accounts WHERE code = 'system:refunds_out'") == 1300
    assert count("SELECT COUNT(*) FROM domain_events WHERE kind = 'refund.completed'") == 3
    statement = api.get(f"/api/v1/memberships/{m['id']}/ledger").json()["items"]
    assert (statement[0]["reason"], statement[0]["amount_fen"]) == ("leave", -1300)
    assert runner.invoke(args=["ledger", "audit"]).exit_code == 0


def test_refund_call_failing_is_retried_with_the_same_number(app, live, emulator, clock, services):
    api = Api(live, emulator, "o-retry")
    m = api.join(clock)
    paid_topup(api, emulator, m["id"], 400)
    emulator.state.add_fault(Fault(path="v3/refund/domestic/refunds", times=1, status=500))
    left = api.post(f"/api/v1/memberships/{m['id']}/leave").json()
    assert left["membership"]["state"] == "left" and [r["status"] for r in left["refunds"]] == ["pending"]
    number = left["refunds"][0]["out_refund_no"]
    assert number not in emulator.state.pay.refunds
    report = reconcile(db.session, services.pay, clock.now())
    assert number in emulator.state.pay.refunds and report.refunds_checked == 1
    assert count("SELECT attempts FROM refunds WHERE out_refund_no = :n", n=number) == 2
    wait_until(lambda: api.get(f"/api/v1/memberships/{m['id']}/refunds").json()["items"][0]["status"]
               == "succeeded", 10, "the refund to succeed")
    assert audit_ledger(db.session).ok


def test_sponsor_paying_after_the_member_left_is_refunded(app, live, emulator, clock, services):
    member, sponsor = Api(live, emulator, "o-kid-payer"), Api(live, emulator, "o-sponsor")
    m = member.join(clock)
    paid_topup(member, emulator, m["id"], 300)
    late = sponsor.post("/api/v1/sponsor/topups", {"token": m["sponsor_token"], "amount_fen": 900}).json()
    assert member.post(f"/api/v1/memberships/{m['id']}/leave").status_code == 200
    assert sponsor.post("/api/v1/sponsor/topups", {"token": m["sponsor_token"], "amount_fen": 900}).status_code == 409
    phone_pays(emulator, late["payment"])  # the sponsor's payment sheet was still open
    wait_until(lambda: count("SELECT COUNT(*) FROM refunds") == 2, 10, "two refunds")
    reconcile(db.session, services.pay, clock.now())
    wait_until(lambda: count("SELECT COUNT(*) FROM refunds WHERE status = 'succeeded'") == 2,
               10, "two succeeded refunds")
    refunded = {r.order.out_trade_no: r.amount for r in emulator.state.pay.refunds.values()}
    assert refunded.get(late["order"]["out_trade_no"]) == 900
    assert member.membership(m["id"])["balance_fen"] == 0
    assert audit_ledger(db.session).ok
