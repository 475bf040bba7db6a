from __future__ import annotations

import datetime as dt

# China has no daylight saving time: ages, cut-off days and dates shown to members use UTC+8.
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


class FrozenClock:
    """A clock tests (and `--at` CLI options) move by hand: time injected, no sleeping."""

    def __init__(self, at: dt.datetime):
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta) -> dt.datetime:
        self.at = self.at + dt.timedelta(**delta)
        return self.at


def china_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(CHINA_TZ).date()
