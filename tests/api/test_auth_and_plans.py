import logging

import requests

from tests.support import login, mint_code


def test_login_creates_user_and_returns_our_token(client, emulator):
    code = mint_code(emulator.url, "o-login-1", unionid="u-1")
    response = client.post("/api/v1/auth/login", json={"code": code})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["token_type"] == "Bearer" and body["user"]["is_new"] is True
    assert "session_key" not in response.get_data(as_text=True)
    again = client.post("/api/v1/auth/login", json={"code": mint_code(emulator.url, "o-login-1")})
    assert again.get_json()["user"] == {**body["user"], "is_new": False}
    me = client.get("/api/v1/memberships", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json() == {"items": []}


def test_reused_code_names_wechat_error(client, emulator):
    code = mint_code(emulator.url, "o-login-2")
    assert client.post("/api/v1/auth/login", json={"code": code}).status_code == 200
    second = client.post("/api/v1/auth/login", json={"code": code})
    assert second.status_code == 400
    error = second.get_json()["error"]
    assert error["code"] == "wechat_login_failed" and error["details"]["errcode"] == 40163


def test_expired_and_unknown_codes(client, emulator):
    code = mint_code(emulator.url, "o-login-3")
    requests.post(emulator.url + "_emulator/clock", json={"advance_seconds": 301}, timeout=5)
    expired = client.post("/api/v1/auth/login", json={"code": code})
    assert expired.status_code == 400 and expired.get_json()["error"]["details"]["errcode"] == 40029
    unknown = client.post("/api/v1/auth/login", json={"code": "not-a-code"})
    assert unknown.get_json()["error"]["details"]["errcode"] == 40029


def test_session_key_never_logged(client, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    login(client, emulator.url, "o-login-4")
    key = requests.get(emulator.url + "_emulator/sessions/o-login-4", timeout=5).json()["session_key"]
    assert key not in caplog.text


def test_bad_tokens_get_401(client):
    for header in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/memberships", headers=header)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] in {"token_missing", "token_invalid"}


def test_plans_list_the_six_with_rules_in_words(client):
    response = client.get("/api/v1/plans")
    plans = response.get_json()["items"]
    assert [p["code"] for p in plans] == [
        "adult_789", "mother_baby", "children", "seniors", "transit_accident", "left_behind_children"]
    adult = plans[0]
    assert adult["max_aid_fen"] == 30_000_000 and adult["share_cap_fen"] == 300 and adult["min_prepay_fen"] == 300
    assert adult["observation_days"] == 180 and adult["counts"] == {"members": 0, "observing": 0, "protected": 0}
    assert any("30万元" in line for line in adult["rules_in_words"])
    transit = client.get("/api/v1/plans/transit_accident").get_json()
    assert transit["observation_days"] == 30 and transit["covered_incidents"] == ["accident"]
    missing = client.get("/api/v1/plans/nope")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "plan_not_found"


def test_wechat_outage_is_503_not_a_login_error(client, emulator):
    requests.post(emulator.url + "_emulator/faults",
                  json={"path": "sns/jscode2session", "status": 503, "times": 1}, timeout=5)
    response = client.post("/api/v1/auth/login", json={"code": mint_code(emulator.url, "o-login-5")})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "upstream_unavailable"
