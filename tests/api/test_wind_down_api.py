"""A plan winding down, end to end over HTTP with the WeChat emulator (SQLite and PostgreSQL): two
operators start it, joins and claims for incidents after the closing date are refused, the case in the
pipeline is collected by a final run and paid, then every balance goes back — by refund within a year,
by merchant transfer for older money — the plan's surplus shared pro rata, the closing report published."""
import datetime as dt
import io

import pytest
import requests
import sqlalchemy as sa

from app.extensions import db
from app.services import apportionment
from app.services.clock import china_date
from tests.support import (DISCARD_URL, claim_body, join, join_body, login_as, make_staff, operator_login,
                           paid_topup as paid, point_notifications_at, seed_surplus, wait_until)


@pytest.fixture(autouse=True)
def lost_notifications(app):
    point_notifications_at(app, DISCARD_URL)  # refunds and transfers are settled by our queries


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    app.config["CLAIM_DOCUMENTS_DIR"] = str(tmp_path / "claim-documents")


def scalar(sql, **params):
    return db.session.execute(sa.text(sql), params).scalar_one()


def error_code(response):
    return response.get_json()["error"]["code"]


def test_a_plan_winds_down_and_every_fen_goes_back(client, app, clock, emulator):
    make_staff(clock.now())
    runner = app.test_cli_runner()
    alice, bob, carol = (login_as(client, emulator, f"o-wd-{n}") for n in ("alice", "bob", "carol"))
    ms = {}
    for age, (name, headers, fen) in enumerate((("alice", alice, 1_000), ("bob", bob, 1_000), ("carol", carol, 500))):
        ms[name] = join(client, headers, clock, name="张三", age=30 + age)["id"]
        paid(client, emulator, headers, ms[name], fen)
    clock.advance(days=200)
    runner.invoke(args=["members", "advance", "--at", clock.now().isoformat()])
    clock.advance(days=170)  # the first payments are now more than a year old: WeChat cannot refund them
    paid(client, emulator, bob, ms["bob"], 500)
    rev, fin = operator_login(client, "rev"), operator_login(client, "fin")

    # Alice's case enters the pipeline before the plan starts closing.
    claim = client.post("/api/v1/claims", json=claim_body(ms["alice"], clock), headers=alice)
    assert claim.status_code == 201, claim.get_json()
    claim_id = claim.get_json()["id"]
    document = client.post(f"/api/v1/claims/{claim_id}/documents", headers=alice, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64), "x.png")})
    assert document.status_code == 201
    org = scalar("SELECT id FROM investigation_organisations WHERE name = '平安公估'")
    assert client.post(f"/api/v1/admin/claims/{claim_id}/review", headers=rev).status_code == 200
    assert client.post(f"/api/v1/admin/claims/{claim_id}/assign", json={"organisation_id": org},
                       headers=rev).status_code == 200
    report = {"findings": "病历与诊断一致", "summary": "经调查，确诊急性白血病，符合互助条件",
              "aid_item_code": "major_illness", "approved_aid_fen": 1_000_000}
    assert client.post(f"/api/v1/admin/claims/{claim_id}/report", json=report,
                       headers=operator_login(client, "inv")).status_code == 200

    # Two operators: one proposes, finance (another person) confirms.
    closing = china_date(clock.now()) + dt.timedelta(days=7)
    assert client.get("/api/v1/plans/adult_789/wind-down").status_code == 404
    proposed = client.post("/api/v1/admin/plans/adult_789/wind-down", json={"closing_date": closing.isoformat()},
                           headers=rev)
    assert proposed.status_code == 201 and proposed.get_json()["status"] == "proposed", proposed.get_json()
    assert error_code(client.post("/api/v1/admin/plans/adult_789/wind-down/confirm", headers=rev)) == \
        "operator_role_forbidden"
    assert client.post("/api/v1/admin/plans/adult_789/wind-down", json={"closing_date": closing.isoformat()},
                       headers=fin).status_code == 409
    confirmed = client.post("/api/v1/admin/plans/adult_789/wind-down/confirm", headers=fin)
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "announced"

    public = client.get("/api/v1/plans/adult_789/wind-down").get_json()
    assert (public["status"], public["closing_date"], public["joins_open"]) == ("announced", closing.isoformat(), False)
    dave = login_as(client, emulator, "o-wd-dave")
    joining = client.post("/api/v1/memberships", headers=dave, json=join_body(clock, name="赵六", age=40))
    assert joining.status_code == 409 and error_code(joining) == "plan_closing"

    clock.advance(days=5)
    assert "ready: 1" in runner.invoke(args=["claims", "advance", "--at", clock.now().isoformat()]).output
    clock.advance(days=5)  # past the closing date
    late = client.post("/api/v1/claims", json=claim_body(ms["bob"], clock, incident_days_ago=1), headers=bob)
    assert late.status_code == 409 and error_code(late) == "plan_closing"
    assert "adult_789: final_run" in runner.invoke(args=["wind-down", "advance", "--at", clock.now().isoformat()]).output

    # The surplus is shared by the balances held at the closing date: before the final run's deductions.
    at_closing = {name: client.get(f"/api/v1/memberships/{m}", headers=h).get_json()["balance_fen"]
                  for (name, m), h in zip(ms.items(), (alice, bob, carol))}

    # The final run collects Alice's aid; finance pays it; she confirms receipt.
    now = clock.now()
    run = apportionment.prepare(db.session, "adult_789", now)
    apportionment.publish(db.session, run.id, now)
    run = apportionment.execute(db.session, run.id, now)
    assert run.status == "executed" and run.debited_count == 3
    assert client.post(f"/api/v1/admin/claims/{claim_id}/payout", headers=fin).status_code == 200
    package = client.get(f"/api/v1/claims/{claim_id}", headers=alice).get_json()["payout"]["package_info"]
    assert requests.post(emulator.url + "_emulator/transfer/confirm", json={"package_info": package},
                         timeout=5).status_code == 200
    assert client.post(f"/api/v1/claims/{claim_id}/payout/confirmed", headers=alice).get_json()["status"] == "paid"
    # Aided, Alice's balance goes back at once: paid over a year ago, so by merchant transfer, which she confirms.
    aided = client.get(f"/api/v1/memberships/{ms['alice']}", headers=alice).get_json()["balance_return"]
    assert aided["reason"] == "aided" and aided["by_refund_fen"] == 0 and aided["by_transfer_fen"] > 0
    assert requests.post(emulator.url + "_emulator/transfer/confirm", json={"package_info": aided["transfer_package_info"]},
                         timeout=5).status_code == 200
    assert client.post(f"/api/v1/memberships/{ms['alice']}/balance-return/confirmed",
                       headers=alice).get_json()["status"] == "done"
    seed_surplus(db.session, "adult_789", 101, now)  # earlier runs' over-collection, shared pro rata
    surplus = scalar("SELECT balance_fen FROM accounts WHERE code = 'plan:adult_789:plan_surplus'")
    assert surplus >= 101
    held = {name: client.get(f"/api/v1/memberships/{m}", headers=h).get_json()["balance_fen"]
            for (name, m), h in zip(ms.items(), (alice, bob, carol))}

    # Returns: everything in the pipeline is done, so the next advance starts them (inline: no Redis here).
    assert "adult_789: refunding" in runner.invoke(args=["wind-down", "advance", "--at", now.isoformat()]).output
    views = {name: client.get(f"/api/v1/memberships/{m}", headers=h).get_json()
             for (name, m), h in zip(ms.items(), (alice, bob, carol))}
    assert all(v["balance_fen"] == 0 for v in views.values())
    # Alice's balance went back when she was aided (after the closing date): like a leaver's, her
    # membership ended before the returns, so she takes no surplus share (docs/wind-down.md).
    assert views["alice"]["balance_return"]["reason"] == "aided"
    returns = {name: v["balance_return"] for name, v in views.items() if name != "alice"}
    assert {r["reason"] for r in returns.values()} == {"wind_down"}
    assert sum(r["surplus_fen"] for r in returns.values()) == surplus
    total_at_closing = sum(at_closing[name] for name in returns)
    assert surplus != 101 or {n: r["surplus_fen"] for n, r in returns.items()} == {"bob": 76, "carol": 25}
    assert len(set(at_closing.values())) > 1 and at_closing != held  # the rule is visible in the numbers
    assert all(abs(r["surplus_fen"] - surplus * at_closing[name] / total_at_closing) < 1
               for name, r in returns.items())
    assert all(r["amount_fen"] == held[name] + r["surplus_fen"] for name, r in returns.items())
    assert returns["bob"]["by_refund_fen"] == 500  # his recent payment, refunded; the older money transferred
    assert returns["bob"]["by_transfer_fen"] == returns["bob"]["amount_fen"] - 500
    assert returns["carol"]["by_refund_fen"] == 0
    assert views["bob"]["state"] == views["carol"]["state"] == "left" and views["alice"]["state"] == "aided"
    progress = client.get("/api/v1/plans/adult_789/wind-down").get_json()["progress"]
    assert progress["members_total"] == 2 and progress["refunded"] + progress["pending"] == 2

    # Each payer confirms the transfer in the mini-program; the refunds settle; the plan closes.
    for (name, m), headers in zip(ms.items(), (alice, bob, carol)):
        if name not in returns:
            continue
        package = returns[name]["transfer_package_info"]
        if returns[name]["by_transfer_fen"]:
            assert package and requests.post(emulator.url + "_emulator/transfer/confirm",
                                             json={"package_info": package}, timeout=5).status_code == 200
            confirmed = client.post(f"/api/v1/memberships/{m}/balance-return/confirmed", headers=headers)
            assert confirmed.status_code == 200, confirmed.get_json()
    assert wait_until(lambda: all(r.status == "SUCCESS" for r in emulator.state.pay.refunds.values()))
    runner.invoke(args=["payments", "reconcile", "--at", now.isoformat()])
    assert "adult_789: closed" in runner.invoke(args=["wind-down", "advance", "--at", now.isoformat()]).output

    done = client.get("/api/v1/plans/adult_789/wind-down").get_json()
    assert done["status"] == "closed" and done["progress"]["refunded"] == 2 and done["progress"]["remaining_fen"] == 0
    assert done["progress"]["returned_fen"] == sum(held.values()) + surplus
    closing_report = client.get(done["closing_report_url"]).get_json()
    assert closing_report["verified"] and closing_report["sha256"] == done["closing_report_sha256"]
    assert closing_report["report"]["member_balances_left_fen"] == 0
    assert closing_report["report"]["returned_fen"] == done["progress"]["returned_fen"]
    assert client.get("/api/v1/plans/adult_789").get_json()["status"] == "closed"
    assert scalar("SELECT COALESCE(SUM(a.balance_fen), 0) FROM accounts a JOIN plans p ON p.id = a.plan_id "
                  "WHERE p.code = 'adult_789' AND a.kind = 'member'") == 0
    assert scalar("SELECT balance_fen FROM accounts WHERE code = 'plan:adult_789:plan_surplus'") == 0
    assert scalar("SELECT balance_fen FROM accounts WHERE code = 'system:refund_pending'") == 0
    # WeChat saw each refund once and each transfer once: nobody was paid twice.
    by_order: dict[str, int] = {}
    for refund in emulator.state.pay.refunds.values():
        by_order[refund.order.out_trade_no] = by_order.get(refund.order.out_trade_no, 0) + refund.amount
    assert all(fen <= emulator.state.pay.orders[no].total for no, fen in by_order.items())
    ours = {n for (n,) in db.session.execute(sa.text(
        "SELECT t.out_bill_no FROM return_transfers t JOIN balance_returns r ON r.id = t.balance_return_id "
        "WHERE r.reason = 'wind_down'"))}
    assert sum(b.amount for n, b in emulator.state.pay.transfers.items() if n in ours) == \
        sum(r["by_transfer_fen"] for r in returns.values())
    audit = runner.invoke(args=["ledger", "audit"])
    assert audit.exit_code == 0 and "ledger audit passed" in audit.output
    verify = runner.invoke(args=["transparency", "verify"])
    assert verify.exit_code == 0, verify.output
