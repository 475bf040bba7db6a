"""The one fen-to-yuan formatter (app/services/money.py) and the one age function (idcard.age_years)."""
import datetime as dt

import pytest
from hypothesis import given, strategies as st

from app.services.idcard import age_on, age_years
from app.services.money import fen_to_yuan_text


@pytest.mark.parametrize("fen,short,amount,ledger", [
    (0, "0元", "0.00元", "¥0.00"),
    (5, "0.05元", "0.05元", "¥0.05"),
    (150, "1.50元", "1.50元", "¥1.50"),
    (300, "3元", "3.00元", "¥3.00"),
    (30_000_000, "30万元", "300000.00元", "¥300,000.00"),
    (30_000_050, "300000.50元", "300000.50元", "¥300,000.50"),
    (-150, "-1.50元", "-1.50元", "-¥1.50"),  # divmod(-150, 100) is (-2, 50): the sign goes outside
    (-5, "-0.05元", "-0.05元", "-¥0.05"),
    (-30_000_000, "-30万元", "-300000.00元", "-¥300,000.00"),
])
def test_each_form(fen, short, amount, ledger):
    assert fen_to_yuan_text(fen) == short
    assert fen_to_yuan_text(fen, form="amount") == amount
    assert fen_to_yuan_text(fen, form="ledger") == ledger


def _fen_of(text: str) -> int:
    body = text.removesuffix("元").replace("¥", "").replace(",", "")
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("-")
    if body.endswith("万"):
        return sign * int(body[:-1]) * 1_000_000
    yuan, _, cents = body.partition(".")
    return sign * (int(yuan) * 100 + int(cents or 0))


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_every_form_reads_back_as_the_same_fen(fen):
    for form in ("short", "amount", "ledger"):
        assert _fen_of(fen_to_yuan_text(fen, form=form)) == fen


def test_the_amount_form_fits_a_subscribe_message_amount_field():
    # digits, a decimal point, two decimals, 元: never 万
    assert "万" not in fen_to_yuan_text(1_000_000_00, form="amount")


@pytest.mark.parametrize("birth,day,years", [
    (dt.date(2010, 3, 2), dt.date(2026, 3, 1), 15),
    (dt.date(2010, 3, 2), dt.date(2026, 3, 2), 16),
    (dt.date(2008, 2, 29), dt.date(2026, 2, 28), 17),
    (dt.date(2008, 2, 29), dt.date(2026, 3, 1), 18),
    (dt.date(2026, 1, 1), dt.date(2026, 1, 1), 0),
])
def test_age_years(birth, day, years):
    assert age_years(birth, day) == years
    assert age_on(birth, day)[0] == years
