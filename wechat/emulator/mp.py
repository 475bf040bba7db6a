"""Mini-program server APIs of api.weixin.qq.com, plus /_emulator helpers that
stand in for what happens on the phone (wx.login, the consent dialog, group data).

WeChat answers its own errors with HTTP 200 and {"errcode", "errmsg"}; so do we.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import io
from urllib.parse import urlencode
from functools import wraps

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
import segno
from flask import Blueprint, Response, jsonify, request

from wechat.emulator.state import (
    AccessToken,
    LoginCode,
    MiniProgramUser,
    SentMessage,
    current_state,
)

bp = Blueprint("wechat_emulator_mp", __name__)

SCENE_PATTERN = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}")
# Subscribe-message value limits by keyword type (the key without its digits).
VALUE_MAX_LENGTH = {
    "thing": 20,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "phone_number": 17,
    "car_number": 8,
    "name": 10,
    "phrase": 5,
}
MINIPROGRAM_STATES = {"developer", "trial", "formal"}
OLD_TOKEN_GRACE_SECONDS = 300  # cgi-bin/token: the previous token stays valid 5 minutes


def wechat_error(errcode: int, errmsg: str) -> Response:
    return jsonify(errcode=errcode, errmsg=f"{errmsg} rid: {secrets.token_hex(12)}")


def json_body() -> dict:
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else {}


def credential_error(appid: str | None, secret: str | None) -> Response | None:
    config = current_state().config
    if appid != config.appid:
        return wechat_error(40013, "invalid appid")
    if secret != config.secret:
        return wechat_error(40125, "invalid appsecret")
    return None


def requires_access_token(view):
    @wraps(view)
    def checked(*args, **kwargs):
        state = current_state()
        with state.lock:
            token = state.access_tokens.get(request.args.get("access_token", ""))
            if token is None:
                return wechat_error(40001, "invalid credential, access_token is invalid or not latest")
            if token.expires_at <= state.now():
                return wechat_error(42001, "access_token expired")
        return view(*args, **kwargs)

    return checked


# --- access tokens -------------------------------------------------------------


@bp.get("/cgi-bin/token")
def get_token():
    error = token_request_error(request.args)
    if error:
        return error
    state = current_state()
    with state.lock:
        state.token_requests["cgi-bin/token"] += 1
        grace_end = state.now() + OLD_TOKEN_GRACE_SECONDS
        for token in state.access_tokens.values():
            if not token.stable:
                token.expires_at = min(token.expires_at, grace_end)
        token = _mint_token(stable=False)
    return jsonify(access_token=token.value, expires_in=state.config.token_ttl_seconds)


@bp.post("/cgi-bin/stable_token")
def get_stable_token():
    body = json_body()
    error = token_request_error(body)
    if error:
        return error
    state = current_state()
    with state.lock:
        state.token_requests["cgi-bin/stable_token"] += 1
        current = state.access_tokens.get(state.stable_token or "")
        if body.get("force_refresh") or current is None or current.expires_at <= state.now():
            if current is not None:
                del state.access_tokens[current.value]  # a forced refresh ends the old one
            current = _mint_token(stable=True)
            state.stable_token = current.value
        expires_in = round(current.expires_at - state.now())
    return jsonify(access_token=current.value, expires_in=expires_in)


def token_request_error(params) -> Response | None:
    if params.get("grant_type") != "client_credential":
        return wechat_error(40002, "invalid grant_type")
    return credential_error(params.get("appid"), params.get("secret"))


def _mint_token(stable: bool) -> AccessToken:
    state = current_state()
    token = AccessToken(
        value=secrets.token_urlsafe(96),
        expires_at=state.now() + state.config.token_ttl_seconds,
        stable=stable,
    )
    state.access_tokens[token.value] = token
    return token


@bp.get("/_emulator/tokens")
def token_statistics():
    state = current_state()
    with state.lock:
        return jsonify(requests=dict(state.token_requests), issued=len(state.access_tokens))


# --- login ---------------------------------------------------------------------


@bp.post("/_emulator/codes")
def mint_login_code():
    """What wx.login does on the phone: a fresh single-use code for this user."""
    body = json_body()
    openid = body.get("openid")
    if not openid:
        return jsonify(errcode=400, errmsg="openid required"), 400
    state = current_state()
    with state.lock:
        user = state.users.get(openid)
        if user is None or body.get("refresh_session_key"):
            user = MiniProgramUser(openid, _new_session_key(), user.unionid if user else None)
            state.users[openid] = user
        if body.get("unionid"):
            user.unionid = body["unionid"]
        code = secrets.token_hex(16)
        state.codes[code] = LoginCode(openid=openid, issued_at=state.now())
    return jsonify(code=code)


def _new_session_key() -> str:
    return base64.b64encode(secrets.token_bytes(16)).decode()


@bp.get("/_emulator/sessions/<openid>")
def session_of(openid: str):
    state = current_state()
    with state.lock:
        user = state.users.get(openid)
    if user is None:
        return jsonify(errcode=404, errmsg="unknown openid"), 404
    return jsonify(session_key=user.session_key)


@bp.get("/sns/jscode2session")
def code_to_session():
    # wechatpy also sends an access_token here; WeChat ignores it, and so do we.
    args = request.args
    error = credential_error(args.get("appid"), args.get("secret"))
    if error:
        return error
    if args.get("grant_type") != "authorization_code":
        return wechat_error(40002, "invalid grant_type")
    state = current_state()
    with state.lock:
        code = state.codes.get(args.get("js_code", ""))
        if code is None or state.now() - code.issued_at > state.config.code_ttl_seconds:
            return wechat_error(40029, "invalid code")
        if code.used:
            return wechat_error(40163, "code been used")
        code.used = True
        user = state.users[code.openid]
    result = {"openid": user.openid, "session_key": user.session_key}
    if user.unionid:
        result["unionid"] = user.unionid
    return jsonify(result)


# --- subscribe messages --------------------------------------------------------


@bp.post("/_emulator/subscribe/consent")
def consent_to_subscribe():
    """The user's tap on "allow" in the wx.requestSubscribeMessage dialog."""
    body = json_body()
    openid, template_id = body.get("openid"), body.get("template_id")
    if not openid or not template_id:
        return jsonify(errcode=400, errmsg="openid and template_id required"), 400
    state = current_state()
    with state.lock:
        if openid not in state.users:
            state.users[openid] = MiniProgramUser(openid, _new_session_key())
        state.subscribe_quota[(openid, template_id)] += int(body.get("count", 1))
        remaining = state.subscribe_quota[(openid, template_id)]
    return jsonify(openid=openid, template_id=template_id, remaining=remaining)


