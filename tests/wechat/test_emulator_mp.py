"""The emulator's mini-program side over real HTTP, checked against WeChat's documented behaviour."""

import struct
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from wechatpy.crypto import WeChatWxaCrypto

from tests.support import decode_qr
from wechat.emulator import EmulatorServer
from wechat.keys import KEYS_FILE, generate_dev_keys, load_keys

TEMPLATE = "tmpl-claim-approved"


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("wechat-keys")


@pytest.fixture
def emulator(keys_dir):
    with EmulatorServer.from_keys_dir(keys_dir) as server:
        yield server


@pytest.fixture
def api(emulator):
    """Call the emulator like WeChat's servers are called: path relative to the base URL."""

    def call(method, path, **kwargs):
        kwargs.setdefault("timeout", 5)
        return requests.request(method, emulator.url + path, **kwargs)

    return call


@pytest.fixture
def token(api, emulator):
    config = emulator.config
    body = {"grant_type": "client_credential", "appid": config.appid, "secret": config.secret}
    return api("POST", "cgi-bin/stable_token", json=body).json()["access_token"]


def login_code(api, openid, **extra):
    return api("POST", "_emulator/codes", json={"openid": openid, **extra}).json()["code"]


def code_to_session(api, emulator, code):
    params = {
        "appid": emulator.config.appid,
        "secret": emulator.config.secret,
        "js_code": code,
        "grant_type": "authorization_code",
    }
    return api("GET", "sns/jscode2session", params=params).json()


def send_subscribe(api, token, openid, data, template_id=TEMPLATE):
    body = {"touser": openid, "template_id": template_id, "data": data}
    return api("POST", "cgi-bin/message/subscribe/send", params={"access_token": token}, json=body)


# --- keys ------------------------------------------------------------------------------


def test_dev_keys_are_generated_once_and_never_overwritten(tmp_path):
    first = generate_dev_keys(tmp_path)
    private_pem = (tmp_path / "merchant_private.pem").read_text()
    assert generate_dev_keys(tmp_path) == first
    assert (tmp_path / "merchant_private.pem").read_text() == private_pem

    keys = load_keys(tmp_path)
    assert len(keys.merchant_serial) == 40 and keys.merchant_serial == keys.merchant_serial.upper()
    assert keys.platform_public_key_id.startswith("PUB_KEY_ID_")
    assert len(keys.apiv3_key) == 32 and keys.appid.startswith("wx")
    assert "BEGIN PUBLIC KEY" in keys.platform_public_key
    assert (tmp_path / KEYS_FILE).exists()


# --- server basics and tokens --------------------------------------------------------------


def test_unknown_path_is_a_json_404(api):
    response = api("GET", "cgi-bin/no-such-api")
    assert response.status_code == 404
    assert response.json()["errcode"] == 404


@pytest.mark.parametrize("field, errcode", [("appid", 40013), ("secret", 40125)])
def test_token_endpoints_reject_bad_credentials(api, emulator, field, errcode):
    config = emulator.config
    params = {"grant_type": "client_credential", "appid": config.appid, "secret": config.secret}
    params[field] = "wrong"
    assert api("GET", "cgi-bin/token", params=params).json()["errcode"] == errcode
    assert api("POST", "cgi-bin/stable_token", json=params).json()["errcode"] == errcode


def test_stable_token_is_reused_until_forced(api, emulator, token):
    config = emulator.config
    body = {"grant_type": "client_credential", "appid": config.appid, "secret": config.secret}
    assert api("POST", "cgi-bin/stable_token", json=body).json()["access_token"] == token

    forced = api("POST", "cgi-bin/stable_token", json={**body, "force_refresh": True}).json()
    assert forced["access_token"] != token
    # The forced refresh ended the old token.
    assert send_subscribe(api, token, "o-any", {}).json()["errcode"] == 40001


def test_expired_and_unknown_tokens_are_refused(api, token):
    login_code(api, "o-alice")
    assert send_subscribe(api, "made-up", "o-alice", {"thing1": {"value": "x"}}).json()["errcode"] == 40001
    api("POST", "_emulator/clock", json={"advance_seconds": 7200})
    assert send_subscribe(api, token, "o-alice", {"thing1": {"value": "x"}}).json()["errcode"] == 42001


# --- login ---------------------------------------------------------------------------------


def test_login_code_gives_the_session_once(api, emulator):
    code = login_code(api, "o-alice", unionid="u-alice")
    session = code_to_session(api, emulator, code)
    assert session["openid"] == "o-alice" and session["unionid"] == "u-alice"
    assert session["session_key"] == api("GET", "_emulator/sessions/o-alice").json()["session_key"]

    assert code_to_session(api, emulator, code)["errcode"] == 40163
    assert code_to_session(api, emulator, "never-issued")["errcode"] == 40029


def test_session_key_is_stable_per_user_unless_refreshed(api, emulator):
    first = code_to_session(api, emulator, login_code(api, "o-bob"))
    again = code_to_session(api, emulator, login_code(api, "o-bob"))
    refreshed = code_to_session(api, emulator, login_code(api, "o-bob", refresh_session_key=True))
    assert again["session_key"] == first["session_key"] != refreshed["session_key"]
    assert "unionid" not in first


