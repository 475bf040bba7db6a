from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime


class User(Base):
    """A WeChat user of the mini-program: the payer who holds memberships."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    # WeChat's session_key, encrypted: it decrypts open data server-side and never leaves the server.
    session_key_encrypted: Mapped[str | None] = mapped_column(Text)
    invite_code: Mapped[str] = mapped_column(String(16), unique=True)
    invited_by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
