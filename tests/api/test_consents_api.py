"""Consents (both databases): joining and claiming refused without the current consent, each
consent recorded, a new policy version asked again."""
import io
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Consent
from tests.support import CLAIM_CONSENT, JOIN_CONSENT, POLICY, claim_body, join_and_fund, join_body, make_protected

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def error_of(response):
    return response.status_code, response.get_json()["error"]["code"]


def count(sql, **params):
    return db.session.execute(sa.text(sql), params).scalar_one()


@pytest.fixture
def new_policy_version(app, tmp_path):
    """Moves the app to a copy of the policy with a new version (what editing config/privacy does)."""
    folder = tmp_path / "privacy"
    shutil.copytree(Path(app.config["PRIVACY_POLICY_FILE"]).parent, folder)
    text = (folder / "policy.toml").read_text(encoding="utf-8")
    (folder / "policy.toml").write_text(text.replace(f'version = "{POLICY.version}"', 'version = "2099-01-01"'),
                                        encoding="utf-8")

    def switch():
        app.config["PRIVACY_POLICY_FILE"] = str(folder / "policy.toml")
        return "2099-01-01"

    return switch


def test_the_policy_is_public_and_names_what_each_step_asks(client):
    policy = client.get("/api/v1/privacy/policy").get_json()
    assert policy["version"] == POLICY.version
    assert [d["key"] for d in policy["documents"]] == ["privacy_policy", "service_agreement"]
    assert all(d["text"].startswith("# ") for d in policy["documents"])
    assert policy["join_scopes"] == ["privacy_policy", "sensitive_personal_data"]
    assert policy["claim_scopes"] == ["privacy_policy", "medical_documents"]
    assert "身份证号码" in next(s["text"] for s in policy["scopes"] if s["key"] == "sensitive_personal_data")


def test_join_is_refused_without_each_consent_and_changes_nothing(client, alice, clock):
    body = join_body(clock)
    del body["consent"]
    assert error_of(client.post("/api/v1/memberships", json=body, headers=alice)) == (
        403, "privacy_policy_consent_required")
    only_policy = {**body, "consent": {"policy_version": POLICY.version, "scopes": ["privacy_policy"]}}
    refused = client.post("/api/v1/memberships", json=only_policy, headers=alice)
    assert error_of(refused) == (403, "sensitive_data_consent_required")
    assert refused.get_json()["error"]["details"] == {"scope": "sensitive_personal_data",
                                                      "policy_version": POLICY.version}
    old_version = {**body, "consent": {**JOIN_CONSENT, "policy_version": "2000-01-01"}}
    assert error_of(client.post("/api/v1/memberships", json=old_version, headers=alice)) == (
        403, "privacy_policy_consent_required")
    assert count("SELECT COUNT(*) FROM memberships") == 0 and count("SELECT COUNT(*) FROM consents") == 0

    created = client.post("/api/v1/memberships", json={**body, "consent": JOIN_CONSENT}, headers=alice)
    assert created.status_code == 201
    rows = db.session.execute(sa.select(Consent).order_by(Consent.id)).scalars().all()
    user_id = db.session.execute(sa.text("SELECT user_id FROM memberships")).scalar_one()
    assert [(c.scope, c.policy_version, c.membership_id, c.user_id, c.given_at) for c in rows] == [
        ("privacy_policy", POLICY.version, created.get_json()["id"], user_id, clock.now()),
        ("sensitive_personal_data", POLICY.version, created.get_json()["id"], user_id, clock.now())]


def test_claim_is_refused_without_the_medical_documents_consent(client, alice, clock):
    membership_id, _ = join_and_fund(client, alice, clock)
    make_protected(clock)
    body = claim_body(membership_id, clock)
    without = {**body, "consent": {**CLAIM_CONSENT, "scopes": ["privacy_policy"]}}
    assert error_of(client.post("/api/v1/claims", json=without, headers=alice)) == (
        403, "medical_documents_consent_required")
    assert count("SELECT COUNT(*) FROM claims") == 0
    claim = client.post("/api/v1/claims", json=body, headers=alice)
    assert claim.status_code == 201
    assert count("SELECT COUNT(*) FROM consents WHERE claim_id = :c AND scope = 'medical_documents'",
                 c=claim.get_json()["id"]) == 1


def test_a_new_policy_version_is_asked_again_before_the_next_use(client, alice, clock, new_policy_version):
    membership_id, _ = join_and_fund(client, alice, clock)
    make_protected(clock)
    claim_id = client.post("/api/v1/claims", json=claim_body(membership_id, clock), headers=alice).get_json()["id"]
    upload = {"file": (io.BytesIO(PNG), "a.png")}
    assert client.post(f"/api/v1/claims/{claim_id}/documents", data=upload, headers=alice).status_code == 201

    version = new_policy_version()
    assert client.get("/api/v1/privacy/policy").get_json()["version"] == version
    mine = client.get("/api/v1/privacy/consents", headers=alice).get_json()
    assert mine["policy_version"] == version and mine["items"] and not any(c["current"] for c in mine["items"])
    # the next join and the next document are refused until the new version is accepted
    refused = client.post("/api/v1/memberships", json=join_body(clock, name="李四"), headers=alice)
    assert error_of(refused) == (403, "privacy_policy_consent_required")
    assert refused.get_json()["error"]["details"]["policy_version"] == version
    assert "已更新" in refused.get_json()["error"]["message"]
    upload = {"file": (io.BytesIO(PNG), "b.png")}
    assert error_of(client.post(f"/api/v1/claims/{claim_id}/documents", data=upload, headers=alice)) == (
        403, "medical_documents_consent_required")

    stale = client.post("/api/v1/privacy/consents", headers=alice,
                        json={"scope": "medical_documents", "policy_version": POLICY.version, "claim_id": claim_id})
    assert error_of(stale) == (403, "medical_documents_consent_required")
    given = client.post("/api/v1/privacy/consents", headers=alice,
                        json={"scope": "medical_documents", "policy_version": version, "claim_id": claim_id})
    assert given.status_code == 201 and given.get_json()["current"] is True
    upload = {"file": (io.BytesIO(PNG), "b.png")}
    assert client.post(f"/api/v1/claims/{claim_id}/documents", data=upload, headers=alice).status_code == 201
    again = join_body(clock, name="李四")
    again["consent"] = {**JOIN_CONSENT, "policy_version": version}
    assert client.post("/api/v1/memberships", json=again, headers=alice).status_code == 201


def test_a_consent_cannot_name_someone_elses_claim(client, alice, clock, emulator):
    from tests.support import login

    membership_id, _ = join_and_fund(client, alice, clock)
    make_protected(clock)
    claim_id = client.post("/api/v1/claims", json=claim_body(membership_id, clock), headers=alice).get_json()["id"]
    mallory = login(client, emulator.url, "o-mallory")
    response = client.post("/api/v1/privacy/consents", headers=mallory,
                           json={"scope": "medical_documents", "policy_version": POLICY.version, "claim_id": claim_id})
    assert error_of(response) == (404, "claim_not_found")
