"""Claims over HTTP on SQLite and PostgreSQL: the whole path, the refusals, the access rules and
the announcement's privacy. Time is injected; the WeChat emulator runs over real HTTP."""

import pytest
import requests
from sqlalchemy import select, update

from app.extensions import db
from app.models import (Account, ApportionmentRunCase, Claim, DomainEvent, LedgerTransaction, Membership, Operator,
                        OperatorAuditEntry)
from app.services import apportionment
from tests.support import (add_members, balances, claim_body, join_and_fund, login_as, make_operator, make_protected,
                           make_staff, make_user, operator_login, settle_collected)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n% synthetic\n"


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    app.config["CLAIM_DOCUMENTS_DIR"] = str(tmp_path / "claim-documents")
    return tmp_path / "claim-documents"


@pytest.fixture
def staff(app, clock):
    return make_staff(clock.now())


def upload(client, headers, claim_id, data, name="x.png"):
    import io

    return client.post(f"/api/v1/claims/{claim_id}/documents", headers=headers,
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")




def test_case_end_to_end(client, app, clock, emulator, staff, documents_dir, runner):
    alice = login_as(client, emulator, "o-alice")
    bob = login_as(client, emulator, "o-bob")
    carol = login_as(client, emulator, "o-carol")
    alice_m, alice_id_number = join_and_fund(client, alice, clock, name="张三丰")
    bob_m, _ = join_and_fund(client, bob, clock, name="李四")
    carol_m, _ = join_and_fund(client, carol, clock, name="王五")
    make_protected(clock)
    rev, inv, fin = (operator_login(client, u) for u in ("rev", "inv", "fin"))

    created = client.post("/api/v1/claims", json=claim_body(alice_m, clock), headers=alice)
    assert created.status_code == 201, created.get_json()
    claim_id = created.get_json()["id"]
    assert created.get_json()["status"] == "submitted"
    assert upload(client, alice, claim_id, PNG).status_code == 201
    bad = upload(client, alice, claim_id, b"GIF89a not allowed", name="fake.png")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "document_type_invalid"

    assert client.post(f"/api/v1/admin/claims/{claim_id}/review", headers=rev).status_code == 200
    returned = client.post(f"/api/v1/admin/claims/{claim_id}/return", json={"missing": "出院小结"}, headers=rev)
    assert returned.get_json()["status"] == "returned"
    assert client.get(f"/api/v1/claims/{claim_id}", headers=alice).get_json()["missing_items"] == "出院小结"
    assert upload(client, alice, claim_id, PDF, name="discharge.pdf").status_code == 201
    assert client.post(f"/api/v1/claims/{claim_id}/resubmit", headers=alice).get_json()["status"] == "under_review"
    assigned = client.post(f"/api/v1/admin/claims/{claim_id}/assign", json={"organisation_id": staff["org_id"]},
                           headers=rev)
    assert assigned.status_code == 200 and assigned.get_json()["status"] == "investigating"

    report = {"findings": "病历与诊断一致", "summary": "经调查，确诊急性白血病，符合互助条件",
              "aid_item_code": "major_illness", "approved_aid_fen": 1_000_000}
    published = client.post(f"/api/v1/admin/claims/{claim_id}/report", json=report, headers=inv)
    assert published.status_code == 200, published.get_json()
    assert published.get_json()["status"] == "publicity"

    announcement = client.get(f"/api/v1/announcements/{claim_id}").get_json()
    assert announcement["person"] == "张*" and announcement["organisation"] == "平安公估"
    assert announcement["approved_aid_fen"] == 1_000_000 and announcement["hospital_city"] == "北京"

    objection = client.post(f"/api/v1/announcements/{claim_id}/objections", json={"reason": "我认为病情描述有出入"},
                            headers=bob)
    assert objection.status_code == 201, objection.get_json()
    again = client.post(f"/api/v1/announcements/{claim_id}/objections", json={"reason": "再提一次异议看看"}, headers=bob)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "objection_exists"

    clock.advance(days=5)
    held = runner.invoke(args=["claims", "advance"])
    assert "ready: 0" in held.output, held.output  # a pending objection holds the case in publicity
    resolved = client.post(f"/api/v1/admin/objections/{objection.get_json()['id']}/resolve",
                           json={"upheld": False, "resolution": "经复核，材料真实"}, headers=rev)
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "dismissed"
    assert "ready: 1" in runner.invoke(args=["claims", "advance"]).output
    assert client.get(f"/api/v1/claims/{claim_id}", headers=alice).get_json()["status"] == "ready"
    assert [o["status"] for o in client.get(f"/api/v1/announcements/{claim_id}").get_json()["objections"]] == ["dismissed"]

    # A real apportionment run collects the aid: the three members and three more funded payers.
    now = clock.now()
    add_members(db.session, make_user(db.session, now), "adult_789", [500, 500, 500], now)
    run = apportionment.prepare(db.session, "adult_789", now, chunk_size=2)
    [run_case] = db.session.execute(select(ApportionmentRunCase).where(ApportionmentRunCase.run_id == run.id)).scalars()
    assert run_case.claim_id == claim_id and run.payer_count == 6
    assert run_case.limited_aid_fen == 6 * run.share_cap_fen < run_case.approved_aid_fen  # capped by the payers
    apportionment.publish(db.session, run.id, now)
    assert apportionment.execute(db.session, run.id, now).status == "executed"
    db.session.expire_all()
    claim = db.session.get(Claim, claim_id)
    assert (claim.status, claim.collected_by_run_id) == ("collected", run.id)
    assert claim.collected_aid_fen == run_case.limited_aid_fen
    collected = claim.collected_aid_fen
    assert balances(db.session, [alice_m, bob_m, carol_m]) == {m: 300 - run.share_fen for m in (alice_m, bob_m, carol_m)}
    paid = client.post(f"/api/v1/admin/claims/{claim_id}/payout", headers=fin)
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["status"] == "wait_user_confirm" and paid.get_json()["amount_fen"] == collected
    mine = client.get(f"/api/v1/claims/{claim_id}", headers=alice).get_json()
    assert mine["status"] == "collected" and mine["payout"]["package_info"]
    # What wx.requestMerchantTransfer needs (mchId, appId, package), only while the transfer waits.
    call = {"mch_id": app.config["WECHAT_PAY_MCHID"], "app_id": app.config["WECHAT_APPID"],
            "package_info": mine["payout"]["package_info"]}
    assert all(call.values()) and mine["payout"]["transfer"] == call
    assert [c["payout"]["transfer"] for c in client.get("/api/v1/claims", headers=alice).get_json()["items"]] == [call]

    confirm = requests.post(emulator.url + "_emulator/transfer/confirm",
                            json={"package_info": mine["payout"]["package_info"]}, timeout=5)
    assert confirm.status_code == 200
    done = client.post(f"/api/v1/claims/{claim_id}/payout/confirmed", headers=alice).get_json()
    assert done["status"] == "paid" and done["payout"]["status"] == "succeeded"
    assert done["payout"]["transfer"] is None and done["payout"]["package_info"] is None
    # Asked again, and swept by the CLI: nothing is paid twice.
    client.post(f"/api/v1/claims/{claim_id}/payout/confirmed", headers=alice)
    runner.invoke(args=["claims", "advance"])
    paid_out = db.session.execute(select(Account.balance_fen).where(Account.code == "system:aid_paid_out")).scalar_one()
    payable = db.session.execute(select(Account.balance_fen).where(Account.code == "plan:adult_789:aid_payable")).scalar_one()
    assert (paid_out, payable) == (collected, 0)
    assert len(db.session.execute(select(LedgerTransaction).where(LedgerTransaction.reason == "aid_payout")).all()) == 1
    assert db.session.get(Membership, alice_m).state == "aided"
    audit = runner.invoke(args=["ledger", "audit"])
    assert audit.exit_code == 0 and "ledger audit passed" in audit.output

    kinds = [e.kind for e in db.session.execute(select(DomainEvent).where(DomainEvent.claim_id == claim_id)
                                                .order_by(DomainEvent.id)).scalars()]
    for kind in ("claim.status_changed", "announcement.published", "objection.resolved", "aid.paid"):
        assert kind in kinds
    statuses = [t["to_status"] for t in done["timeline"]]
    assert statuses[0] == "submitted" and statuses[-1] == "paid" and "publicity" in statuses
    # The operator audit log holds ids, statuses and amounts, never a name or an ID number.
    entries = db.session.execute(select(OperatorAuditEntry)).scalars().all()
    assert {"claim.under_review", "claim.investigating", "claim.publicity", "payout.approved"} <= {e.action for e in entries}
    dumped = repr([(e.before, e.after) for e in entries])
    assert "张三丰" not in dumped and alice_id_number not in dumped


def test_refusals_carry_reasons(client, clock, emulator, staff):
    alice = login_as(client, emulator, "o-alice")
    observing, _ = join_and_fund(client, alice, clock, name="张一")
    early = client.post("/api/v1/claims", json=claim_body(observing, clock, incident_days_ago=1), headers=alice)
    assert early.status_code == 400 and early.get_json()["error"]["code"] == "membership_in_observation"

    protected, _ = join_and_fund(client, alice, clock, name="张二", plan="seniors", age=55)
    lapsed, _ = join_and_fund(client, alice, clock, name="张三", plan="children", age=10, relation="child")
    make_protected(clock, days=400)
    db.session.execute(update(Membership).where(Membership.id == lapsed).values(state="lapsed"))
    db.session.commit()

    def refused(body):
        response = client.post("/api/v1/claims", json=body, headers=alice)
        assert response.status_code in (400, 409), response.get_json()
        return response.get_json()["error"]["code"]

    assert refused(claim_body(lapsed, clock)) == "membership_not_protected"
    # Observation ended 220 days ago: an incident 221 days ago is before it.
    assert refused(claim_body(protected, clock, incident_days_ago=221)) == "incident_before_observation_end"
    assert refused(claim_body(protected, clock, incident_days_ago=181)) == "reported_too_late"
    assert refused(claim_body(protected, clock, incident_type="accident")) == "incident_not_covered"
    first = client.post("/api/v1/claims", json=claim_body(protected, clock, incident_days_ago=180), headers=alice)
    assert first.status_code == 201, first.get_json()  # 180 days is still in time
    assert refused(claim_body(protected, clock)) == "open_claim_exists"

    claim_id = first.get_json()["id"]
    assert upload(client, alice, claim_id, PNG).status_code == 201
    rev, inv = operator_login(client, "rev"), operator_login(client, "inv")
    client.post(f"/api/v1/admin/claims/{claim_id}/review", headers=rev)
    client.post(f"/api/v1/admin/claims/{claim_id}/assign", json={"organisation_id": staff["org_id"]}, headers=rev)
    above = {"findings": "属实", "summary": "属实", "aid_item_code": "major_illness", "approved_aid_fen": 10_000_001}
    response = client.post(f"/api/v1/admin/claims/{claim_id}/report", json=above, headers=inv)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "aid_above_maximum"
    illegal = client.post(f"/api/v1/admin/claims/{claim_id}/review", headers=rev)
    assert illegal.status_code == 409 and illegal.get_json()["error"]["code"] == "claim_transition_invalid"
    rejected = client.post(f"/api/v1/admin/claims/{claim_id}/reject", json={"reason": "既往症"}, headers=inv)
    assert rejected.get_json()["status"] == "rejected"
    assert client.get(f"/api/v1/claims/{claim_id}", headers=alice).get_json()["rejection_reason"] == "既往症"


def test_access_rules(client, clock, emulator, staff, app):
    alice = login_as(client, emulator, "o-alice")
    bob = login_as(client, emulator, "o-bob")
    alice_m, _ = join_and_fund(client, alice, clock)
    make_protected(clock)
    claim_id = client.post("/api/v1/claims", json=claim_body(alice_m, clock), headers=alice).get_json()["id"]
    document_id = upload(client, alice, claim_id, PNG).get_json()["id"]
    assert client.get(f"/api/v1/claims/{claim_id}/documents/{document_id}", headers=alice).data == PNG

    # Another member sees neither the claim nor its documents.
    assert client.get(f"/api/v1/claims/{claim_id}", headers=bob).status_code == 404
    assert client.get(f"/api/v1/claims/{claim_id}/documents/{document_id}", headers=bob).status_code == 404
    assert upload(client, bob, claim_id, PNG).status_code == 404
    # Member tokens do not open operator routes, and operator tokens do not open member routes.
    assert client.get("/api/v1/admin/claims", headers=alice).status_code == 401
    rev, aud, fin = (operator_login(client, u) for u in ("rev", "aud", "fin"))
    assert client.get("/api/v1/claims", headers=rev).status_code == 401
    assert client.get("/api/v1/admin/claims").status_code == 401
    # Auditors read and cannot write; finance cannot read documents.
    assert client.get(f"/api/v1/admin/claims/{claim_id}", headers=aud).status_code == 200
    assert client.get("/api/v1/admin/audit-log", headers=aud).status_code == 200
    writes = client.post(f"/api/v1/admin/claims/{claim_id}/review", headers=aud)
    assert writes.status_code == 403 and writes.get_json()["error"]["code"] == "operator_role_forbidden"
    assert client.get(f"/api/v1/admin/claims/{claim_id}/documents/{document_id}", headers=fin).status_code == 403
    # The operators on the case read the document; another organisation does not even see the case.
    client.post(f"/api/v1/admin/claims/{claim_id}/review", headers=rev)
    client.post(f"/api/v1/admin/claims/{claim_id}/assign", json={"organisation_id": staff["org_id"]}, headers=rev)
    inv, other = operator_login(client, "inv"), operator_login(client, "inv_other")
    assert client.get(f"/api/v1/admin/claims/{claim_id}/documents/{document_id}", headers=inv).data == PNG
    assert client.get(f"/api/v1/admin/claims/{claim_id}/documents/{document_id}", headers=rev).status_code == 200
    rev2 = operator_login(client, "rev2")
    assert client.get(f"/api/v1/admin/claims/{claim_id}/documents/{document_id}", headers=rev2).status_code == 404
    assert client.get(f"/api/v1/admin/claims/{claim_id}", headers=other).status_code == 404
    assert client.get("/api/v1/admin/claims", headers=other).get_json()["items"] == []


def test_separation_of_duties(client, clock, emulator, staff):
    now = clock.now()
    make_operator("both", "investigator", "finance", organisation="平安公估", now=now)
    make_operator("rev_fin", "reviewer", "finance", now=now)
    alice = login_as(client, emulator, "o-alice")
    bob = login_as(client, emulator, "o-bob")
    alice_m, _ = join_and_fund(client, alice, clock)
    bob_m, _ = join_and_fund(client, bob, clock, name="李四")
    make_protected(clock)
    claim_id = client.post("/api/v1/claims", json=claim_body(alice_m, clock), headers=alice).get_json()["id"]
    upload(client, alice, claim_id, PNG)
    rev_fin, both = operator_login(client, "rev_fin"), operator_login(client, "both")
    client.post(f"/api/v1/admin/claims/{claim_id}/review", headers=rev_fin)
    client.post(f"/api/v1/admin/claims/{claim_id}/assign", json={"organisation_id": staff["org_id"]}, headers=rev_fin)
    report = {"findings": "属实", "summary": "属实", "aid_item_code": "major_illness", "approved_aid_fen": 500_000}
    assert client.post(f"/api/v1/admin/claims/{claim_id}/report", json=report, headers=both).status_code == 200
    clock.advance(days=5)
    from app.services.claims import promote_finished_publicity

    assert promote_finished_publicity(db.session, clock.now()) == [claim_id]
    settle_collected(claim_id, {bob_m: 300}, run_id=7, now=clock.now())
    for who in (both, rev_fin):  # the investigator, then the reviewer, of this very case
        refused = client.post(f"/api/v1/admin/claims/{claim_id}/payout", headers=who)
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "separation_of_duties"
    assert client.post(f"/api/v1/admin/claims/{claim_id}/payout", headers=operator_login(client, "fin")).status_code == 200


def test_announcement_privacy(client, clock, emulator, staff, documents_dir):
    alice = login_as(client, emulator, "o-alice")
    bob = login_as(client, emulator, "o-bob")
    alice_m, id_number = join_and_fund(client, alice, clock, name="张三丰")
    join_and_fund(client, bob, clock, name="李四")
    make_protected(clock)
    phone = "13800138000"
    body = claim_body(alice_m, clock)
    body["description"] = f"联系电话 {phone}，身份证 {id_number}，张三丰本人"
    claim_id = client.post("/api/v1/claims", json=body, headers=alice).get_json()["id"]
    document = upload(client, alice, claim_id, PNG).get_json()
    rev, inv = operator_login(client, "rev"), operator_login(client, "inv")
    client.post(f"/api/v1/admin/claims/{claim_id}/review", headers=rev)
    client.post(f"/api/v1/admin/claims/{claim_id}/assign", json={"organisation_id": staff["org_id"]}, headers=rev)
    report = {"findings": f"本人张三丰，电话{phone}", "summary": "确诊急性白血病，符合互助条件",
              "aid_item_code": "major_illness", "approved_aid_fen": 800_000}
    assert client.post(f"/api/v1/admin/claims/{claim_id}/report", json=report, headers=inv).status_code == 200
    client.post(f"/api/v1/announcements/{claim_id}/objections", json={"reason": "金额似乎偏高了"}, headers=bob)

    listed = client.get("/api/v1/announcements")
    one = client.get(f"/api/v1/announcements/{claim_id}")
    stored = [p.name for p in documents_dir.rglob("*") if p.is_file()]
    assert stored
    for response in (listed, one):
        text = response.get_data(as_text=True)
        assert response.status_code == 200 and str(claim_id) in text
        for secret in ("张三丰", id_number, id_number[-4:] + '"', phone, "北京协和医院", "documents", *stored,
                       str(document["size_bytes"])):
            assert secret not in text, secret
    data = one.get_json()
    assert data["person"] == "张*" and data["sex"] == "M" and data["age_years"] == 30
    assert data["illness"] == "急性白血病" and data["objections"][0]["status"] == "pending"


def test_operators_create_cli(app, client, runner):
    made = runner.invoke(args=["operators", "create", "--role", "investigator", "--username", "inv9",
                               "--organisation", "某公估"], env={"OPERATOR_PASSWORD": "a long enough password"})
    assert made.exit_code == 0 and "organisation=" in made.output, made.output
    no_org = runner.invoke(args=["operators", "create", "--role", "investigator", "--username", "inv10"],
                           env={"OPERATOR_PASSWORD": "a long enough password"})
    assert no_org.exit_code != 0 and "operator_organisation_required" in no_org.output
    ok = client.post("/api/v1/admin/auth/login", json={"username": "inv9", "password": "a long enough password"})
    wrong = client.post("/api/v1/admin/auth/login", json={"username": "inv9", "password": "wrong password!!"})
    assert ok.status_code == 200 and wrong.status_code == 401
    stored = db.session.execute(select(Operator.password_hash).where(Operator.username == "inv9")).scalar_one()
    assert stored.startswith("$argon2id$")
