"""Inputs anyone can send (reproductions of hostile requests): each answers 4xx in the envelope and changes
nothing, on both databases. NUL and lone surrogates used to reach PostgreSQL (500), deep JSON hit
Python's recursion limit, a 5,000-digit number its int-string limit."""
import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Base
from tests.support import join_body, login, make_operator, operator_login


def row_counts() -> dict[str, int]:
    return {table.name: db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables}


def raw_json(value) -> str:
    # json.dumps escapes a lone surrogate as "\ud800": valid JSON text, the way an attacker sends it.
    return json.dumps(value)


@pytest.fixture
def member_headers(client, emulator):
    return login(client, emulator.url, "o-hostile")


@pytest.fixture
def operator_headers(client, clock):
    make_operator("auditor-hostile", "auditor", now=clock.now())
    return operator_login(client, "auditor-hostile")


def assert_refused(response, status=400, code=None):
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
    if code:
        assert body["error"]["code"] == code, body


NUL_URLS = [
    "/api/v1/announcements?plan_code=%00",
    "/api/v1/plans/a%00",
    "/api/v1/plans/a%00/runs",
    "/api/v1/groups/a%00/summary",
    "/api/v1/admin/claims?status=%00",
    "/api/v1/plans?x=%ED%A0%80%00",
]


@pytest.mark.parametrize("url", NUL_URLS)
def test_nul_in_paths_and_query_strings(client, member_headers, operator_headers, url):
    headers = operator_headers if "/admin/" in url else member_headers
    before = row_counts()
    assert_refused(client.get(url, headers=headers), 400, "invalid_characters")
    assert row_counts() == before


@pytest.mark.parametrize("text", ["a\u0000", "\ud800", "ok\udfffok"])
def test_bad_text_in_logins_needs_no_account(client, text):
    before = row_counts()
    member = client.post("/api/v1/auth/login", data=raw_json({"code": text}), content_type="application/json")
    assert_refused(member, 400, "invalid_characters")
    assert member.get_json()["error"]["details"] == {"location": "json", "field": "code"}
    operator = client.post("/api/v1/admin/auth/login", data=raw_json({"username": text, "password": "x"}),
                           content_type="application/json")
    assert_refused(operator, 400, "invalid_characters")
    assert row_counts() == before


@pytest.mark.parametrize("text", ["adult\u0000", "adult\ud800"])
def test_bad_text_in_a_join_and_in_consents(client, member_headers, clock, text):
    before = row_counts()
    body = join_body(clock)
    body["plan_code"] = text
    assert_refused(client.post("/api/v1/memberships", data=raw_json(body), content_type="application/json",
                               headers=member_headers), 400, "invalid_characters")
    body = join_body(clock)
    body["person"]["name"] = "张" + text
    assert_refused(client.post("/api/v1/memberships", data=raw_json(body), content_type="application/json",
                               headers=member_headers), 400, "invalid_characters")
    assert_refused(client.post("/api/v1/subscriptions", data=raw_json({"accepted": [text]}),
                               content_type="application/json", headers=member_headers), 400, "invalid_characters")
    assert_refused(client.post("/api/v1/sponsor/lookup", data=raw_json({"token": text}),
                               content_type="application/json", headers=member_headers), 400, "invalid_characters")
    assert_refused(client.get("/api/v1/sponsor/a%00", headers=member_headers), 400, "invalid_characters")
    # A key is text too.
    assert_refused(client.post("/api/v1/subscriptions", data=raw_json({text: ["x"]}),
                               content_type="application/json", headers=member_headers), 400, "invalid_characters")
    assert row_counts() == before


def test_deep_json_and_huge_numbers(client, member_headers, clock):
    membership = client.post("/api/v1/memberships", json=join_body(clock), headers=member_headers).get_json()
    before = row_counts()
    deep = "[" * 1000 + "]" * 1000
    topups = f"/api/v1/memberships/{membership['id']}/topups"
    for url, headers in (("/api/v1/auth/login", {}), (topups, member_headers)):
        assert_refused(client.post(url, data=deep, content_type="application/json", headers=headers),
                       400, "json_too_deep")
        nested = '{"code": ' + "[" * 40 + "]" * 40 + "}"
        assert_refused(client.post(url, data=nested, content_type="application/json", headers=headers),
                       400, "json_too_deep")
    huge = "9" * 5000
    assert_refused(client.post(topups, data='{"amount_fen": ' + huge + "}", content_type="application/json",
                               headers=member_headers), 400, "json_number_too_long")
    assert_refused(client.post(topups, data='{"amount_fen": 0.' + huge + "}", content_type="application/json",
                               headers=member_headers), 400, "json_number_too_long")
    assert_refused(client.post(topups, data='{"amount_fen": NaN}', content_type="application/json",
                               headers=member_headers), 400, "malformed_json")
    assert_refused(client.post(topups, data=b'{"amount_fen": "\xff"}', content_type="application/json",
                               headers=member_headers), 400, "malformed_json")
    # Brackets inside strings are text, not nesting.
    fine = client.post("/api/v1/auth/login", json={"code": "[" * 100})
    assert fine.status_code == 400 and fine.get_json()["error"]["code"] != "json_too_deep"
    assert row_counts() == before


@pytest.mark.no_database
def test_405_names_the_allowed_methods(client):
    response = client.delete("/api/v1/plans")
    assert_refused(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET"}
    assert "DELETE" not in response.headers["Allow"]


def test_over_long_url_is_414_in_the_envelope(client, app):
    limit = app.config["MAX_URL_LENGTH"]
    assert client.get("/api/v1/plans?q=" + "x" * (limit - 20)).status_code == 200
    response = client.get("/api/v1/plans?q=" + "x" * limit)
    assert_refused(response, 414, "uri_too_long")


def test_a_multipart_part_without_a_name_is_no_500(client, member_headers):
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data\r\n\r\nno name\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF-\r\n"
            f"--{boundary}--\r\n").encode()
    response = client.post("/api/v1/claims/1/documents", data=body, headers=member_headers,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert_refused(response, 404, "claim_not_found")
