"""MiniProgramClient (wechatpy underneath) against the emulator over real HTTP."""

import threading
import uuid

import pytest
import redis
import requests

from app.services.ports import OpenDataInvalid, WeChatCallFailed, WeChatUnavailable
from wechat.emulator import EmulatorServer
from wechat.mp import MiniProgramClient, RedisTokenStorage, Session

TEMPLATE = "tmpl-claim-approved"
STABLE_TOKEN = "cgi-bin/stable_token"
SUBSCRIBE_SEND = "cgi-bin/message/subscribe/send"


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("wechat-keys")


@pytest.fixture
def emulator(keys_dir):
    with EmulatorServer.from_keys_dir(keys_dir) as server:
        yield server


def control(emulator, path, body=None):
    """Act as the phone or the test harness: the emulator's /_emulator helpers."""
    method = "POST" if body is not None else "GET"
    response = requests.request(method, emulator.url + "_emulator/" + path, json=body, timeout=5)
    response.raise_for_status()
    return response.json()


def make_client(emulator, **kwargs):
    config = emulator.config
    return MiniProgramClient(config.appid, config.secret, api_base=emulator.url, **kwargs)


@pytest.fixture
def client(emulator):
    return make_client(emulator)


def token_fetches(emulator):
    return control(emulator, "tokens")["requests"].get(STABLE_TOKEN, 0)


def consent(emulator, openid, count=1):
    control(emulator, "subscribe/consent", {"openid": openid, "template_id": TEMPLATE, "count": count})


def log_in(emulator, client, openid):
    return client.code_to_session(control(emulator, "codes", {"openid": openid})["code"])


# --- login -----------------------------------------------------------------------------


def test_code_to_session_once(emulator, client):
    code = control(emulator, "codes", {"openid": "o-alice", "unionid": "u-alice"})["code"]
    session = client.code_to_session(code)
    assert isinstance(session, Session)
    assert (session.openid, session.unionid) == ("o-alice", "u-alice")
    assert session.session_key == control(emulator, "sessions/o-alice")["session_key"]

    with pytest.raises(WeChatCallFailed) as reused:
        client.code_to_session(code)
    assert reused.value.errcode == 40163


def test_expired_code_is_refused(emulator, client):
    code = control(emulator, "codes", {"openid": "o-alice"})["code"]
    control(emulator, "clock", {"advance_seconds": 301})
    with pytest.raises(WeChatCallFailed) as expired:
        client.code_to_session(code)
    assert expired.value.errcode == 40029


def test_bad_secret_surfaces_as_wechat_error(emulator):
    config = emulator.config
    client = MiniProgramClient(config.appid, "wrong-secret", api_base=emulator.url)
    with pytest.raises(WeChatCallFailed) as refused:
        client.code_to_session("any")
    assert refused.value.errcode == 40125


# --- access tokens ---------------------------------------------------------------------


def test_token_is_fetched_once_and_refreshed_when_wechat_expires_it(emulator, client):
    log_in(emulator, client, "o-alice")
    consent(emulator, "o-alice", count=2)
    client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "first"})
    assert token_fetches(emulator) == 1

    # WeChat's clock passes the token's lifetime; ours does not: the 42001 triggers the refresh.
    control(emulator, "clock", {"advance_seconds": 7200})
    client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "second"})
    assert token_fetches(emulator) == 2
    sent = control(emulator, f"subscribe/messages?openid=o-alice&template_id={TEMPLATE}")["messages"]
    assert [message["data"]["thing1"]["value"] for message in sent] == ["first", "second"]


def test_a_token_rejected_twice_is_not_retried_forever(emulator, client):
    log_in(emulator, client, "o-alice")
    control(emulator, "faults", {"path": SUBSCRIBE_SEND, "errcode": 40001, "times": 5})
    with pytest.raises(WeChatCallFailed) as rejected:
        client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "x"})
    assert rejected.value.errcode == 40001
    assert token_fetches(emulator) == 2  # the first token, then one refresh and one retry


@pytest.fixture
def redis_client(redis_url):  # conftest's fixture: CI=true turns an unreachable Redis into a failure
    connection = redis.Redis.from_url(redis_url)
    prefix = f"test-wechat-mp-{uuid.uuid4().hex}"
    yield connection, prefix
    delete_prefixed(connection, prefix)


