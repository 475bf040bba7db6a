import datetime as dt

import pytest
from hypothesis import given, strategies as st

from app.services.errors import InvalidRequest
from app.services.idcard import age_on, check_character, parse_id_number
from app.services.pii import PiiProtector, mask_id_number, mask_name
from app.services.tokens import TokenIssuer
from app.services.errors import Unauthorized
from tests.support import REGION_CODES, make_id_number

KEY = "ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy1sb25nISE="
HASH_KEY = "ZGV2LW9ubHktaGFzaC1rZXktMzItYnl0ZXMtbG9uZyE="


def test_known_checksum():
    # The GB 11643 example number: 11010519491231002X.
    assert check_character("11010519491231002") == "X"
    facts = parse_id_number("11010519491231002x")
    assert facts.birth_date == dt.date(1949, 12, 31)
    assert facts.sex == "F"


@pytest.mark.parametrize("raw,code", [
    ("11010519491231002", "id_number_format"),
    ("110105194912310021", "id_number_checksum"),
    ("1101051949123100AX", "id_number_format"),
])
def test_bad_numbers_are_refused_with_a_reason(raw, code):
    with pytest.raises(InvalidRequest) as err:
        parse_id_number(raw)
    assert err.value.code == code


def test_impossible_birth_date():
    body = "11010520230230001"
    with pytest.raises(InvalidRequest) as err:
        parse_id_number(body + check_character(body))
    assert err.value.code == "id_number_birth_date"


def _with_check(body: str) -> str:
    return body + check_character(body)


@pytest.mark.parametrize("body", [
    "99000019900101001",  # no such region
    "11019919900101001",  # Beijing, but no such district
    "11011119700101001",  # 房山区 exists since 1986: not for someone born in 1970
])
def test_region_codes_are_checked(body):
    with pytest.raises(InvalidRequest) as err:
        parse_id_number(_with_check(body))
    assert err.value.code == "id_number_region"


def test_region_in_use_at_birth_is_accepted():
    assert parse_id_number(_with_check("11011119900101001")).birth_date == dt.date(1990, 1, 1)


def test_test_region_codes_are_valid_for_every_birth_year_used():
    for code in REGION_CODES:
        for year in (1930, 2026):
            parse_id_number(_with_check(f"{code}{year}0101001"))


@given(st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2026, 1, 1)), st.sampled_from("MF"))
def test_generated_numbers_roundtrip(birth, sex):
    facts = parse_id_number(make_id_number(birth, sex))
    assert facts.birth_date == birth and facts.sex == sex


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_exactly_one_check_character_is_valid(body, last):
    valid = check_character(body) == last
    try:
        parse_id_number(body + last)
        accepted = True
    except InvalidRequest as err:
        accepted = False
        if valid:
            assert err.code in ("id_number_birth_date", "id_number_region")
    assert accepted <= valid


def test_age_counts_birthdays():
    assert age_on(dt.date(2010, 3, 2), dt.date(2026, 3, 1))[0] == 15
    assert age_on(dt.date(2010, 3, 2), dt.date(2026, 3, 2))[0] == 16
    assert age_on(dt.date(2026, 1, 1), dt.date(2026, 1, 29))[1] == 28


def test_pii_encrypts_and_masks():
    pii = PiiProtector(KEY, HASH_KEY)
    secret = pii.encrypt("张三丰")
    assert "张" not in secret and pii.decrypt(secret) == "张三丰"
    assert pii.encrypt("张三丰") != secret  # random nonce
    assert pii.lookup_hash("110105194912310021") == pii.lookup_hash("110105194912310021")
    assert mask_name("张三丰") == "张*"
    assert mask_id_number("11010519491231002X") == "1101**********002X"


def test_pii_rejects_short_keys():
    with pytest.raises(ValueError):
        PiiProtector("c2hvcnQ=", HASH_KEY)


def test_tokens_expire_and_are_audience_bound():
    members = TokenIssuer("k" * 32, "member", 60)
    operators = TokenIssuer("k" * 32, "operator", 60)
    token = members.issue(7)
    assert members.verify(token) == 7
    with pytest.raises(Unauthorized):
        operators.verify(token)
    with pytest.raises(Unauthorized):
        members.verify(token + "x")
    expired = TokenIssuer("k" * 32, "member", -1)
    with pytest.raises(Unauthorized) as err:
        expired.verify(token)
    assert err.value.code == "token_expired"