@bp.get("/_emulator/subscribe/quota")
def subscribe_quota():
    openid, template_id = request.args.get("openid", ""), request.args.get("template_id", "")
    state = current_state()
    with state.lock:
        remaining = state.subscribe_quota[(openid, template_id)]
    return jsonify(openid=openid, template_id=template_id, remaining=remaining)


@bp.get("/_emulator/subscribe/messages")
def sent_subscribe_messages():
    openid, template_id = request.args.get("openid"), request.args.get("template_id")
    state = current_state()
    with state.lock:
        messages = [
            vars(message)
            for message in state.sent_messages
            if openid in (None, message.touser) and template_id in (None, message.template_id)
        ]
    return jsonify(messages=messages)


@bp.post("/cgi-bin/message/subscribe/send")
@requires_access_token
def send_subscribe_message():
    body = json_body()
    openid, template_id = body.get("touser", ""), body.get("template_id")
    state = current_state()
    with state.lock:
        if openid not in state.users:
            return wechat_error(40003, "invalid openid")
        if not template_id:
            return wechat_error(40037, "invalid template_id")
        invalid = _invalid_data_field(body.get("data"))
        if invalid:
            return wechat_error(47003, f"argument invalid! {invalid} invalid")
        if body.get("miniprogram_state", "formal") not in MINIPROGRAM_STATES:
            return wechat_error(47003, "argument invalid! miniprogram_state invalid")
        if state.subscribe_quota[(openid, template_id)] <= 0:
            return wechat_error(43101, "user refuse to accept the msg")
        state.subscribe_quota[(openid, template_id)] -= 1
        state.sent_messages.append(
            SentMessage(
                touser=openid,
                template_id=template_id,
                data=body["data"],
                page=body.get("page"),
                miniprogram_state=body.get("miniprogram_state"),
                lang=body.get("lang"),
                sent_at=state.now(),
            )
        )
        msgid = len(state.sent_messages)
    return jsonify(errcode=0, errmsg="ok", msgid=msgid)