def delete_prefixed(connection, prefix):
    for key in connection.scan_iter(f"{prefix}:*"):
        connection.delete(key)


def test_redis_storage_shares_one_refresh_between_clients(emulator, redis_client):
    connection, prefix = redis_client
    clients = [make_client(emulator, token_storage=RedisTokenStorage(connection, prefix)) for _ in range(2)]
    log_in(emulator, clients[0], "o-alice")
    delete_prefixed(connection, prefix)  # start from no token, as a fresh deployment
    fetches_before = token_fetches(emulator)
    consent(emulator, "o-alice", count=2)
    # Hold the token answer long enough for both clients to want a token at once.
    control(emulator, "faults", {"path": STABLE_TOKEN, "delay_seconds": 0.3, "times": 2})

    errors = []

    def send(client):
        try:
            client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "x"})
        except Exception as exc:  # reported below, with the assertion
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert errors == []
    assert token_fetches(emulator) - fetches_before == 1
    assert control(emulator, f"subscribe/quota?openid=o-alice&template_id={TEMPLATE}")["remaining"] == 0


# --- subscribe messages ----------------------------------------------------------------


def test_subscribe_without_consent_is_43101(emulator, client):
    log_in(emulator, client, "o-alice")
    with pytest.raises(WeChatCallFailed) as refused:
        client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "x"})
    assert refused.value.errcode == 43101


def test_subscribe_with_too_long_thing_is_47003(emulator, client):
    log_in(emulator, client, "o-alice")
    consent(emulator, "o-alice")
    with pytest.raises(WeChatCallFailed) as invalid:
        client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "很" * 21}, page="pages/claim/index")
    assert invalid.value.errcode == 47003
    assert "data.thing1.value" in invalid.value.errmsg


def test_rate_limit_and_http_failures_surface(emulator, client):
    log_in(emulator, client, "o-alice")
    consent(emulator, "o-alice")
    control(emulator, "faults", {"path": SUBSCRIBE_SEND, "errcode": 45009, "times": 1})
    control(emulator, "faults", {"path": SUBSCRIBE_SEND, "status": 503, "times": 1})

    with pytest.raises(WeChatCallFailed) as limited:
        client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "x"})
    assert limited.value.errcode == 45009
    with pytest.raises(WeChatCallFailed) as unavailable:
        client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "x"})
    assert unavailable.value.errcode is None and "503" in unavailable.value.errmsg
    client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "x"})  # quota was not spent


def test_slow_answer_raises_wechat_timeout(emulator):
    client = make_client(emulator, timeout=0.1)
    log_in(emulator, client, "o-alice")
    control(emulator, "faults", {"path": SUBSCRIBE_SEND, "delay_seconds": 0.3})
    with pytest.raises(WeChatUnavailable):
        client.send_subscribe_message("o-alice", TEMPLATE, {"thing1": "x"})


# --- mini-program codes ----------------------------------------------------------------


def test_unlimited_code_is_png(client):
    image = client.get_unlimited_code("i=ABCD1234", page="pages/join/index")
    assert image.startswith(b"\x89PNG\r\n\x1a\n")


def test_unlimited_code_with_33_char_scene_is_40169(client):
    with pytest.raises(WeChatCallFailed) as invalid:
        client.get_unlimited_code("x" * 33, page="pages/join/index")
    assert invalid.value.errcode == 40169


# --- open data -------------------------------------------------------------------------


def test_group_enter_info_roundtrip(emulator, client):
    session = log_in(emulator, client, "o-alice")
    sealed = control(emulator, "groups/encrypt", {"openid": "o-alice", "opengid": "G-42"})
    plain = client.decrypt_open_data(session.session_key, sealed["encryptedData"], sealed["iv"])
    assert plain["opengid"] == "G-42"


def test_open_data_for_another_appid_is_rejected(emulator, client):
    session = log_in(emulator, client, "o-alice")
    sealed = control(emulator, "groups/encrypt", {"openid": "o-alice", "opengid": "G-42"})
    other_app = MiniProgramClient("wx-other-app", "secret", api_base=emulator.url)
    with pytest.raises(OpenDataInvalid):
        other_app.decrypt_open_data(session.session_key, sealed["encryptedData"], sealed["iv"])
    with pytest.raises(OpenDataInvalid):
        client.decrypt_open_data(session.session_key, sealed["encryptedData"][:-4] + "AAAA", sealed["iv"])
