import datetime as dt

import pytest

from app.extensions import db
from app.services import memberships
from app.services.unit_of_work import atomic
from tests.support import JOIN_CONSENT, make_id_number, no_answers, years_ago


def today(clock):
    return (clock.now() + dt.timedelta(hours=8)).date()


def join_body(clock, plan="adult_789", age=30, relation="self", answers=None, sex="M", name="张三"):
    return {
        "plan_code": plan,
        "relation": relation,
        "person": {"name": name, "id_number": make_id_number(years_ago(today(clock), age), sex)},
        "answers": answers if answers is not None else no_answers(),
        "consent": JOIN_CONSENT,
    }


def test_join_then_read_masked(client, alice, clock):
    body = join_body(clock, plan="children", age=16, relation="child", name="张小宝")
    response = client.post("/api/v1/memberships", json=body, headers=alice)
    data = response.get_json()
    assert response.status_code == 201, data
    assert data["person_name"] == "张*"
    assert data["id_number"] == body["person"]["id_number"][:4] + "*" * 10 + body["person"]["id_number"][-4:]
    assert data["state"] == "pending" and data["balance_fen"] == 0 and data["age_years"] == 16
    assert body["person"]["id_number"] not in response.get_data(as_text=True)
    listed = client.get("/api/v1/memberships", headers=alice).get_json()["items"]
    assert [m["id"] for m in listed] == [data["id"]]


def test_refusals_carry_reasons(client, alice, clock):
    adult = client.post("/api/v1/memberships", json=join_body(clock, age=16, relation="child"), headers=alice)
    assert adult.status_code == 400 and adult.get_json()["error"]["code"] == "not_eligible"
    bad_checksum = join_body(clock)
    number = bad_checksum["person"]["id_number"]
    bad_checksum["person"]["id_number"] = number[:17] + ("0" if number[17] != "0" else "1")
    assert client.post("/api/v1/memberships", json=bad_checksum, headers=alice).get_json()["error"]["code"] == "id_number_checksum"
    sick = client.post("/api/v1/memberships", json=join_body(clock, answers=no_answers(yes=("has_major_illness",))), headers=alice)
    assert sick.status_code == 400 and "重大疾病" in sick.get_json()["error"]["message"]
    body = join_body(clock)
    assert client.post("/api/v1/memberships", json=body, headers=alice).status_code == 201
    dup = client.post("/api/v1/memberships", json=body, headers=alice)
    assert dup.status_code == 409 and dup.get_json()["error"]["code"] == "already_member"


def test_another_users_membership_is_404(client, alice, bob, clock):
    mine = client.post("/api/v1/memberships", json=join_body(clock), headers=alice).get_json()
    assert client.get(f"/api/v1/memberships/{mine['id']}", headers=alice).status_code == 200
    theirs = client.get(f"/api/v1/memberships/{mine['id']}", headers=bob)
    assert theirs.status_code == 404 and theirs.get_json()["error"]["code"] == "membership_not_found"
    assert client.get("/api/v1/memberships", headers=bob).get_json()["items"] == []


def test_credit_makes_it_observing_with_countdown(client, alice, clock, services):
    created = client.post("/api/v1/memberships", json=join_body(clock), headers=alice).get_json()
    with atomic(db.session):
        memberships.credit(db.session, membership_id=created["id"], amount_fen=300, idempotency_key="t-1",
                           now=clock.now())
    clock.advance(days=10)
    data = client.get(f"/api/v1/memberships/{created['id']}", headers=alice).get_json()
    assert data["state"] == "observing" and data["balance_fen"] == 300
    assert data["observation_days_left"] == 170
    plans = {p["code"]: p for p in client.get("/api/v1/plans").get_json()["items"]}
    assert plans["adult_789"]["counts"] == {"members": 1, "observing": 1, "protected": 0}


@pytest.mark.parametrize("payload,status,code", [
    ("{not json", 400, "malformed_json"),
    ({"plan_code": "adult_789"}, 422, "validation_error"),
    ({"plan_code": "adult_789", "relation": "self", "person": {"name": "张三", "id_number": "x"},
      "answers": {}, "extra": 1}, 422, "validation_error"),
    ({"plan_code": "adult_789", "relation": "self", "person": {"name": "张三", "id_number": "x"},
      "answers": {"has_major_illness": "no"}}, 422, "validation_error"),
    ({"plan_code": 5, "relation": "self", "person": {"name": "张三", "id_number": "x"}, "answers": {}}, 422,
     "validation_error"),
])
def test_bad_input_is_4xx_and_writes_nothing(client, alice, payload, status, code):
    if isinstance(payload, str):
        response = client.post("/api/v1/memberships", data=payload, headers={**alice, "Content-Type": "application/json"})
    else:
        response = client.post("/api/v1/memberships", json=payload, headers=alice)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert client.get("/api/v1/memberships", headers=alice).get_json()["items"] == []


def test_huge_body_is_413(client, alice):
    response = client.post("/api/v1/memberships", data="x" * 200_000, headers={**alice, "Content-Type": "application/json"})
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "body_too_large"


def test_unknown_route_and_method_use_the_envelope(client):
    assert client.get("/api/v1/nothing").get_json()["error"]["code"] == "not_found"
    assert client.delete("/api/v1/plans").get_json()["error"]["code"] == "method_not_allowed"


def test_openapi_document_describes_the_schemas(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/memberships" in spec["paths"] and "/api/v1/auth/login" in spec["paths"]
    join = spec["paths"]["/api/v1/memberships"]["post"]
    assert join["security"] == [{"bearerAuth": []}]
    assert "JoinRequestIn" in spec["components"]["schemas"]
    assert "balance_fen" in spec["components"]["schemas"]["MembershipOut"]["properties"]