def _invalid_data_field(data) -> str | None:
    """The path of the first value WeChat would reject, e.g. 'data.thing1.value'."""
    if not isinstance(data, dict) or not data:
        return "data"
    for key, field in data.items():
        if not isinstance(field, dict) or not isinstance(field.get("value"), str):
            return f"data.{key}.value"
        limit = VALUE_MAX_LENGTH.get(key.rstrip("0123456789"))
        if not field["value"] or (limit is not None and len(field["value"]) > limit):
            return f"data.{key}.value"
    return None


# --- mini-program codes ----------------------------------------------------------


@bp.post("/wxa/getwxacodeunlimit")
@requires_access_token
def get_unlimited_code():
    body = json_body()
    scene = body.get("scene")
    if not isinstance(scene, str) or not SCENE_PATTERN.fullmatch(scene):
        return wechat_error(40169, "invalid length for scene, or the data is not json string")
    page = body.get("page") or ""
    if page.startswith("/") or "?" in page:
        return wechat_error(41030, "invalid page")
    width = min(max(int(body.get("width") or 430), 280), 1280)
    env_version = body.get("env_version") or "release"
    return Response(wxacode_png(code_content(current_state().config.appid, page, scene, env_version), width),
                    mimetype="image/png")


def code_content(appid: str, page: str, scene: str, env_version: str = "release") -> str:
    """What the emulator's code encodes: the mini-program, the page it opens and the scene it passes
    (a real 小程序码 is a WeChat-only pattern; a QR code lets any phone or test scan this one)."""
    return "wxacode://" + appid + "/" + (page or "pages/index/index") + "?" + urlencode(
        {"scene": scene, "env_version": env_version})


def wxacode_png(content: str, width: int) -> bytes:
    """A QR code PNG about `width` pixels wide (WeChat's width parameter), quiet zone included."""
    code = segno.make_qr(content, error="m")
    modules = code.symbol_size(scale=1, border=4)[0]
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=max(width // modules, 1), border=4)
    return buffer.getvalue()


# --- open data -------------------------------------------------------------------


@bp.post("/_emulator/groups/encrypt")
def encrypt_group_info():
    """What wx.getGroupEnterInfo hands the page: opengid sealed with the session_key."""
    body = json_body()
    state = current_state()
    with state.lock:
        user = state.users.get(body.get("openid", ""))
        if user is None:
            return wechat_error(40003, "invalid openid")
        plain = {
            "opengid": body.get("opengid"),
            "watermark": {"appid": state.config.appid, "timestamp": int(state.now())},
        }
    encrypted_data, iv = encrypt_open_data(user.session_key, plain)
    return jsonify(encryptedData=encrypted_data, iv=iv)


def encrypt_open_data(session_key: str, plain: dict) -> tuple[str, str]:
    """AES-128-CBC with PKCS#7 padding, both parts base64, as WeChat's open data."""
    iv = secrets.token_bytes(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(json.dumps(plain, ensure_ascii=False).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(base64.b64decode(session_key)), modes.CBC(iv)).encryptor()
    sealed = encryptor.update(padded) + encryptor.finalize()
    return base64.b64encode(sealed).decode(), base64.b64encode(iv).decode()
