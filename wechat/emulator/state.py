"""In-memory state of the WeChat emulator, shared by its blueprints.

Every read-modify-write goes through `state.lock` because the emulator runs in
a threaded HTTP server. Time comes from `state.now()` so tests can move the
clock (POST /_emulator/clock) instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import current_app

from wechat.keys import KeySet

STATE_EXTENSION = "wechat_emulator"


@dataclass
class EmulatorConfig:
    appid: str
    secret: str
    keys: KeySet
    token_ttl_seconds: int = 7200
    code_ttl_seconds: int = 300
    notify_time_scale: float = 1.0  # 1.0 = WeChat Pay's real retry schedule
    notify_url: str | None = None  # overrides the notify_url sent with each order

    @classmethod
    def from_keys(cls, keys: KeySet, **overrides: Any) -> "EmulatorConfig":
        return cls(appid=keys.appid, secret=keys.secret, keys=keys, **overrides)


@dataclass
class MiniProgramUser:
    openid: str
    session_key: str  # base64 of 16 bytes, as WeChat issues it
    unionid: str | None = None


@dataclass
class LoginCode:
    openid: str
    issued_at: float
    used: bool = False


@dataclass
class AccessToken:
    value: str
    expires_at: float
    stable: bool  # from cgi-bin/stable_token rather than cgi-bin/token


@dataclass
class Fault:
    """A failure to inject into the next `times` requests to `path`."""

    path: str
    times: int = 1
    errcode: int | None = None  # answer HTTP 200 with this WeChat errcode (mini-program APIs)
    status: int | None = None  # answer with this HTTP status
    code: str | None = None  # answer {"code", "message"} like WeChat Pay v3 (status default 500)
    delay_seconds: float = 0.0  # wait this long (real time), then answer normally


@dataclass
class SentMessage:
    touser: str
    template_id: str
    data: dict
    page: str | None
    miniprogram_state: str | None
    lang: str | None
    sent_at: float


class EmulatorState:
    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] = time.time):
        self.config = config
        self.lock = threading.RLock()
        self._clock = clock
        self._clock_offset = 0.0
        self.users: dict[str, MiniProgramUser] = {}  # openid -> user (and session_key)
        self.codes: dict[str, LoginCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.stable_token: str | None = None
        self.token_requests: Counter[str] = Counter()  # endpoint -> calls
        self.subscribe_quota: Counter[tuple[str, str]] = Counter()  # (openid, template_id)
        self.sent_messages: list[SentMessage] = []
        self.faults: list[Fault] = []
        self.pay: Any = None  # wechat.emulator.pay.PayState when that module is present

    def now(self) -> float:
        return self._clock() + self._clock_offset

    def advance_clock(self, seconds: float) -> float:
        with self.lock:
            self._clock_offset += seconds
            return self.now()

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, path: str) -> Fault | None:
        """The first pending fault for `path`, counting one use of it."""
        with self.lock:
            for fault in self.faults:
                if fault.path == path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None


def current_state() -> EmulatorState:
    """The state of the emulator app handling the current request."""
    return current_app.extensions[STATE_EXTENSION]
