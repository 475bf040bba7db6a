"""Resident identity card numbers (GB 11643-1999): format, checksum, birth date, region and sex.

python-stdnum (`stdnum.cn.ric`) does the checks; it knows the administrative region codes and the
years each was in use, so a number whose region did not exist when its holder was born is refused."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from .errors import InvalidRequest

_FORMAT = re.compile(r"^\d{17}[\dX]$")


@dataclass(frozen=True)
class IdentityFacts:
    id_number: str
    birth_date: dt.date
    sex: str  # 'M' or 'F'


def check_character(first17: str) -> str:
    """The check character of the first 17 digits (stdnum reads the first 17 of a full number)."""
    return ric.calc_check_digit(first17[:17] + "0")


def parse_id_number(raw: str) -> IdentityFacts:
    id_number = (raw or "").strip().upper()
    if not _FORMAT.match(id_number):
        raise InvalidRequest("身份证号码应为18位，最后一位可以是数字或X", code="id_number_format")
    if check_character(id_number) != id_number[17]:
        raise InvalidRequest("身份证号码校验位不正确，请核对后重新输入", code="id_number_checksum")
    try:
        birth = ric.get_birth_date(id_number)
    except stdnum_errors.ValidationError:
        raise InvalidRequest("身份证号码中的出生日期无效", code="id_number_birth_date") from None
    try:
        ric.get_birth_place(id_number)
    except (stdnum_errors.ValidationError, KeyError):  # KeyError: stdnum 2.2 on a known province, unknown county
        raise InvalidRequest("身份证号码中的地区代码无效，请核对后重新输入", code="id_number_region") from None
    sex = "M" if int(id_number[16]) % 2 == 1 else "F"
    return IdentityFacts(id_number=id_number, birth_date=birth, sex=sex)


def age_years(birth: dt.date, day: dt.date) -> int:
    """Whole years of age on `day` (the birthday itself counts; 29 February: on 1 March in other years)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def age_on(birth: dt.date, day: dt.date) -> tuple[int, int]:
    """(whole years, days since birth) on `day`."""
    return age_years(birth, day), (day - birth).days


# Administrative region codes in use for every birth year from 1930 to 2026 (python-stdnum's table):
# synthetic numbers (tests, the demo seed) take their region from here, since the check refuses a
# region that did not exist when its holder was born.
SYNTHETIC_REGION_CODES = (
    "110101", "110102", "110105", "110106", "110107", "110108", "110109", "120101", "120102", "120103",
    "120104", "120105", "120106", "120110", "120111", "120112", "120113", "140121", "140122", "140123",
    "150121", "150122", "150221", "150222", "210224", "210321", "210421", "210422", "210423", "210521",
    "210522", "210624", "210726", "210727", "210921", "210922", "211021", "230722", "310101", "310104",
    "310105", "310106", "310107", "310109", "310110", "330122", "330127", "340121", "340421", "340621",
    "350121", "360121", "430121", "430321", "510121", "510321", "510421", "510422", "520201", "520203",
    "530124", "540121", "540122", "540123", "540124", "540127", "610323", "610324", "610326", "610327",
    "610328", "610329", "620121", "620122", "620123", "630121", "640121", "640122", "640221", "650121",
)
