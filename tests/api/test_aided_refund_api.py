"""An aided membership's remaining balance goes back on its own (both databases): paid through the
emulator, aided when the payout succeeds, refunded through the emulator to the original payments."""
import io

import pytest
import requests
import sqlalchemy as sa

from app.extensions import db
from app.services import apportionment
from app.services.audit import audit_ledger
from app.services.payments import reconcile
from tests.support import (DISCARD_URL, NOTIFY_PATH, add_members, claim_body, join, make_operator, make_protected,
                           make_user, notification_body, operator_login, order_topup, phone_pays,
                           point_notifications_at, signed, transaction_of, wait_until)


@pytest.fixture(autouse=True)
def setup(app, tmp_path):
    point_notifications_at(app, DISCARD_URL)  # refunds complete by query (reconcile), not notification
    app.config["CLAIM_DOCUMENTS_DIR"] = str(tmp_path / "claim-documents")


def paid(client, emulator, headers, membership_id, amount_fen):
    topup = order_topup(client, headers, membership_id, amount_fen)
    phone_pays(emulator, topup["payment"], silent=True)
    notification = signed(emulator, notification_body(emulator, transaction_of(emulator,
                                                                               topup["order"]["out_trade_no"])))
    headers_, data = notification
    assert client.post(NOTIFY_PATH, data=data, headers=headers_).status_code == 204


def count(sql, **params):
    return db.session.execute(sa.text(sql), params).scalar_one()


def aid_a_case(client, app, clock, emulator, headers, membership_id) -> tuple[int, int]:
    """The membership's case through review, publicity, a real run and the payout the claimant confirms."""
    now = clock.now()
    make_operator("rev", "reviewer", now=now)
    organisation_id = make_operator("inv", "investigator", organisation="平安公估", now=now).organisation_id
    make_operator("fin", "finance", now=now)
    rev, inv, fin = (operator_login(client, u) for u in ("rev", "inv", "fin"))
    claim_id = client.post("/api/v1/claims", json=claim_body(membership_id, clock), headers=headers).get_json()["id"]
    document = client.post(f"/api/v1/claims/{claim_id}/documents", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"%PDF-1.4\n% synthetic\n"), "diagnosis.pdf")})
    assert document.status_code == 201, document.get_json()
    assert client.post(f"/api/v1/admin/claims/{claim_id}/review", headers=rev).status_code == 200
    assigned = client.post(f"/api/v1/admin/claims/{claim_id}/assign", json={"organisation_id": organisation_id},
                           headers=rev)
    assert assigned.status_code == 200, assigned.get_json()
    report = {"findings": "病历与诊断一致", "summary": "确诊急性白血病，符合互助条件", "aid_item_code": "major_illness",
              "approved_aid_fen": 900}
    assert client.post(f"/api/v1/admin/claims/{claim_id}/report", json=report, headers=inv).status_code == 200
    clock.advance(days=5)
    runner = app.test_cli_runner()
    assert "ready: 1" in runner.invoke(args=["claims", "advance"]).output
    now = clock.now()
    add_members(db.session, make_user(db.session, now), "adult_789", [500, 500], now)
    run = apportionment.prepare(db.session, "adult_789", now)
    apportionment.publish(db.session, run.id, now)
    assert apportionment.execute(db.session, run.id, now).status == "executed"
    assert client.post(f"/api/v1/admin/claims/{claim_id}/payout", headers=fin).status_code == 200
    package = client.get(f"/api/v1/claims/{claim_id}", headers=headers).get_json()["payout"]["package_info"]
    assert requests.post(emulator.url + "_emulator/transfer/confirm", json={"package_info": package},
                         timeout=5).status_code == 200
    return claim_id, run.share_fen


