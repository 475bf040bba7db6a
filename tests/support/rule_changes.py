"""Rule-change test helpers: a catalogue with one plan's rules changed, loaded as `flask plans load` does."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from app.services import rule_changes
from app.services.plans import load_catalogue


def changed_catalogue(source: str, folder: Path, plan_code: str, **changes: int) -> Path:
    """A copy of the catalogue whose `plan_code` block has the given integer settings changed."""
    text = Path(source).read_text(encoding="utf-8")
    blocks = text.split("[[plans]]\n")
    for i, block in enumerate(blocks):
        if f'code = "{plan_code}"\n' in block:
            for key, value in changes.items():
                block, n = re.subn(rf"^{key} = [0-9_]+$", f"{key} = {value}", block, count=1, flags=re.M)
                assert n == 1, key
            blocks[i] = block
    path = folder / f"plans-{plan_code}-{'-'.join(f'{k}{v}' for k, v in changes.items())}.toml"
    path.write_text("[[plans]]\n".join(blocks), encoding="utf-8")
    return path


def propose(session, app, folder: Path, now: dt.datetime, plan_code: str = "adult_789", *,
            window_days: int = 14, notice_days: int = 30, quorum: rule_changes.Quorum | None = None, **changes: int):
    """Load a catalogue with `changes` to `plan_code`; returns the load result."""
    settings = rule_changes.ProposalSettings(window_days=window_days, notice_days=notice_days,
                                             quorum=quorum or rule_changes.Quorum())
    return load_catalogue(session, changed_catalogue(app.config["PLANS_FILE"], folder, plan_code, **changes), now,
                          settings)
