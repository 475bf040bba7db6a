"""Resident identity card numbers (GB 11643-1999): checksum, birth date and sex."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .errors import InvalidRequest

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_FORMAT = re.compile(r"^\d{17}[\dX]$")


@dataclass(frozen=True)
class IdentityFacts:
    id_number: str
    birth_date: dt.date
    sex: str  # 'M' or 'F'


def check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS))
    return _CHECK_CHARS[total % 11]


def parse_id_number(raw: str) -> IdentityFacts:
    id_number = (raw or "").strip().upper()
    if not _FORMAT.match(id_number):
        raise InvalidRequest("身份证号码应为18位，最后一位可以是数字或X", code="id_number_format")
    if check_character(id_number[:17]) != id_number[17]:
        raise InvalidRequest("身份证号码校验位不正确，请核对后重新输入", code="id_number_checksum")
    try:
        birth = dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        raise InvalidRequest("身份证号码中的出生日期无效", code="id_number_birth_date") from None
    sex = "M" if int(id_number[16]) % 2 == 1 else "F"
    return IdentityFacts(id_number=id_number, birth_date=birth, sex=sex)


def age_on(birth: dt.date, day: dt.date) -> tuple[int, int]:
    """(whole years, days since birth) on `day`."""
    years = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
    return years, (day - birth).days
