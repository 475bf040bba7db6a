"""The API as the mini-program and the operators' tools use it, over Flask's test client: logins
(codes minted by the emulator), joining, top-up orders, claim bodies."""
from __future__ import annotations

import datetime as dt
import itertools

import requests

from app.services.clock import china_date
from tests.support.builders import PASSWORD
from tests.support.consent import CLAIM_CONSENT, JOIN_CONSENT
from tests.support.people import make_id_number, no_answers, region_code, years_ago

_regions = itertools.count(11)  # a region per person: the ID serial repeats after a sex adjustment


def mint_code(emulator_url: str, openid: str, unionid: str | None = None) -> str:
    """A wx.login code for `openid`, as the emulator hands one to the phone."""
    body = {"openid": openid}
    if unionid:
        body["unionid"] = unionid
    response = requests.post(emulator_url + "_emulator/codes", json=body, timeout=5)
    response.raise_for_status()
    return response.json()["code"]


def login(client, emulator_url: str, openid: str) -> dict:
    """Log in like the mini-program does; returns the Authorization header."""
    response = client.post("/api/v1/auth/login", json={"code": mint_code(emulator_url, openid)})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def login_as(client, emulator, openid: str) -> dict:
    """`login` through the emulator fixture."""
    return login(client, emulator.url, openid)


def operator_login(client, username) -> dict:
    response = client.post("/api/v1/admin/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def join_body(clock, plan="adult_789", age=30, relation="self", name="张三", extra_answers=None) -> dict:
    today = (clock.now() + dt.timedelta(hours=8)).date()
    return {"plan_code": plan, "relation": relation, "answers": {**no_answers(), **(extra_answers or {})},
            "consent": JOIN_CONSENT,
            "person": {"name": name, "id_number": make_id_number(years_ago(today, age))}}


def join(client, headers, clock, **options) -> dict:
    response = client.post("/api/v1/memberships", json=join_body(clock, **options), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def join_and_fund(client, headers, clock, *, plan="adult_789", age=30, name="张三丰", sex="M", relation="self",
                  amount_fen=300) -> tuple[int, str]:
    """Join through the API, then credit `amount_fen` directly (no WeChat order); (membership id, ID number)."""
    from app.extensions import db
    from app.services import memberships
    from app.services.unit_of_work import atomic

    id_number = make_id_number(years_ago(china_date(clock.now()), age), sex, region=region_code(next(_regions)))
    body = {"plan_code": plan, "relation": relation, "person": {"name": name, "id_number": id_number},
            "answers": no_answers(), "consent": JOIN_CONSENT}
    response = client.post("/api/v1/memberships", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    membership_id = response.get_json()["id"]
    with atomic(db.session):
        memberships.credit(db.session, membership_id=membership_id, amount_fen=amount_fen,
                           idempotency_key=f"test-topup-{membership_id}", now=clock.now())
    return membership_id, id_number


def order_topup(client, headers, membership_id: int, amount_fen: int) -> dict:
    response = client.post(f"/api/v1/memberships/{membership_id}/topups", json={"amount_fen": amount_fen},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def paid_topup(client, emulator, headers, membership_id: int, amount_fen: int) -> dict:
    """A top-up ordered through the API, paid on the phone, its notification delivered to the app."""
    from tests.support.emulator import NOTIFY_PATH, notification_body, phone_pays, signed, transaction_of

    topup = order_topup(client, headers, membership_id, amount_fen)
    phone_pays(emulator, topup["payment"], silent=True)
    headers_, data = signed(emulator, notification_body(emulator, transaction_of(emulator, topup["order"]["out_trade_no"])))
    assert client.post(NOTIFY_PATH, data=data, headers=headers_).status_code == 204
    return topup


def claim_body(membership_id, clock, *, incident_days_ago=5, diagnosis_days_ago=None, incident_type="illness"):
    today = china_date(clock.now())
    incident = today - dt.timedelta(days=incident_days_ago)
    diagnosis = today - dt.timedelta(days=incident_days_ago if diagnosis_days_ago is None else diagnosis_days_ago)
    return {"membership_id": membership_id, "incident_type": incident_type, "incident_date": incident.isoformat(),
            "diagnosis_date": diagnosis.isoformat(), "diagnosis": "急性白血病", "hospital": "北京协和医院",
            "city": "北京", "description": "住院治疗中", "consent": CLAIM_CONSENT}