def test_aided_balance_goes_back_to_the_original_payments(client, app, alice, clock, emulator, services, runner):
    m = join(client, alice, clock)
    paid(client, emulator, alice, m["id"], 500)
    paid(client, emulator, alice, m["id"], 300)  # the newest payment: refunded first
    make_protected(clock)
    claim_id, share = aid_a_case(client, app, clock, emulator, alice, m["id"])
    balance = 800 - share

    done = client.post(f"/api/v1/claims/{claim_id}/payout/confirmed", headers=alice)
    assert done.status_code == 200 and done.get_json()["status"] == "paid", done.get_json()
    # The moment it is aided, the balance is on its way back: newest payment first, one refund each.
    mine = client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()
    assert (mine["state"], mine["balance_fen"]) == ("aided", 0)
    refunds = client.get(f"/api/v1/memberships/{m['id']}/refunds", headers=alice).get_json()["items"]
    assert share == 300 and [r["amount_fen"] for r in refunds] == [300, balance - 300]
    ledger = client.get(f"/api/v1/memberships/{m['id']}/ledger", headers=alice).get_json()["items"]
    assert ledger[0]["reason"] == "aided_refund" and ledger[0]["amount_fen"] == -balance

    # WeChat (the emulator) was asked as the claimant confirmed; the sweep finds nothing more to move.
    numbers = [r["out_refund_no"] for r in refunds]
    assert all(n in emulator.state.pay.refunds for n in numbers)
    swept = runner.invoke(args=["claims", "advance"])
    assert "aided balances refunded: 0 fen" in swept.output, swept.output
    wait_until(lambda: all(emulator.state.pay.refunds[n].status == "SUCCESS" for n in numbers),
               10, "the refunds to succeed at the emulator")
    report = reconcile(db.session, services.pay, clock.now())
    assert report.refunds_completed == 2
    assert {r["status"] for r in client.get(f"/api/v1/memberships/{m['id']}/refunds",
                                           headers=alice).get_json()["items"]} == {"succeeded"}
    runner.invoke(args=["claims", "advance"])
    assert count("SELECT COUNT(*) FROM refunds") == 2
    assert count("SELECT COUNT(*) FROM ledger_transactions WHERE reason = 'aided_refund'") == 1
    assert count("SELECT balance_fen FROM accounts WHERE code = 'system:refunds_out'") == balance
    assert client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()["state"] == "aided"
    assert audit_ledger(db.session).ok


def test_a_leave_guard_defers_the_refund_to_the_sweep(client, app, alice, clock, emulator, monkeypatch, runner):
    from app.services import memberships

    m = join(client, alice, clock)
    paid(client, emulator, alice, m["id"], 500)
    make_protected(clock)
    claim_id, share = aid_a_case(client, app, clock, emulator, alice, m["id"])
    # e.g. a run still counting the membership as a payer: the balance waits for it.
    monkeypatch.setattr(memberships, "LEAVE_GUARDS", [lambda session, membership_id: "本期分摊尚未执行"])
    assert client.post(f"/api/v1/claims/{claim_id}/payout/confirmed", headers=alice).get_json()["status"] == "paid"
    mine = client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()
    assert (mine["state"], mine["balance_fen"]) == ("aided", 500 - share)
    assert "aided balances refunded: 0 fen" in runner.invoke(args=["claims", "advance"]).output
    monkeypatch.setattr(memberships, "LEAVE_GUARDS", [])
    swept = runner.invoke(args=["claims", "advance"])
    assert f"aided balances refunded: {500 - share} fen" in swept.output, swept.output
    [refund] = client.get(f"/api/v1/memberships/{m['id']}/refunds", headers=alice).get_json()["items"]
    assert refund["amount_fen"] == 500 - share
    assert refund["out_refund_no"] in emulator.state.pay.refunds  # asked of WeChat by the sweep
    assert client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()["balance_fen"] == 0
    assert audit_ledger(db.session).ok


def test_an_aided_balance_paid_over_a_year_ago_goes_back_by_merchant_transfer(client, app, alice, clock, emulator,
                                                                              services, runner):
    from app.services import balance_returns

    m = join(client, alice, clock)
    paid(client, emulator, alice, m["id"], 500)
    clock.advance(days=366)  # WeChat no longer refunds this payment
    paid(client, emulator, alice, m["id"], 300)
    make_protected(clock)
    claim_id, share = aid_a_case(client, app, clock, emulator, alice, m["id"])
    balance = 800 - share
    assert client.post(f"/api/v1/claims/{claim_id}/payout/confirmed", headers=alice).get_json()["status"] == "paid"

    mine = client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()
    assert (mine["state"], mine["balance_fen"]) == ("aided", 0)
    returning = mine["balance_return"]
    assert returning["reason"] == "aided" and returning["status"] == "returning"
    assert (returning["amount_fen"], returning["by_refund_fen"], returning["by_transfer_fen"]) == (balance, 300,
                                                                                                  balance - 300)
    [refund] = client.get(f"/api/v1/memberships/{m['id']}/refunds", headers=alice).get_json()["items"]
    assert refund["amount_fen"] == 300 and refund["out_refund_no"] in emulator.state.pay.refunds
    assert returning["transfer_package_info"]  # asked of WeChat as the claimant confirmed the aid
    bill = emulator.state.pay.confirm_transfer(returning["transfer_package_info"])
    assert bill.amount == balance - 300
    assert wait_until(lambda: emulator.state.pay.refunds[refund["out_refund_no"]].status == "SUCCESS")
    reconcile(db.session, services.pay, clock.now())
    balance_returns.process_open_transfers(db.session, services.pay, clock.now())
    assert "aided balances refunded: 0 fen" in runner.invoke(args=["claims", "advance"]).output
    done = client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()["balance_return"]
    assert (done["status"], done["returned_fen"]) == ("done", balance)
    assert count("SELECT COUNT(*) FROM ledger_transactions WHERE reason = 'aided_refund'") == 1
    assert count("SELECT balance_fen FROM accounts WHERE code = 'system:refund_pending'") == 0
    assert audit_ledger(db.session).ok
