"""The console's security over Flask's test client, on SQLite and PostgreSQL: cookie flags and a new
session at sign-in, CSRF on every form (and none on the bearer-token API), roles and the 403 page,
TOTP for finance and reviewers, the audited identity reveal, and no full name or ID number in any
page a role is not entitled to (the rendered HTML is searched)."""
import re

import pyotp
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Claim, OperatorAuditEntry
from config import BaseConfig
from tests.support import (claim_body, csrf_of, enrol_totp, join_and_fund, login_as, make_protected, make_staff,
                           post_form, second_factor, sign_in, sign_in_fully)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FULL_NAME = "欧阳明华"


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    app.config["CLAIM_DOCUMENTS_DIR"] = str(tmp_path / "claim-documents")


@pytest.fixture
def staff(app, clock):
    return make_staff(clock.now())


@pytest.fixture
def case(client, emulator, clock, staff):
    """A submitted claim with one document; the claimant's full name and ID number."""
    import io

    headers = login_as(client, emulator, "o-console-claimant")
    membership_id, id_number = join_and_fund(client, headers, clock, name=FULL_NAME)
    make_protected(clock)
    created = client.post("/api/v1/claims", json=claim_body(membership_id, clock), headers=headers)
    claim_id = created.get_json()["id"]
    uploaded = client.post(f"/api/v1/claims/{claim_id}/documents", headers=headers,
                           data={"file": (io.BytesIO(PNG), "x.png")}, content_type="multipart/form-data")
    assert uploaded.status_code == 201
    return {"claim_id": claim_id, "membership_id": membership_id, "id_number": id_number,
            "document_id": uploaded.get_json()["id"]}


def _cookie_header(response) -> str:
    [header] = [v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("yiqi_console=")]
    return header


