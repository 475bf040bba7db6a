"""Helpers shared by tests: synthetic ID numbers, logins through the emulator, money posting."""
from __future__ import annotations

import datetime as dt
import itertools

import requests

from app.services.idcard import check_character

_serial = itertools.count(100)

# Administrative region codes in use for every birth year from 1930 to 2026 (python-stdnum's table):
# the ID check refuses a region that did not exist when its holder was born.
REGION_CODES = (
    "110101", "110102", "110105", "110106", "110107", "110108", "110109", "120101", "120102", "120103",
    "120104", "120105", "120106", "120110", "120111", "120112", "120113", "140121", "140122", "140123",
    "150121", "150122", "150221", "150222", "210224", "210321", "210421", "210422", "210423", "210521",
    "210522", "210624", "210726", "210727", "210921", "210922", "211021", "230722", "310101", "310104",
    "310105", "310106", "310107", "310109", "310110", "330122", "330127", "340121", "340421", "340621",
    "350121", "360121", "430121", "430321", "510121", "510321", "510421", "510422", "520201", "520203",
    "530124", "540121", "540122", "540123", "540124", "540127", "610323", "610324", "610326", "610327",
    "610328", "610329", "620121", "620122", "620123", "630121", "640121", "640122", "640221", "650121",
)


def region_code(n: int) -> str:
    """The n-th valid region code (cycling): tests vary the region to keep synthetic numbers apart."""
    return REGION_CODES[n % len(REGION_CODES)]


def make_id_number(birth: dt.date, sex: str = "M", region: str = "110101") -> str:
    """A synthetic, checksum-valid ID number for someone born on `birth` (nobody real)."""
    seq = next(_serial) % 1000
    sex_digit = seq % 10
    if (sex == "M") != (sex_digit % 2 == 1):
        seq = (seq + 1) % 1000
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + check_character(body)


def years_ago(today: dt.date, years: int, days: int = 0) -> dt.date:
    try:
        birth = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        birth = today.replace(year=today.year - years, day=28)
    return birth - dt.timedelta(days=days)


def mint_code(emulator_url: str, openid: str, unionid: str | None = None) -> str:
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


def no_answers(yes: tuple[str, ...] = ()) -> dict[str, bool]:
    answers = {"has_major_illness": False, "in_hospital_or_awaiting_diagnosis": False,
               "has_chronic_organ_failure": False}
    for key in yes:
        answers[key] = True
    return answers
