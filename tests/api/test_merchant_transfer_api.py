"""Issues 14 and 17: a balance return by merchant transfer gives the mini-program what
wx.requestMerchantTransfer needs (mchId, appId, package) while the transfer waits for the member.
The claim payout's side is asserted in tests/api/test_claims_api.py::test_case_end_to_end."""
import pytest

from tests.support import DISCARD_URL, join, paid_topup, point_notifications_at


@pytest.fixture(autouse=True)
def lost_notifications(app):
    point_notifications_at(app, DISCARD_URL)


def test_balance_return_transfer_carries_the_call_until_confirmed(client, app, alice, clock, emulator):
    m = join(client, alice, clock)
    paid_topup(client, emulator, alice, m["id"], 300)
    clock.advance(days=366)
    paid_topup(client, emulator, alice, m["id"], 200)
    left = client.post(f"/api/v1/memberships/{m['id']}/leave", headers=alice)
    assert left.status_code == 200, left.get_json()
    returning = left.get_json()["membership"]["balance_return"]
    package = returning["transfer_package_info"]
    call = {"mch_id": app.config["WECHAT_PAY_MCHID"], "app_id": app.config["WECHAT_APPID"], "package_info": package}
    assert all(call.values()) and returning["transfer"] == call
    assert client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()["balance_return"]["transfer"] == call
    listed = client.get("/api/v1/memberships", headers=alice).get_json()["items"]
    assert [x["balance_return"]["transfer"] for x in listed] == [call]

    # Confirming before the payer accepted changes nothing: the call is still there.
    early = client.post(f"/api/v1/memberships/{m['id']}/balance-return/confirmed", headers=alice)
    assert early.status_code == 200 and early.get_json()["transfer"] == call

    bill = emulator.state.pay.confirm_transfer(package)
    assert bill.amount == 300
    confirmed = client.post(f"/api/v1/memberships/{m['id']}/balance-return/confirmed", headers=alice).get_json()
    assert confirmed["transfer"] is None and confirmed["transfer_package_info"] is None
    assert confirmed["returned_fen"] >= 300
    after = client.get(f"/api/v1/memberships/{m['id']}", headers=alice).get_json()["balance_return"]
    assert after["transfer"] is None

