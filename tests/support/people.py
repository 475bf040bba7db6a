"""Synthetic people: checksum-valid ID numbers with real region codes (nobody real), birthdays by age,
the health declaration with no condition."""
from __future__ import annotations

import datetime as dt
import itertools

from app.services.idcard import SYNTHETIC_REGION_CODES, check_character

_serial = itertools.count(100)

REGION_CODES = SYNTHETIC_REGION_CODES


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


def no_answers(yes: tuple[str, ...] = ()) -> dict[str, bool]:
    answers = {"has_major_illness": False, "in_hospital_or_awaiting_diagnosis": False,
               "has_chronic_organ_failure": False}
    for key in yes:
        answers[key] = True
    return answers
