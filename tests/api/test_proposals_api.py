"""Rule-change proposals over HTTP (both databases): the contract of issue 14 (docs/rule-changes.md)."""
import datetime as dt

from app.extensions import db
from app.services import rule_changes
from tests.support import alice, bob, join  # noqa: F401
from tests.support.rule_changes import propose

CONTRACT_FIELDS = {"id", "plan_code", "status", "title", "summary_text", "differences", "window_opens_at",
                   "window_closes_at", "effective_on", "notice_ends_on", "quorum", "tally", "outcome_text"}


def _proposal_id(client):
    items = client.get("/api/v1/plans/adult_789/proposals").get_json()["items"]
    return items[0]["id"]


def test_a_member_answers_once_and_the_public_page_shows_the_tally(app, client, clock, alice, bob, tmp_path):
    mine, theirs = join(client, alice, clock), join(client, bob, clock, name="李四", age=31)
    join(client, alice, clock, name="王五", relation="spouse", age=32)
    propose(db.session, app, tmp_path, clock.now(), share_cap_fen=200)
    listed = client.get("/api/v1/plans/adult_789/proposals")
    assert listed.status_code == 200
    proposal = listed.get_json()["items"][0]
    assert CONTRACT_FIELDS <= set(proposal) and proposal["status"] == "open"
    assert proposal["differences"][0]["field"] == "share_cap_fen"
    assert {"before_text", "after_text", "text"} <= set(proposal["differences"][0])
    assert proposal["quorum"] == {"agree_ratio_text": "同意者不少于答复者的三分之二", "agree_numerator": 2,
                                  "agree_denominator": 3, "min_turnout_percent": 10, "eligible_count": 3}
    assert proposal["tally"] == {"agree": 0, "disagree": 0, "answered": 0, "eligible": 3, "turnout_percent": 0}
    pid = proposal["id"]
    url = f"/api/v1/memberships/{mine['id']}/proposals/{pid}/answer"

    view = client.get(f"/api/v1/memberships/{mine['id']}/proposals", headers=alice).get_json()["items"][0]
    assert (view["my_answer"], view["can_answer"], view["can_leave_with_full_refund"]) == (None, True, False)

    answered = client.post(url, json={"answer": "agree"}, headers=alice)
    assert answered.status_code == 200, answered.get_json()
    body = answered.get_json()
    assert (body["proposal_id"], body["membership_id"], body["answer"]) == (pid, mine["id"], "agree")
    assert body["tally"]["agree"] == 1 and body["tally"]["turnout_percent"] == 33 and body["answered_at"]

    again = client.post(url, json={"answer": "disagree"}, headers=alice)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_answered"
    # Another user's membership: 404, as if it did not exist (reading and answering).
    stranger = client.post(f"/api/v1/memberships/{theirs['id']}/proposals/{pid}/answer", json={"answer": "agree"},
                           headers=alice)
    assert stranger.status_code == 404 and stranger.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/memberships/{theirs['id']}/proposals", headers=alice).status_code == 404
    assert client.post(f"/api/v1/memberships/{mine['id']}/proposals/{pid + 99}/answer", json={"answer": "agree"},
                       headers=alice).status_code == 404
    bad = client.post(f"/api/v1/memberships/{theirs['id']}/proposals/{pid}/answer", json={"answer": "maybe"},
                      headers=bob)
    assert bad.status_code == 422
    assert client.post(f"/api/v1/memberships/{theirs['id']}/proposals/{pid}/answer", json={"answer": "disagree"},
                       headers=bob).status_code == 200

    public = client.get(f"/api/v1/proposals/{pid}").get_json()
    assert public["tally"] == {"agree": 1, "disagree": 1, "answered": 2, "eligible": 3, "turnout_percent": 66}
    assert client.get(f"/api/v1/proposals/{pid + 99}").status_code == 404
    assert client.get("/api/v1/plans/nope/proposals").status_code == 404

    # After the window: closed, and decided (1 of 2 agree: below two thirds).
    clock.advance(days=14)
    late = client.post(f"/api/v1/memberships/{mine['id']}/proposals/{pid}/answer", json={"answer": "agree"},
                       headers=alice)
    assert late.status_code == 409  # already answered wins over closed for this one
    spouse = [m for m in client.get("/api/v1/memberships", headers=alice).get_json()["items"]
              if m["relation"] == "spouse"][0]
    closed = client.post(f"/api/v1/memberships/{spouse['id']}/proposals/{pid}/answer", json={"answer": "agree"},
                         headers=alice)
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "proposal_closed"
    rule_changes.advance(db.session, clock.now())
    decided = client.get(f"/api/v1/proposals/{pid}").get_json()
    assert decided["status"] == "failed" and decided["outcome_text"].startswith("未通过")
    assert decided["notice_ends_on"] is None


def test_a_dissenter_sees_the_full_refund_offer_in_the_notice_period(app, client, clock, alice, tmp_path):
    members = [join(client, alice, clock, name=name, relation=relation, age=age)
               for name, relation, age in (("张三", "self", 30), ("王五", "spouse", 31), ("赵六", "parent", 50))]
    propose(db.session, app, tmp_path, clock.now(), share_cap_fen=200)
    pid = _proposal_id(client)
    for member, answer in zip(members, ("agree", "agree", "disagree")):
        assert client.post(f"/api/v1/memberships/{member['id']}/proposals/{pid}/answer", json={"answer": answer},
                           headers=alice).status_code == 200
    clock.advance(days=14)
    rule_changes.advance(db.session, clock.now())
    view = client.get(f"/api/v1/memberships/{members[2]['id']}/proposals", headers=alice).get_json()["items"][0]
    assert view["status"] == "passed" and view["my_answer"] == "disagree"
    assert view["can_leave_with_full_refund"] and not view["can_answer"]
    assert dt.date.fromisoformat(view["notice_ends_on"]) < dt.date.fromisoformat(view["effective_on"])
    agreed = client.get(f"/api/v1/memberships/{members[0]['id']}/proposals", headers=alice).get_json()["items"][0]
    assert not agreed["can_leave_with_full_refund"]


def test_the_openapi_document_has_the_proposal_operations(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    answer = paths["/api/v1/memberships/{membership_id}/proposals/{proposal_id}/answer"]["post"]
    assert {"404", "409"} <= set(answer["responses"])
    assert {"already_answered", "proposal_closed", "not_found"} <= set(answer["responses"]["409"]["x-error-codes"]
                                                                          + answer["responses"]["404"]["x-error-codes"])
    assert "/api/v1/plans/{code}/proposals" in paths and "/api/v1/proposals/{proposal_id}" in paths
