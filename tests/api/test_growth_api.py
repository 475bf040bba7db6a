"""Subscriptions, invites (attribution, QR code) and WeChat groups over the API."""
import uuid
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa

from app.models import InviteQrCode, Membership, User
from tests.support import decode_qr, login, member, mint_code


def _openid():
    return f"o-{uuid.uuid4().hex[:12]}"


def _login(client, emulator, openid, inviter=None):
    body = {"code": mint_code(emulator.url, openid)}
    if inviter is not None:
        body["inviter"] = inviter
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    return {"Authorization": f"Bearer {data['token']}"}, data["user"]


def test_consent_adds_one_send_per_accepted_template(client, emulator):
    headers = login(client, emulator.url, _openid())
    listing = client.get("/api/v1/subscriptions", headers=headers).get_json()["items"]
    assert {t["key"] for t in listing} >= {"case_announced", "share_deducted", "balance_low", "observation_over",
                                          "claim_status", "aid_paid"}
    assert all(t["remaining"] == 0 for t in listing)
    ids = {t["key"]: t["template_id"] for t in listing}
    body = {"accepted": ["case_announced", ids["aid_paid"], "case_announced"]}
    after = client.post("/api/v1/subscriptions", json=body, headers=headers).get_json()["items"]
    remaining = {t["key"]: t["remaining"] for t in after}
    assert remaining["case_announced"] == 2 and remaining["aid_paid"] == 1 and remaining["balance_low"] == 0
    bad = client.post("/api/v1/subscriptions", json={"accepted": ["made_up"]}, headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "unknown_template"
    assert client.post("/api/v1/subscriptions", json={"accepted": []}, headers=headers).status_code == 422
    assert client.get("/api/v1/subscriptions").status_code == 401


def test_invite_attribution_first_touch_no_self_no_replay(app, client, emulator, session):
    alice_headers, alice = _login(client, emulator, _openid())
    _, bob = _login(client, emulator, _openid())
    # A new user with Alice's code (any case) is attributed to Alice.
    carol_openid = _openid()
    _, carol = _login(client, emulator, carol_openid, inviter=alice["invite_code"].lower())
    assert carol["is_new"] and carol["invited_by_user_id"] == alice["id"]
    # Logging in again with Bob's code: no re-attribution.
    _, carol_again = _login(client, emulator, carol_openid, inviter=bob["invite_code"])
    assert not carol_again["is_new"] and carol_again["invited_by_user_id"] == alice["id"]
    # Alice's own code on her own later login, unknown codes, and an existing user: nothing.
    _, alice_again = _login(client, emulator, alice["invite_code"] and _openid_of(session, alice["id"]),
                            inviter=alice["invite_code"])
    assert alice_again["invited_by_user_id"] is None
    _, dave = _login(client, emulator, _openid(), inviter="NOSUCH99")
    assert dave["invited_by_user_id"] is None
    # A replayed login code is refused by WeChat and changes nothing.
    code = mint_code(emulator.url, _openid())
    first = client.post("/api/v1/auth/login", json={"code": code, "inviter": alice["invite_code"]})
    replay = client.post("/api/v1/auth/login", json={"code": code, "inviter": bob["invite_code"]})
    assert first.status_code == 200 and replay.status_code == 400
    mine = client.get("/api/v1/invites/me", headers=alice_headers).get_json()
    assert mine["code"] == alice["invite_code"] and mine["invited_count"] == 2 and mine["joined_count"] == 0
    assert mine["share_path"] == f"/pages/index/index?inviter={alice['invite_code']}"


def _openid_of(session, user_id):
    return session.execute(sa.select(User.openid).where(User.id == user_id)).scalar_one()


def test_invite_farming_is_rate_limited(app, client, emulator, session, services):
    app.config["INVITE_ATTRIBUTIONS_PER_HOUR"] = 2
    farmer_headers, farmer = _login(client, emulator, _openid())
    attributed = [_login(client, emulator, _openid(), inviter=farmer["invite_code"])[1]["invited_by_user_id"]
                  for _ in range(3)]
    assert attributed == [farmer["id"], farmer["id"], None]
    services.clock.advance(hours=1, seconds=1)
    _, later = _login(client, emulator, _openid(), inviter=farmer["invite_code"])
    assert later["invited_by_user_id"] == farmer["id"]
    # Joining through the invite counts once the invitee holds a membership.
    member(session, services, services.clock, later["id"])
    assert client.get("/api/v1/invites/me", headers=farmer_headers).get_json()["joined_count"] == 1


def test_invite_qrcode_is_a_png_made_once(app, client, emulator, session):
    headers, user = _login(client, emulator, _openid())
    first = client.get("/api/v1/invites/me/qrcode", headers=headers)
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert first.data.startswith(b"\x89PNG\r\n\x1a\n")
    row = session.execute(sa.select(InviteQrCode).where(InviteQrCode.user_id == user["id"])).scalar_one()
    assert row.scene == user["invite_code"]
    # A scan finds the page the poster opens and the inviter's code as its scene.
    [text] = decode_qr(first.data)
    link = urlsplit(text)
    assert link.path == "/pages/index/index" and parse_qs(link.query)["scene"] == [user["invite_code"]]
    # WeChat failing now does not matter: the cached image is served.
    requests.post(emulator.url + "_emulator/faults",
                  json={"path": "wxa/getwxacodeunlimit", "errcode": 40169, "times": 1}, timeout=5)
    try:
        again = client.get("/api/v1/invites/me/qrcode", headers=headers)
        assert again.status_code == 200 and again.data == first.data
        other_headers, _ = _login(client, emulator, _openid())
        failed = client.get("/api/v1/invites/me/qrcode", headers=other_headers)
        assert failed.status_code == 503 and failed.get_json()["error"]["code"] == "qrcode_unavailable"
    finally:
        emulator.state.faults.clear()


def _enter(client, emulator, headers, openid, opengid):
    sealed = requests.post(emulator.url + "_emulator/groups/encrypt",
                           json={"openid": openid, "opengid": opengid}, timeout=5).json()
    return client.post("/api/v1/groups/enter", json=sealed, headers=headers), sealed


def test_group_presence_and_counts_only_summary(app, client, emulator, session, services):
    gid = f"G{uuid.uuid4().hex[:10]}"
    people = []
    for _ in range(3):
        openid = _openid()
        headers, user = _login(client, emulator, openid)
        people.append((openid, headers, user))
    for openid, headers, _ in people[:2]:
        response, _ = _enter(client, emulator, headers, openid, gid)
        assert response.status_code == 200 and response.get_json() == {"opengid": gid}
    for _, _, user in people:
        m = member(session, services, services.clock, user["id"])
        session.execute(sa.update(Membership).where(Membership.id == m.id).values(state="protected"))
        session.commit()
    summary = client.get(f"/api/v1/groups/{gid}/summary", headers=people[0][1])
    assert summary.status_code == 200
    body = summary.get_json()
    assert body == {"opengid": gid, "members_seen": 2, "protected_people": 2,
                    "plans": [{"plan_code": "adult_789", "plan_name": "789互助", "protected": 2}]}
    assert "王" not in summary.get_data(as_text=True)  # counts only, no names
    outsider = client.get(f"/api/v1/groups/{gid}/summary", headers=people[2][1])
    assert outsider.status_code == 404


def test_group_data_sealed_for_someone_else_is_refused(app, client, emulator):
    alice, bob = _openid(), _openid()
    alice_headers, _ = _login(client, emulator, alice)
    _login(client, emulator, bob)
    # Bob's sealed data posted with Alice's token: Alice's session_key does not open it.
    _, sealed_for_bob = _enter(client, emulator, {}, bob, "G-bob")
    response = client.post("/api/v1/groups/enter", json=sealed_for_bob, headers=alice_headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "open_data_invalid"
    forged = client.post("/api/v1/groups/enter", json={"encryptedData": "bm90IGRhdGE=", "iv": "AAAAAAAAAAAAAAAAAAAAAA=="},
                         headers=alice_headers)
    assert forged.status_code == 400
    assert client.get("/api/v1/groups/G-bob/summary", headers=alice_headers).status_code == 404