def test_session_cookie_flags_and_a_new_session_at_sign_in(app, client, clock, staff):
    app.config["SESSION_COOKIE_SECURE"] = True  # as in production (development over http turns it off)
    page = client.get("/console/login", base_url="https://console.test")
    before = client.get_cookie("yiqi_console", domain="console.test")
    # Over HTTPS Flask-WTF also wants a same-origin Referer (browsers send one: Referrer-Policy same-origin).
    answer = client.post("/console/login", base_url="https://console.test",
                         headers={"Referer": "https://console.test/console/login"}, data={"username": "aud", "password": "correct horse battery staple",
                               "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert answer.status_code == 302
    header = _cookie_header(answer)
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Secure" in header
    after = client.get_cookie("yiqi_console", domain="console.test")
    assert before is not None and after.value != before.value
    # The cookie from before sign-in (one an attacker could have planted) signs nobody in.
    planted = app.test_client()
    planted.set_cookie("yiqi_console", before.value, domain="console.test")
    refused = planted.get("/console/", base_url="https://console.test")
    assert refused.status_code == 302 and "/console/login" in refused.headers["Location"]
    assert client.get("/console/", base_url="https://console.test").status_code == 200


def test_security_headers_and_no_inline_script_or_style(client, clock, staff, case):
    secrets = {}
    sign_in_fully(client, clock, "rev", secrets)
    page = client.get(f"/console/claims/{case['claim_id']}")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["Cache-Control"] == "private, no-store"
    body = page.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body) and " style=" not in body and "<style" not in body
    # The JSON API keeps its own headers: the console's policy is scoped to /console.
    assert "Content-Security-Policy" not in client.get("/api/v1/plans").headers


def test_forms_without_the_csrf_token_are_refused(client, clock, staff, case):
    refused = client.post("/console/login", data={"username": "aud", "password": "correct horse battery staple"})
    assert refused.status_code == 400 and "请求已失效" in refused.get_data(as_text=True)
    assert client.get("/console/").status_code == 302  # not signed in
    sign_in_fully(client, clock, "rev", {})
    action = client.post(f"/console/claims/{case['claim_id']}/review")
    assert action.status_code == 400
    assert db.session.get(Claim, case["claim_id"]).status == "submitted"
    with_token = post_form(client, f"/console/claims/{case['claim_id']}/review", {},
                           from_page=f"/console/claims/{case['claim_id']}")
    assert with_token.status_code == 302
    db.session.expire_all()
    assert db.session.get(Claim, case["claim_id"]).status == "under_review"
    # The bearer-token API is not behind the console's CSRF check.
    api = client.post("/api/v1/admin/auth/login", json={"username": "aud", "password": "correct horse battery staple"})
    assert api.status_code == 200


def test_reviewer_gets_the_403_page_on_finance_screens(client, clock, staff, case):
    sign_in_fully(client, clock, "rev", {})
    for url in ("/console/money/refunds", "/console/money/payouts", "/console/queues/payout",
                "/console/money/reconciliation", "/console/money/reports", "/console/money/reports.csv"):
        page = client.get(url)
        assert page.status_code == 403 and "无权访问" in page.get_data(as_text=True), url
    home = client.get("/console/").get_data(as_text=True)
    refused = client.post(f"/console/claims/{case['claim_id']}/payout", data={"csrf_token": csrf_of(home)})
    assert refused.status_code == 403
    refused = client.post("/console/runs/prepare", data={"csrf_token": csrf_of(home), "plan_code": "adult_789"})
    assert refused.status_code == 403


def test_finance_needs_totp_enrolled_then_verified_and_a_code_works_once(app, client, clock, staff):
    app.config.update(OPERATOR_LOCKOUT_THRESHOLD=3)
    assert sign_in(client, "fin").headers["Location"].endswith("/console/")
    for url in ("/console/", "/console/money/refunds", "/console/runs"):
        assert client.get(url).headers["Location"].endswith("/console/totp/enrol"), url
    enrol_page = client.get("/console/totp/enrol").get_data(as_text=True)
    assert "data:image/svg+xml" in enrol_page  # the QR code, an image the policy allows
    secret = enrol_totp(client, clock)
    assert client.get("/console/money/refunds").status_code == 200
    assert db.session.execute(select(OperatorAuditEntry).where(
        OperatorAuditEntry.action == "operator.totp_enrolled")).scalar_one()

    other = app.test_client()
    sign_in(other, "fin")
    assert other.get("/console/").headers["Location"].endswith("/console/totp")
    # The code just used for enrolment is refused (same time step), and so is a wrong one.
    replay = second_factor(other, clock, secret)
    assert replay.status_code == 200 and "动态口令不正确" in replay.get_data(as_text=True)
    assert other.get("/console/money/refunds").status_code == 302
    clock.advance(seconds=30)
    assert second_factor(other, clock, secret).status_code == 302
    assert other.get("/console/money/refunds").status_code == 200


def test_wrong_totp_codes_lock_the_account_like_wrong_passwords(app, client, clock, staff):
    app.config.update(OPERATOR_LOCKOUT_THRESHOLD=3)
    sign_in(client, "fin")
    secret = enrol_totp(client, clock)
    post_form(client, "/console/logout", {}, from_page="/console/")
    sign_in(client, "fin")
    wrong = f"{(int(pyotp.TOTP(secret).at(clock.now())) + 1) % 1_000_000:06d}"
    for _ in range(2):
        assert "动态口令不正确" in post_form(client, "/console/totp", {"code": wrong}).get_data(as_text=True)
    locked = post_form(client, "/console/totp", {"code": wrong}).get_data(as_text=True)
    assert "锁定" in locked
    clock.advance(seconds=30)
    assert "锁定" in second_factor(client, clock, secret).get_data(as_text=True)  # even the right code


def test_login_has_the_apis_rate_limit_and_lock_out(app, client, clock, staff):
    app.config["RATELIMIT_OPERATOR_LOGIN"] = BaseConfig.RATELIMIT_OPERATOR_LOGIN
    address = {"REMOTE_ADDR": "10.9.9.9"}
    page = client.get("/console/login").get_data(as_text=True)
    for _ in range(5):
        wrong = client.post("/console/login", data={"username": "aud", "password": "wrong password!",
                                                    "csrf_token": csrf_of(page)}, environ_base=address)
        assert wrong.status_code == 400 and "用户名或密码错误" in wrong.get_data(as_text=True)
    limited = client.post("/console/login", data={"username": "aud", "password": "wrong password!",
                                                  "csrf_token": csrf_of(page)}, environ_base=address)
    assert limited.status_code == 429 and "操作太频繁" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) >= 1


def test_reveal_is_for_reviewers_with_a_reason_and_is_audited(app, client, clock, staff, case):
    claim_url = f"/console/claims/{case['claim_id']}"
    sign_in_fully(client, clock, "rev", {})
    short = post_form(client, f"{claim_url}/reveal", {"reason": "看"}, from_page=claim_url)
    assert short.status_code == 400 and FULL_NAME not in short.get_data(as_text=True)
    revealed = post_form(client, f"{claim_url}/reveal", {"reason": "核对医院病历上的姓名"}, from_page=claim_url)
    body = revealed.get_data(as_text=True)
    assert revealed.status_code == 200 and FULL_NAME in body and case["id_number"] in body
    assert FULL_NAME not in client.get(claim_url).get_data(as_text=True)  # shown once, not kept
    [entry] = db.session.execute(select(OperatorAuditEntry).where(
        OperatorAuditEntry.action == "identity.revealed")).scalars()
    assert entry.target_id == case["claim_id"] and entry.after["reason"] == "核对医院病历上的姓名"
    assert FULL_NAME not in str(entry.after) and case["id_number"] not in str(entry.after)

    auditor = app.test_client()
    sign_in_fully(auditor, clock, "aud", {})
    log = auditor.get("/console/audit?action=identity.revealed").get_data(as_text=True)
    assert "identity.revealed" in log and "核对医院病历上的姓名" in log
    exported = auditor.get("/console/audit.csv?action=identity").get_data(as_text=True)
    assert "identity.revealed" in exported and "核对医院病历上的姓名" in exported
    refused = auditor.post(f"{claim_url}/reveal", data={"reason": "审计员想看看", "csrf_token": csrf_of(log)})
    assert refused.status_code == 403


