from app.extensions import db
from app.services import events
from app.services.unit_of_work import atomic
from tests.support import login, make_operator, operator_login


def test_operators_see_the_outbox_and_members_cannot(client, emulator, clock):
    member = login(client, emulator.url, "o-outbox-member")
    with atomic(db.session):
        user_id = db.session.execute(db.text("SELECT id FROM users WHERE openid = 'o-outbox-member'")).scalar_one()
        events.record(db.session, "aid.paid", now=clock.now(), user_id=user_id, claim_id=1, payload={"amount_fen": 100})
    make_operator("auditor-1", "auditor", now=clock.now())
    auditor = operator_login(client, "auditor-1")
    response = client.get("/api/v1/admin/notifications", headers=auditor)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert sum(body["by_status"].values()) == 1 and body["due_now"] == 1
    assert client.get("/api/v1/admin/notifications", headers=member).status_code == 401
