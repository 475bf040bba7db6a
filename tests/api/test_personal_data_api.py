"""A member's own data (both databases): the export, a reviewed name correction, erasure after
retention (the books still balance) and claim documents deleted after theirs."""
import datetime as dt
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Membership, OperatorAuditEntry
from app.services.audit import audit_ledger
from app.services.audit_chain import verify
from app.services.payments import reconcile
from tests.support import (DISCARD_URL, NOTIFY_PATH, claim_body, join, join_and_fund, make_operator, make_protected,
                           notification_body, operator_login, order_topup, phone_pays, point_notifications_at, signed,
                           transaction_of, wait_until)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def decrypted_people(services) -> dict[int, tuple[str | None, str | None]]:
    rows = db.session.execute(sa.select(Membership.id, Membership.person_name_encrypted,
                                        Membership.person_id_encrypted)).all()
    return {r.id: (services.pii.decrypt(r[1]) if r[1] else None, services.pii.decrypt(r[2]) if r[2] else None)
            for r in rows}


def test_export_has_every_field_of_the_user_and_nothing_of_others(client, alice, bob, clock, services):
    mine, my_id = join_and_fund(client, alice, clock, name="张三丰")
    theirs, their_id = join_and_fund(client, bob, clock, name="李四光")
    make_protected(clock)
    claim = client.post("/api/v1/claims", json=claim_body(mine, clock), headers=alice).get_json()
    client.post(f"/api/v1/claims/{claim['id']}/documents", data={"file": (io.BytesIO(PNG), "a.png")}, headers=alice)

    response = client.get("/api/v1/me/data", headers=alice)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "private, no-store"
    data = json.loads(response.data)
    text = response.data.decode("utf-8")

    (membership,) = data["memberships"]
    assert membership["person_name"] == "张三丰" and membership["person_id_number"] == my_id
    stored = {c.name for c in Membership.__table__.columns} - {"person_name_encrypted", "person_id_encrypted"}
    assert stored <= set(membership)  # every stored column, decrypted where it is encrypted
    assert [c["id"] for c in data["claims"]] == [claim["id"]] and len(data["claim_documents"]) == 1
    assert {c["scope"] for c in data["consents"]} == {"privacy_policy", "sensitive_personal_data",
                                                      "medical_documents"}
    assert data["accounts"][0]["membership_id"] == mine and data["postings"][0]["amount_fen"] == 300
    assert data["user"]["openid"] == "o-alice" and data["events"]
    # nothing of Bob: his name, ID number, openid and membership
    for foreign in ("李四光", their_id, "o-bob", f'"membership_id": {theirs}'):
        assert foreign not in text


