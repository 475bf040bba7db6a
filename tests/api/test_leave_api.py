"""Leaving through the test client (both databases): guards, the one-year limit, refund notifications."""
import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.services import memberships
from app.services.audit import audit_ledger
from app.services.payments import reconcile
from app.services.unit_of_work import atomic
from tests.support import (DISCARD_URL, REFUND_NOTIFY_PATH, join, notification_body, paid_topup, point_notifications_at,
                           signed, wait_until)


@pytest.fixture(autouse=True)
def lost_notifications(app):
    point_notifications_at(app, DISCARD_URL)


def add_claim(membership, status, now):
    with atomic(db.session):
        db.session.execute(sa.text(
            "INSERT INTO claims (user_id, membership_id, plan_id, status, incident_type, incident_date, diagnosis_date,"
            " diagnosis, hospital, city, description, submitted_at, updated_at) "
            "SELECT user_id, id, plan_id, :status, 'illness', '2026-01-01', '2026-01-02', '肺癌', '某医院', '北京', '',"
            " :now, :now FROM memberships WHERE id = :id"), {"status": status, "id": membership["id"], "now": now})


def count(sql, **params):
    return db.session.execute(sa.text(sql), params).scalar_one()


def test_open_claim_blocks_leaving_and_a_closed_one_does_not(client, alice, clock, emulator):
    m = join(client, alice, clock)
    paid_topup(client, emulator, alice, m["id"], 300)
    add_claim(m, "investigating", clock.now().replace(tzinfo=None))
    refused = client.post(f"/api/v1/memberships/{m['id']}/leave", headers=alice)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "leave_refused"
    assert "互助申请" in refused.get_json()["error"]["message"]
    assert client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()["state"] == "observing"
    assert count("SELECT COUNT(*) FROM refunds") == 0 and count("SELECT COUNT(*) FROM ledger_transactions "
                                                                 "WHERE reason = 'leave'") == 0
    db.session.execute(sa.text("UPDATE claims SET status = 'rejected'"))
    db.session.commit()
    assert client.post(f"/api/v1/memberships/{m['id']}/leave", headers=alice).status_code == 200


def test_registered_guards_are_asked(client, alice, clock, monkeypatch):
    m = join(client, alice, clock)
    asked = []

    def inside_published_run(session, membership_id):
        asked.append(membership_id)
        return "本期分摊已公示，执行完毕后才能退出"

    monkeypatch.setattr(memberships, "LEAVE_GUARDS", memberships.LEAVE_GUARDS + [inside_published_run])
    refused = client.post(f"/api/v1/memberships/{m['id']}/leave", headers=alice)
    assert refused.status_code == 409 and refused.get_json()["error"]["message"] == "本期分摊已公示，执行完毕后才能退出"
    assert asked == [m["id"]]


def test_leave_without_balance_and_another_users_membership(client, alice, bob, clock):
    m = join(client, alice, clock)
    assert client.post(f"/api/v1/memberships/{m['id']}/leave", headers=bob).status_code == 404
    left = client.post(f"/api/v1/memberships/{m['id']}/leave", headers=alice).get_json()
    assert left["membership"]["state"] == "left" and left["refunds"] == [] and left["refunded_fen"] == 0
    # The person may join again later (left is not an active state).
    assert client.post(f"/api/v1/memberships/{m['id']}/topups", json={"amount_fen": 300}, headers=alice).status_code == 409