def test_no_full_name_or_id_number_on_any_page_without_a_reveal(app, client, clock, staff, case):
    pages = ["/console/", "/console/claims", f"/console/claims/{case['claim_id']}", "/console/queues/review",
             "/console/queues/investigate", "/console/queues/objections", "/console/queues/payout", "/console/runs",
             "/console/money/refunds", "/console/money/payouts", f"/console/members?membership_id={case['membership_id']}",
             f"/console/members?id_number={case['id_number']}", f"/console/members/{case['membership_id']}",
             "/console/notifications", "/console/audit", "/console/audit.csv", "/console/audit/chain?verify=1",
             "/console/money/reconciliation", "/console/money/reports", "/console/members/name-corrections"]
    secrets: dict[str, str] = {}
    sign_in_fully(client, clock, "rev", secrets)  # under investigation by inv's organisation
    claim_url = f"/console/claims/{case['claim_id']}"
    post_form(client, f"{claim_url}/review", {}, from_page=claim_url)
    assert post_form(client, f"{claim_url}/assign", {"organisation_id": staff["org_id"]},
                     from_page=claim_url).status_code == 302
    for username in ("rev", "inv", "inv_other", "fin", "aud"):
        browser = app.test_client()
        sign_in_fully(browser, clock, username, secrets)
        seen = 0
        for url in pages:
            answer = browser.get(url)
            assert answer.status_code in (200, 403, 404), (username, url, answer.status_code)
            text = answer.get_data(as_text=True)
            # The lookup form echoes the ID number typed into it; nothing else may show it.
            shown = text.replace(f'value="{case["id_number"]}"', "")
            assert FULL_NAME not in shown and case["id_number"] not in shown, (username, url)
            seen += answer.status_code == 200
        assert seen >= 5, username


def test_investigators_see_only_their_organisations_cases_and_documents(client, clock, staff, case):
    rev = {}
    sign_in_fully(client, clock, "rev", rev)
    claim_url = f"/console/claims/{case['claim_id']}"
    post_form(client, f"{claim_url}/review", {}, from_page=claim_url)
    assert post_form(client, f"{claim_url}/assign", {"organisation_id": staff["org_id"]},
                     from_page=claim_url).status_code == 302
    doc_url = f"{claim_url}/documents/{case['document_id']}"
    document = client.get(doc_url)
    assert document.status_code == 200 and document.data == PNG and document.headers["Cache-Control"] == "private, no-store"
    post_form(client, "/console/logout", {}, from_page="/console/")
    assert client.get(doc_url).status_code == 302  # documents need a console session

    sign_in_fully(client, clock, "inv_other", {})
    assert client.get(claim_url).status_code == 404 and client.get(doc_url).status_code == 404
    assert f"#{case['claim_id']}" not in client.get("/console/queues/investigate").get_data(as_text=True)
    post_form(client, "/console/logout", {}, from_page="/console/")
    sign_in_fully(client, clock, "inv", {})
    assert f"#{case['claim_id']}" in client.get("/console/queues/investigate").get_data(as_text=True)
    assert client.get(doc_url).status_code == 200
    sign_in_fully(client, clock, "fin", {})
    assert client.get(doc_url).status_code == 403


def test_console_errors_are_pages_and_the_api_keeps_its_envelope(client, clock, staff):
    sign_in_fully(client, clock, "aud", {})
    unknown_queue = client.get("/console/queues/nope")
    assert unknown_queue.status_code == 404 and "<html" in unknown_queue.get_data(as_text=True)
    missing = client.get("/console/claims/999999")
    assert missing.status_code == 404 and "没有找到" in missing.get_data(as_text=True)
    assert client.get("/api/v1/admin/claims/1").get_json()["error"]["code"] == "token_missing"


def test_member_lookup_needs_a_key_and_never_lists_members(client, clock, staff, case):
    sign_in_fully(client, clock, "aud", {})
    link = f'href="/console/members/{case["membership_id"]}"'
    assert link not in client.get("/console/members").get_data(as_text=True)
    assert link not in client.get("/console/members?plan=adult_789").get_data(as_text=True)
    assert link not in client.get("/console/members?masked_name=欧*").get_data(as_text=True)  # half a key
    found = client.get(f"/console/members?masked_name=欧*&id_last4={case['id_number'][-4:]}").get_data(as_text=True)
    assert link in found and "欧*" in found
    other_plan = client.get(f"/console/members?membership_id={case['membership_id']}&plan=children")
    assert link not in other_plan.get_data(as_text=True)