def test_a_misspelled_name_is_corrected_after_a_reviewer_approves(client, alice, bob, clock, services):
    membership = join(client, alice, clock, name="张三风")
    refused = client.post("/api/v1/me/name-corrections", headers=bob,
                          json={"membership_id": membership["id"], "name": "张三丰"})
    assert refused.status_code == 404
    asked = client.post("/api/v1/me/name-corrections", headers=alice,
                        json={"membership_id": membership["id"], "name": "张三丰"})
    assert asked.status_code == 201 and asked.get_json()["status"] == "pending"
    again = client.post("/api/v1/me/name-corrections", headers=alice,
                        json={"membership_id": membership["id"], "name": "张三峰"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "correction_pending"
    assert decrypted_people(services)[membership["id"]][0] == "张三风"  # nothing changes before review

    make_operator("fin", "finance", now=clock.now())
    make_operator("rev", "reviewer", now=clock.now())
    finance, reviewer = operator_login(client, "fin"), operator_login(client, "rev")
    correction_id = asked.get_json()["id"]
    assert client.post(f"/api/v1/admin/name-corrections/{correction_id}/approve", headers=finance).status_code == 403
    listed = client.get("/api/v1/admin/name-corrections?status=pending", headers=reviewer).get_json()["items"]
    assert [(c["current_name"], c["new_name"]) for c in listed] == [("张三风", "张三丰")]
    approved = client.post(f"/api/v1/admin/name-corrections/{correction_id}/approve", headers=reviewer)
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    assert client.post(f"/api/v1/admin/name-corrections/{correction_id}/reject", headers=reviewer).status_code == 409

    assert decrypted_people(services)[membership["id"]][0] == "张三丰"
    exported = client.get("/api/v1/me/data", headers=alice).get_json()
    assert exported["memberships"][0]["person_name"] == "张三丰"
    entry = db.session.execute(sa.select(OperatorAuditEntry).where(
        OperatorAuditEntry.action == "name_correction.approved")).scalar_one()
    assert entry.target_id == membership["id"] and "三丰" not in json.dumps(entry.after, ensure_ascii=False)
    assert verify(db.session).ok


def _paid(client, emulator, headers, membership_id, amount_fen):
    topup = order_topup(client, headers, membership_id, amount_fen)
    phone_pays(emulator, topup["payment"], silent=True)
    headers_, data = signed(emulator, notification_body(emulator, transaction_of(emulator, topup["order"]["out_trade_no"])))
    assert client.post(NOTIFY_PATH, data=data, headers=headers_).status_code == 204


def test_erasure_after_retention_keeps_the_books_and_leaves_nothing_decryptable(app, client, alice, clock, emulator,
                                                                              services, runner):
    point_notifications_at(app, DISCARD_URL)
    app.config["PII_RETENTION_DAYS"] = 30
    gone = join(client, alice, clock, name="王五")
    staying = join(client, alice, clock, name="赵六", plan="seniors", age=55)
    _paid(client, emulator, alice, gone["id"], 300)
    _paid(client, emulator, alice, staying["id"], 300)
    left = client.post(f"/api/v1/memberships/{gone['id']}/leave", headers=alice).get_json()
    number = left["refunds"][0]["out_refund_no"]
    wait_until(lambda: emulator.state.pay.refunds[number].status == "SUCCESS",
               10, "the refund to succeed at the emulator")
    gone_id_number = decrypted_people(services)[gone["id"]][1]

    at = clock.now() + dt.timedelta(days=29)
    reconcile(db.session, services.pay, at)  # the refund completes: nothing of the money is open
    result = runner.invoke(args=["privacy", "retention", "--at", at.isoformat()])
    assert "memberships erased: 0" in result.output  # retention not over yet

    later = clock.now() + dt.timedelta(days=31)
    result = runner.invoke(args=["privacy", "retention", "--at", later.isoformat()])
    assert result.exit_code == 0 and "memberships erased: 1" in result.output, result.output
    people = decrypted_people(services)
    assert people[gone["id"]] == (None, None) and people[staying["id"]] == ("赵六", people[staying["id"]][1])
    row = db.session.get(Membership, gone["id"])
    assert row.erased_at == later and row.declaration == {} and row.person_id_masked == ""
    assert row.person_id_hash not in services.pii.lookup_hashes(gone_id_number)  # no key finds the person again
    assert row.person_name_masked == "王*"  # what was published stays as published
    dump = json.dumps([list(map(str, r)) for r in db.session.execute(sa.text("SELECT * FROM memberships")).all()])
    assert gone_id_number not in dump

    assert audit_ledger(db.session).ok
    assert runner.invoke(args=["ledger", "audit"]).exit_code == 0
    erasures = db.session.execute(sa.select(OperatorAuditEntry).where(OperatorAuditEntry.action == "pii.erased")).scalars().all()
    assert [(e.target_type, e.after["membership_ids"]) for e in erasures] == [("membership", [gone["id"]])]
    assert "王" not in json.dumps(erasures[0].after, ensure_ascii=False)
    assert verify(db.session).ok
    exported = client.get("/api/v1/me/data", headers=alice).get_json()
    assert {m["id"]: m["person_name"] for m in exported["memberships"]} == {gone["id"]: None, staying["id"]: "赵六"}
    # the same person joining again is a new person to us; the erased row is not in the way
    result = runner.invoke(args=["privacy", "retention", "--at", later.isoformat()])
    assert "memberships erased: 0" in result.output


def test_a_person_with_any_membership_still_running_is_kept(app, client, alice, clock, services, runner):
    app.config["PII_RETENTION_DAYS"] = 1
    ended = join(client, alice, clock, name="孙七")
    client.post(f"/api/v1/memberships/{ended['id']}/leave", headers=alice)
    person = decrypted_people(services)[ended["id"]][1]
    # the same person (same ID number) still in another plan
    body = {"plan_code": "seniors", "relation": "self", "person": {"name": "孙七", "id_number": person},
            "answers": {"has_major_illness": False, "in_hospital_or_awaiting_diagnosis": False,
                        "has_chronic_organ_failure": False}}
    from tests.support import JOIN_CONSENT

    response = client.post("/api/v1/memberships", json={**body, "consent": JOIN_CONSENT}, headers=alice)
    if response.status_code != 201:  # too young for seniors: a second plan they can join
        body["plan_code"] = "transit_accident"
        response = client.post("/api/v1/memberships", json={**body, "consent": JOIN_CONSENT}, headers=alice)
    assert response.status_code == 201, response.get_json()
    result = runner.invoke(args=["privacy", "retention", "--at",
                                                (clock.now() + dt.timedelta(days=400)).isoformat()])
    assert "memberships erased: 0" in result.output
    assert decrypted_people(services)[ended["id"]] == ("孙七", person)


@pytest.mark.parametrize("status, deleted", [("rejected", 1), ("investigating", 0)])
def test_claim_documents_are_deleted_after_their_retention(app, client, alice, clock, status, deleted, runner):
    app.config["CLAIM_DOCUMENT_RETENTION_DAYS"] = 10
    membership_id, _ = join_and_fund(client, alice, clock)
    make_protected(clock)
    claim = client.post("/api/v1/claims", json=claim_body(membership_id, clock), headers=alice).get_json()
    client.post(f"/api/v1/claims/{claim['id']}/documents", data={"file": (io.BytesIO(PNG), "a.png")}, headers=alice)
    storage = db.session.execute(sa.text("SELECT storage_name FROM claim_documents")).scalar_one()
    path = Path(app.config["CLAIM_DOCUMENTS_DIR"]) / storage
    db.session.execute(sa.text("UPDATE claims SET status = :s"), {"s": status})
    db.session.commit()
    result = runner.invoke(args=["privacy", "retention", "--at",
                                                (clock.now() + dt.timedelta(days=11)).isoformat()])
    assert f"claim documents deleted: {deleted}" in result.output, result.output
    assert path.exists() is (deleted == 0)
    assert (db.session.execute(sa.text("SELECT deleted_at FROM claim_documents")).scalar_one() is None) is (deleted == 0)
    assert verify(db.session).ok
