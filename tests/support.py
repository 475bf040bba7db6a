"""Helpers shared by tests: synthetic ID numbers, logins through the emulator, money posting."""
from __future__ import annotations

import datetime as dt
import itertools

import requests

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


def decode_qr(png: bytes) -> list[str]:
    """The texts of the QR codes in a PNG, read by zbar (libzbar0, installed by scripts/system_packages.sh)."""
    import io

    from PIL import Image

    try:
        from pyzbar.pyzbar import decode
    except ImportError as exc:  # the Python package is there; the shared library is missing
        from tests.conftest import _unreachable

        _unreachable("zbar (libzbar0)", exc)
    image = Image.open(io.BytesIO(png)).convert("L")
    return [symbol.data.decode() for symbol in decode(image)]


# --- consents (docs/privacy.md): what the mini-program sends once the payer ticked the boxes ----
from app.services import consents as _consents  # noqa: E402
from config import PRIVACY_POLICY_FILE  # noqa: E402

POLICY = _consents.load_policy(str(PRIVACY_POLICY_FILE))
JOIN_CONSENT = {"policy_version": POLICY.version, "scopes": list(_consents.JOIN_SCOPES)}
CLAIM_CONSENT = {"policy_version": POLICY.version, "scopes": list(_consents.CLAIM_SCOPES)}


def join_consented(session, pii, *, user_id, request, now):
    """memberships.join with the payer's consents given under the current policy."""
    import dataclasses

    from app.services import memberships

    return memberships.join(session, pii, user_id=user_id, now=now, policy=POLICY,
                            request=dataclasses.replace(request, consent=_consents.for_join(POLICY)))


def report_consented(session, *, user_id, request, now):
    """claims.report with the payer's consents given under the current policy."""
    import dataclasses

    from app.services import claims

    return claims.report(session, user_id=user_id, now=now, policy=POLICY,
                         request=dataclasses.replace(request, consent=_consents.for_claim(POLICY)))
