"""Keyset (cursor) pagination for public lists: a page ends with `next_cursor`, the sort key of its last
row; the next request passes it back as `cursor` and gets the rows after that key. Unlike OFFSET it
costs the same on page 1 and page 1,000, and rows inserted meanwhile neither repeat nor hide others.

A cursor is opaque to clients: integers joined by '_' (a timestamp in microseconds since the epoch, an id)."""
from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError, fields

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class KeysetCursor(fields.String):
    """A cursor of `arity` non-negative integers, loaded as a tuple of ints."""

    def __init__(self, arity: int, **kwargs):
        self.arity = arity
        kwargs.setdefault("metadata", {}).setdefault(
            "description", "next_cursor of the previous page; absent: the first page")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        parts = text.split("_")
        if len(text) > 60 or len(parts) != self.arity or not all(p.isascii() and p.isdigit() for p in parts):
            raise ValidationError("invalid cursor")
        return tuple(int(p) for p in parts)


def timestamp_key(moment: dt.datetime) -> int:
    """Microseconds since the epoch: exact, unlike a float timestamp."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_timestamp_key(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=micros)


def cursor(*parts: int) -> str:
    return "_".join(str(p) for p in parts)