def test_leaving_while_a_run_counts_you_withholds_the_share(client, alice, clock, emulator):
    """domain.md: a payer counted when a run is prepared owes its share; the answer and the ledger say so."""
    from app.services import apportionment
    from tests.support import add_claim as add_case, add_members, make_user

    m = join(client, alice, clock)
    paid_topup(client, emulator, alice, m["id"], 1_000)
    now = clock.now()
    add_members(db.session, make_user(db.session, now), "adult_789", [1_000] * 9, now)
    claimant = add_members(db.session, make_user(db.session, now), "adult_789", [0], now, state="pending")[0]
    add_case(db.session, claimant, 3_000, now)
    run = apportionment.prepare(db.session, "adult_789", now)
    assert (run.payer_count, run.share_fen) == (10, 300)

    left = client.post(f"/api/v1/memberships/{m['id']}/leave", headers=alice).get_json()
    assert (left["withheld_fen"], left["withheld_run_id"], left["refunded_fen"]) == (300, run.id, 700)
    assert sum(r["amount_fen"] for r in left["refunds"]) == 700
    assert "3元" in left["message"] and "7元" in left["message"] and f"第{run.id}期" in left["message"]
    moves = client.get(f"/api/v1/memberships/{m['id']}/ledger", headers=alice).get_json()["items"]
    assert [(x["amount_fen"], x["reason"]) for x in moves] == [(-700, "leave"), (-300, "deduction"), (1_000, "topup")]
    assert "扣留" in moves[1]["description"] and moves[2]["description"] == "充值"

    apportionment.publish(db.session, run.id, now)
    run = apportionment.execute(db.session, run.id, now)
    body = client.get(f"/api/v1/plans/adult_789/runs/{run.id}").get_json()
    assert (body["payer_count"], body["paid_count"], body["withheld_count"]) == (10, 10, 1)
    assert body["cases"][0]["collected_aid_fen"] == 3_000 == body["cases"][0]["due_aid_fen"]
    assert body["shortfall_fen"] == 0 and body["payer_set_settled"] is True
    assert audit_ledger(db.session).ok


def leave_with_old_money(client, alice, clock, emulator):
    """300 paid over a year ago (goes back by merchant transfer), 200 recently (refunded), then leaving."""
    m = join(client, alice, clock)
    paid_topup(client, emulator, alice, m["id"], 300)
    clock.advance(days=366)
    paid_topup(client, emulator, alice, m["id"], 200)
    left = client.post(f"/api/v1/memberships/{m['id']}/leave", headers=alice)
    assert left.status_code == 200, left.get_json()
    return m, left.get_json()


def test_money_older_than_a_year_goes_back_by_merchant_transfer(client, alice, clock, emulator, services):
    """Issue 14, item 3: no more refund_not_possible; the part WeChat cannot refund is transferred."""
    from app.services import balance_returns

    m, left = leave_with_old_money(client, alice, clock, emulator)
    assert [r["amount_fen"] for r in left["refunds"]] == [200]
    returning = left["membership"]["balance_return"]
    assert returning["reason"] == "leave" and returning["status"] == "returning"
    assert (returning["amount_fen"], returning["by_refund_fen"], returning["by_transfer_fen"]) == (500, 200, 300)
    assert returning["transfer_package_info"]  # the payer confirms receipt in the mini-program
    bill = emulator.state.pay.confirm_transfer(returning["transfer_package_info"])
    assert (bill.amount, bill.out_bill_no) == (300, count("SELECT out_bill_no FROM return_transfers"))
    assert wait_until(lambda: all(r.status == "SUCCESS" for r in emulator.state.pay.refunds.values()))
    reconcile(db.session, services.pay, clock.now())
    balance_returns.process_open_transfers(db.session, services.pay, clock.now())
    balance_returns.process_open_transfers(db.session, services.pay, clock.now())  # a second sweep moves nothing
    done = client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()
    assert done["balance_fen"] == 0 and done["balance_return"]["status"] == "done"
    assert done["balance_return"]["returned_fen"] == 500
    assert count("SELECT COUNT(*) FROM ledger_transactions WHERE reason = 'return_transfer'") == 1
    assert audit_ledger(db.session).ok


