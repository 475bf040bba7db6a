"""The app's side of WeChat's mini-program server APIs, over wechatpy.

Points wechatpy at any base URL (api.weixin.qq.com in production, the local
emulator in development and tests), takes access tokens from cgi-bin/stable_token,
shares them across processes through Redis with one refresh at a time, and turns
every failure into the services' port exceptions (app.services.ports): WeChatRejected when WeChat
answers with an errcode, WeChatUnavailable for timeouts and network or HTTP failures,
OpenDataInvalid for open data that does not decrypt.
"""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

import requests
from requests.adapters import HTTPAdapter
from wechatpy import WeChatClient
from wechatpy.crypto import WeChatWxaCrypto
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

from app.services.ports import OpenDataInvalid, WeChatCallFailed, WeChatRejected, WeChatUnavailable

from .metrics import observed_call

PRODUCTION_API_BASE = "https://api.weixin.qq.com/"
# Errors that mean "the token you sent is no good": refresh once and retry.
TOKEN_ERRCODES = {40001, 40014, 42001}
TOKEN_EXPIRY_MARGIN_SECONDS = 300  # refresh early rather than send a token about to expire
T = TypeVar("T")


def _failure(errcode: int | None, errmsg: str) -> WeChatCallFailed:
    return WeChatUnavailable(errmsg) if errcode is None else WeChatRejected(errcode, errmsg)


@dataclass
class Session:
    openid: str
    unionid: str | None
    session_key: str  # stays on the server


# --- token storage ---------------------------------------------------------------


class MemoryTokenStorage(MemoryStorage):
    """wechatpy's MemoryStorage, honouring TTLs, with a lock for one refresh per process."""

    def __init__(self):
        super().__init__()
        self._expiry: dict[str, float] = {}
        self._refresh_lock = threading.Lock()

    def get(self, key, default=None):
        if self._expiry.get(key, float("inf")) <= time.monotonic():
            self.delete(key)
        return super().get(key, default)

    def set(self, key, value, ttl=None):
        super().set(key, value, ttl)
        if ttl:
            self._expiry[key] = time.monotonic() + ttl

    def delete(self, key):
        super().delete(key)
        self._expiry.pop(key, None)

    @contextmanager
    def refresh_lock(self, key: str) -> Iterator[bool]:
        acquired = self._refresh_lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                self._refresh_lock.release()


class RedisTokenStorage(RedisStorage):
    """wechatpy's RedisStorage plus a cross-process refresh lock (SET NX PX)."""

    # Delete the lock only if it is still ours (it may have expired and been taken).
    _RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

    def __init__(self, redis_client, prefix: str = "wechat", lock_ttl_ms: int = 10_000):
        super().__init__(redis_client, prefix)
        self.lock_ttl_ms = lock_ttl_ms

    @contextmanager
    def refresh_lock(self, key: str) -> Iterator[bool]:
        lock_key = self.key_name(f"{key}:refresh_lock")
        owner = uuid.uuid4().hex
        acquired = bool(self.redis.set(lock_key, owner, nx=True, px=self.lock_ttl_ms))
        try:
            yield acquired
        finally:
            if acquired:
                self.redis.eval(self._RELEASE_SCRIPT, 1, lock_key, owner)


# --- wechatpy client -------------------------------------------------------------


class _StableTokenWeChatClient(WeChatClient):
    """wechatpy's client aimed at `api_base`, taking tokens from cgi-bin/stable_token.

    Only one refresher at a time (per storage's refresh_lock); the others wait
    briefly for the token it stores.
    """

    def __init__(self, appid, secret, api_base, storage, timeout, refresh_wait_seconds=5.0):
        super().__init__(appid, secret, session=storage, timeout=timeout, auto_retry=False)
        self.api_base = api_base
        self.refresh_wait_seconds = refresh_wait_seconds
        # API_BASE_URL is copied per API group: point each one we use at api_base.
        self.API_BASE_URL = api_base + "cgi-bin/"
        self.wxa.API_BASE_URL = api_base
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)

    @property
    def access_token(self):
        # Storage TTLs say when a token is due, so a token stored by another process is trusted.
        return self.session.get(self.access_token_key) or self.refresh_access_token(rejected=None)

    def fetch_access_token(self):
        return self.refresh_access_token(rejected=self.session.get(self.access_token_key))

    def refresh_access_token(self, rejected: str | None) -> str:
        """A token other than `rejected`: someone else's fresh one, or one we fetch."""
        deadline = time.monotonic() + self.refresh_wait_seconds
        while True:
            token = self.session.get(self.access_token_key)
            if token and token != rejected:
                return token
            with self.session.refresh_lock(self.access_token_key) as acquired:
                if acquired:
                    # The previous holder may have stored a token since we looked.
                    token = self.session.get(self.access_token_key)
                    return token if token and token != rejected else self._fetch_stable_token()
            if time.monotonic() > deadline:
                raise WeChatUnavailable("timed out waiting for another process to refresh the access token", timed_out=True)
            time.sleep(0.05)

    def _fetch_stable_token(self) -> str:
        with observed_call("mp", "stable_token", _errcode_of):
            return self._request_stable_token()

    def _request_stable_token(self) -> str:
        response = self._http.post(
            self.api_base + "cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": False,
            },
            timeout=self.timeout,
        )
        response.raise_for_status()
        result = response.json()
        if result.get("errcode"):
            raise WeChatRejected(result["errcode"], result.get("errmsg", ""))
        ttl = max(int(result["expires_in"]) - TOKEN_EXPIRY_MARGIN_SECONDS, 1)
        self.session.set(self.access_token_key, result["access_token"], ttl)
        return result["access_token"]


