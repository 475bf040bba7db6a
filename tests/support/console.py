"""The operators' console over Flask's test client: forms with their CSRF token, sign-in, TOTP."""
from __future__ import annotations

import html
import re

import pyotp

from tests.support.builders import PASSWORD

_CSRF = re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"')
_SECRET = re.compile(r'data-testid="totp-secret">([A-Z2-7 ]+)<')


def csrf_of(page_html: str) -> str:
    match = _CSRF.search(page_html)
    assert match, "no CSRF token in the page"
    return html.unescape(match.group(1))


def post_form(client, url: str, data: dict, *, from_page: str | None = None, **kwargs):
    """POST `data` with the CSRF token of the page at `from_page` (default: `url`'s page)."""
    page = client.get(from_page or url)
    return client.post(url, data={**data, "csrf_token": csrf_of(page.get_data(as_text=True))}, **kwargs)


def sign_in(client, username: str, password: str = PASSWORD):
    return post_form(client, "/console/login", {"username": username, "password": password})


def enrol_totp(client, clock) -> str:
    """Enrol from the page the operator sees (the secret as printed), confirm with a fresh code."""
    page = client.get("/console/totp/enrol").get_data(as_text=True)
    secret = _SECRET.search(page).group(1).replace(" ", "")
    answer = client.post("/console/totp/enrol", data={"csrf_token": csrf_of(page),
                                                      "code": pyotp.TOTP(secret).at(clock.now())})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/"), answer.get_data(as_text=True)
    return secret


def second_factor(client, clock, secret: str):
    return post_form(client, "/console/totp", {"code": pyotp.TOTP(secret).at(clock.now())})


def sign_in_fully(client, clock, username: str, secrets: dict[str, str]) -> None:
    """Password, then TOTP when the role needs it (enrolled on first use, remembered in `secrets`)."""
    answer = sign_in(client, username)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    target = answer.headers["Location"]
    if client.get("/console/").status_code == 200:
        return
    if username not in secrets:
        secrets[username] = enrol_totp(client, clock)
    else:
        clock.advance(seconds=30)  # a code is accepted once: the next sign-in uses the next time step
        assert second_factor(client, clock, secrets[username]).status_code == 302
    assert client.get("/console/").status_code == 200, target