def test_login_code_expires_after_five_minutes(api, emulator):
    fresh, stale = login_code(api, "o-alice"), login_code(api, "o-alice")
    api("POST", "_emulator/clock", json={"advance_seconds": 299})
    assert code_to_session(api, emulator, fresh)["openid"] == "o-alice"
    api("POST", "_emulator/clock", json={"advance_seconds": 2})
    assert code_to_session(api, emulator, stale)["errcode"] == 40029


# --- subscribe messages --------------------------------------------------------------------


def test_each_consent_allows_one_message(api, token):
    login_code(api, "o-alice")
    data = {"thing1": {"value": "张*的互助申请已通过"}, "amount2": {"value": "100000.00元"}}
    assert send_subscribe(api, token, "o-alice", data).json()["errcode"] == 43101

    api("POST", "_emulator/subscribe/consent", json={"openid": "o-alice", "template_id": TEMPLATE})
    sent = send_subscribe(api, token, "o-alice", data).json()
    assert sent["errcode"] == 0
    assert send_subscribe(api, token, "o-alice", data).json()["errcode"] == 43101

    query = {"openid": "o-alice", "template_id": TEMPLATE}
    assert api("GET", "_emulator/subscribe/quota", params=query).json()["remaining"] == 0
    messages = api("GET", "_emulator/subscribe/messages", params=query).json()["messages"]
    assert [message["data"] for message in messages] == [data]


def test_subscribe_data_is_validated_before_spending_quota(api, token):
    api("POST", "_emulator/subscribe/consent", json={"openid": "o-alice", "template_id": TEMPLATE})
    too_long = {"thing1": {"value": "x" * 21}}
    response = send_subscribe(api, token, "o-alice", too_long).json()
    assert response["errcode"] == 47003
    assert response["errmsg"].startswith("argument invalid! data.thing1.value invalid")
    assert send_subscribe(api, token, "o-alice", {"thing1": "not wrapped"}).json()["errcode"] == 47003
    assert send_subscribe(api, token, "o-alice", {"thing1": {"value": "x" * 20}}).json()["errcode"] == 0


def test_subscribe_to_unknown_openid_is_40003(api, token):
    assert send_subscribe(api, token, "o-stranger", {"thing1": {"value": "x"}}).json()["errcode"] == 40003


# --- fault injection ------------------------------------------------------------------------


def test_faults_answer_the_next_requests_then_stop(api, token):
    path = "cgi-bin/message/subscribe/send"
    login_code(api, "o-alice")
    api("POST", "_emulator/subscribe/consent", json={"openid": "o-alice", "template_id": TEMPLATE, "count": 2})
    api("POST", "_emulator/faults", json={"path": path, "errcode": 45009, "times": 2})
    api("POST", "_emulator/faults", json={"path": path, "status": 503})
    data = {"thing1": {"value": "x"}}

    assert [send_subscribe(api, token, "o-alice", data).json()["errcode"] for _ in range(2)] == [45009, 45009]
    assert send_subscribe(api, token, "o-alice", data).status_code == 503
    assert send_subscribe(api, token, "o-alice", data).json()["errcode"] == 0


def test_delay_fault_holds_the_answer(api, token):
    api("POST", "_emulator/faults", json={"path": "wxa/getwxacodeunlimit", "delay_seconds": 0.3})
    with pytest.raises(requests.Timeout):
        api("POST", "wxa/getwxacodeunlimit", params={"access_token": token}, json={"scene": "a"}, timeout=0.1)


# --- mini-program codes ---------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    return struct.unpack(">II", data[16:24])


def get_code(api, token, scene, **extra):
    body = {"scene": scene, "page": "pages/plan/index", **extra}
    return api("POST", "wxa/getwxacodeunlimit", params={"access_token": token}, json=body)


def test_unlimited_code_is_a_qr_code_of_the_page_and_scene(api, token, emulator):
    scene = "i=ABCD1234&p=adult_789" + "x" * 10  # 32 characters, the most WeChat accepts
    response = get_code(api, token, scene)
    assert response.headers["Content-Type"] == "image/png"
    width, height = png_size(response.content)
    assert width == height and 280 <= width <= 430
    [text] = decode_qr(response.content)
    link = urlsplit(text)
    assert (link.scheme, link.netloc, link.path) == ("wxacode", emulator.config.appid, "/pages/plan/index")
    assert parse_qs(link.query) == {"scene": [scene], "env_version": ["release"]}
    assert get_code(api, token, scene).content == response.content
    assert get_code(api, token, "i=OTHER").content != response.content


@pytest.mark.parametrize("scene", ["x" * 33, "has space", "中文", ""])
def test_unlimited_code_rejects_bad_scenes(api, token, scene):
    response = get_code(api, token, scene)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["errcode"] == 40169


def test_unlimited_code_rejects_a_page_with_a_query(api, token):
    assert get_code(api, token, "a", page="pages/plan/index?x=1").json()["errcode"] == 41030


# --- open data ------------------------------------------------------------------------------


def test_group_enter_info_decrypts_with_the_session_key(api, emulator):
    code_to_session(api, emulator, login_code(api, "o-alice"))
    sealed = api("POST", "_emulator/groups/encrypt", json={"openid": "o-alice", "opengid": "G-42"}).json()
    session_key = api("GET", "_emulator/sessions/o-alice").json()["session_key"]

    plain = WeChatWxaCrypto(session_key, sealed["iv"], emulator.config.appid).decrypt_message(
        sealed["encryptedData"]
    )
    assert plain["opengid"] == "G-42"
    assert plain["watermark"]["appid"] == emulator.config.appid