# --- the app-facing client -------------------------------------------------------


class MiniProgramClient:
    def __init__(
        self,
        appid: str,
        secret: str,
        api_base: str = PRODUCTION_API_BASE,
        token_storage: MemoryTokenStorage | RedisTokenStorage | None = None,
        timeout: float = 5,
    ):
        self.appid = appid
        self._wechat = _StableTokenWeChatClient(
            appid,
            secret,
            api_base if api_base.endswith("/") else api_base + "/",
            token_storage or MemoryTokenStorage(),
            timeout,
        )

    def code_to_session(self, code: str) -> Session:
        result = self._call("code_to_session", lambda: self._wechat.wxa.code_to_session(code))
        return Session(
            openid=result["openid"],
            unionid=result.get("unionid"),
            session_key=result["session_key"],
        )

    def send_subscribe_message(
        self, openid: str, template_id: str, data: dict[str, str], page: str | None = None
    ) -> None:
        wrapped = {key: {"value": value} for key, value in data.items()}
        self._call("send_subscribe_message",
                   lambda: self._wechat.wxa.send_subscribe_message(openid, template_id, wrapped, page))

    def get_unlimited_code(self, scene: str, page: str | None, width: int = 430) -> bytes:
        """The PNG of a mini-program code; the page reads `scene` from its query."""
        response = self._call(
            "get_unlimited_code", lambda: self._wechat.wxa.get_wxa_code_unlimited(scene, width=width, page=page)
        )
        # wechatpy hands back the raw response when the body is not JSON (i.e. the image).
        if isinstance(response, dict):
            raise _failure(response.get("errcode"), response.get("errmsg", "no image"))
        return response.content

    def decrypt_open_data(self, session_key: str, encrypted_data: str, iv: str) -> dict:
        try:
            return WeChatWxaCrypto(session_key, iv, self.appid).decrypt_message(encrypted_data)
        except Exception as exc:  # bad base64, key, padding or JSON, or another appid
            raise OpenDataInvalid(f"open data rejected: {type(exc).__name__}") from exc

    def _call(self, operation: str, request: Callable[[], T]) -> T:
        """Run a wechatpy call; on a rejected token refresh it once and retry. Each call is logged
        and its failures counted by errcode (wechat.metrics)."""
        for attempt in (1, 2):
            used_token = self._translate_errors(lambda: self._wechat.access_token)
            try:
                with observed_call("mp", operation, _errcode_of):
                    return self._translate_errors(request)
            except WeChatCallFailed as error:
                if error.errcode not in TOKEN_ERRCODES or attempt == 2:
                    raise
                self._wechat.refresh_access_token(rejected=used_token)
        raise AssertionError("unreachable")

    @staticmethod
    def _translate_errors(request: Callable[[], T]) -> T:
        try:
            return request()
        except requests.Timeout as exc:
            raise WeChatUnavailable(str(exc), timed_out=True) from exc
        except WeChatClientException as exc:
            errmsg = exc.errmsg
            if exc.errcode is None and exc.response is not None:
                errmsg = f"HTTP {exc.response.status_code}"
            raise _failure(exc.errcode, errmsg) from exc
        except requests.RequestException as exc:
            raise WeChatUnavailable(str(exc)) from exc


def _errcode_of(error: Exception) -> str | None:
    if isinstance(error, requests.Timeout) or getattr(error, "timed_out", False):
        return "timeout"
    if isinstance(error, WeChatCallFailed):
        return str(error.errcode) if error.errcode is not None else "network"
    if isinstance(error, requests.RequestException):  # the token fetch, before translation
        return "network"
    return None