def test_refund_notifications_are_checked_and_applied_once(client, alice, clock, emulator, services):
    m = join(client, alice, clock)
    paid_topup(client, emulator, alice, m["id"], 500)
    left = client.post(f"/api/v1/memberships/{m['id']}/leave", headers=alice).get_json()
    number = left["refunds"][0]["out_refund_no"]
    wait_until(lambda: emulator.state.pay.refunds[number].status == "SUCCESS",
               10, "the refund to succeed at the emulator")
    resource = emulator.state.pay.refunds[number].as_notification_resource(emulator.state.pay.keys.mchid)

    def deliver(res):
        headers, data = signed(emulator, notification_body(emulator, res, "REFUND.SUCCESS", "refund"))
        return client.post(REFUND_NOTIFY_PATH, data=data, headers=headers).status_code

    wrong_amount = {**resource, "amount": {**resource["amount"], "refund": 499}}
    assert deliver(wrong_amount) == 400
    assert deliver({**resource, "out_refund_no": "RNOSUCHREFUND"}) == 404
    assert deliver({**resource, "mchid": "1900000000"}) == 400
    assert count("SELECT COUNT(*) FROM refunds WHERE status = 'succeeded'") == 0
    assert [deliver(resource) for _ in range(3)] == [204, 204, 204]
    assert count("SELECT COUNT(*) FROM domain_events WHERE kind = 'refund.completed'") == 1
    assert count("SELECT balance_fen FROM accounts WHERE code = 'system:refunds_out'") == 500
    # Reconcile finds nothing left to do.
    report = reconcile(db.session, services.pay, clock.now() + dt.timedelta(hours=1))
    assert report.refunds_checked == 0 and report.refunds_completed == 0
    assert audit_ledger(db.session).ok


def test_reconcile_completes_refunds_whose_notification_is_lost(client, alice, clock, emulator, services):
    m = join(client, alice, clock)
    paid_topup(client, emulator, alice, m["id"], 300)
    paid_topup(client, emulator, alice, m["id"], 400)
    left = client.post(f"/api/v1/memberships/{m['id']}/leave", headers=alice).get_json()
    assert sorted(r["amount_fen"] for r in left["refunds"]) == [300, 400]
    wait_until(lambda: all(emulator.state.pay.refunds[r["out_refund_no"]].status == "SUCCESS"
                           for r in left["refunds"]), 10, "both refunds to succeed at the emulator")
    report = reconcile(db.session, services.pay, clock.now())
    assert (report.refunds_checked, report.refunds_completed) == (2, 2)
    items = client.get(f"/api/v1/memberships/{m['id']}/refunds", headers=alice).get_json()["items"]
    assert {i["status"] for i in items} == {"succeeded"}
    assert audit_ledger(db.session).ok


def test_balance_return_transfer_carries_the_call_until_confirmed(client, app, alice, clock, emulator):
    """Issues 14 and 17: what wx.requestMerchantTransfer needs (mchId, appId, package), while the transfer
    waits for the member (the claim payout's side: tests/api/test_claims_api.py::test_case_end_to_end)."""
    m, left = leave_with_old_money(client, alice, clock, emulator)
    returning = left["membership"]["balance_return"]
    package = returning["transfer_package_info"]
    call = {"mch_id": app.config["WECHAT_PAY_MCHID"], "app_id": app.config["WECHAT_APPID"], "package_info": package}
    assert all(call.values()) and returning["transfer"] == call
    assert client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()["balance_return"]["transfer"] == call
    listed = client.get("/api/v1/memberships", headers=alice).get_json()["items"]
    assert [x["balance_return"]["transfer"] for x in listed] == [call]

    # Confirming before the payer accepted changes nothing: the call is still there.
    early = client.post(f"/api/v1/memberships/{m['id']}/balance-return/confirmed", headers=alice)
    assert early.status_code == 200 and early.get_json()["transfer"] == call

    bill = emulator.state.pay.confirm_transfer(package)
    assert bill.amount == 300
    confirmed = client.post(f"/api/v1/memberships/{m['id']}/balance-return/confirmed", headers=alice).get_json()
    assert confirmed["transfer"] is None and confirmed["transfer_package_info"] is None
    assert confirmed["returned_fen"] >= 300
    after = client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()["balance_return"]
    assert after["transfer"] is None

