"""Money for people to read. The core counts integer fen; yuan appear only here, at the edges.

One formatter, three forms, all exact (integer arithmetic) and signed the same way (−1.50 is
'-1.50元', never the '-2.50元' that divmod of a negative number gives):
- "short" (sentences: plan rules, run notes, messages): '30万元', '3元', '1.50元';
- "amount" (a subscribe message's amount keyword, which takes digits, two decimals and 元,
  never 万): '3.00元', '300000.00元';
- "ledger" (tables of the financial report): '¥1,234.50'."""
from __future__ import annotations

from typing import Literal

Form = Literal["short", "amount", "ledger"]


def fen_to_yuan_text(fen: int, *, form: Form = "short") -> str:
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    if form == "ledger":
        return f"{sign}¥{yuan:,}.{cents:02d}"
    if form == "amount" or cents:
        return f"{sign}{yuan}.{cents:02d}元"
    if yuan >= 10_000 and yuan % 10_000 == 0:
        return f"{sign}{yuan // 10_000}万元"
    return f"{sign}{yuan}元"
