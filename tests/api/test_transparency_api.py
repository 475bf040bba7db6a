"""Transparency over HTTP: the member's own proof (another user's → 404), public leaves and chain, the CLI."""
from app.models import User
from app.services import merkle
from tests.support import add_claim, add_members, executed_run, login, tamper

import datetime as dt

from app.services import apportionment


def test_proof_is_the_members_own_and_verifies(client, emulator, session, clock):
    now = clock.now()
    mine = login(client, emulator.url, "o-tp-mine")
    other = login(client, emulator.url, "o-tp-other")
    uid = session.query(User.id).filter_by(openid="o-tp-mine").scalar()
    ids = add_members(session, uid, "children", [1000, 700, 20], now)
    add_claim(session, ids[0], 900, now)
    run = apportionment.prepare(session, "children", now, chunk_size=2)
    apportionment.publish(session, run.id, now)
    run_id = apportionment.execute(session, run.id, now).id

    got = client.get(f"/api/v1/memberships/{ids[1]}/deductions/{run_id}/proof", headers=mine)
    assert got.status_code == 200, got.get_json()
    proof = got.get_json()
    assert proof["amount_fen"] == 300 and proof["tree_size"] == 2 and proof["record"]["run_id"] == run_id
    assert merkle.verify_inclusion(bytes.fromhex(proof["leaf"]), proof["leaf_index"], proof["tree_size"],
                                   [bytes.fromhex(h) for h in proof["audit_path"]], bytes.fromhex(proof["root"]))
    url = f"/api/v1/memberships/{ids[1]}/deductions/{run_id}/proof"
    assert client.get(url, headers=other).status_code == 404
    assert client.get(url).status_code == 401
    missing = client.get(f"/api/v1/memberships/{ids[2]}/deductions/{run_id}/proof", headers=mine)
    assert (missing.status_code, missing.get_json()["error"]["code"]) == (404, "debit_not_found")
    assert client.get(f"/api/v1/memberships/{ids[1]}/deductions/999999/proof", headers=mine).status_code == 404

    record = client.get(f"/api/v1/plans/children/runs/{run_id}/record").get_json()
    assert record["root"] == proof["root"] and record["previous"] == "0" * 64
    chain = client.get("/api/v1/plans/children/chain").get_json()["items"]
    assert [r["record_hash"] for r in chain] == [record["record_hash"]]
    page = client.get(f"/api/v1/plans/children/runs/{run_id}/leaves?limit=1").get_json()
    assert page["next_offset"] == 1 and len(page["items"]) == 1
    rest = client.get(f"/api/v1/plans/children/runs/{run_id}/leaves?offset=1").get_json()
    leaves = [bytes.fromhex(i["leaf"]) for i in page["items"] + rest["items"]]
    assert merkle.root_of(leaves).hex() == record["root"] and rest["next_offset"] is None
    assert proof["member_secret"] not in str(page) + str(rest)  # the public sees pseudonyms only
    bad = client.get(f"/api/v1/plans/children/runs/{run_id}/leaves?limit=0")
    assert bad.status_code == 422
    assert client.get(f"/api/v1/plans/adult_789/runs/{run_id}/record").status_code == 404


def test_cli_verify_passes_then_names_the_tampered_run(app, session, clock, runner):
    run_id, _ = executed_run(session, clock.now(), [800, 900, 1000])
    ok = runner.invoke(args=["transparency", "verify"])
    assert ok.exit_code == 0 and "transparency verify passed" in ok.output, ok.output
    tamper(session, "UPDATE postings SET amount_fen = amount_fen - 1 WHERE id = (SELECT MIN(p.id) FROM postings p "
           "JOIN ledger_transactions t ON t.id = p.transaction_id WHERE t.reason = 'deduction')", {})
    bad = runner.invoke(args=["transparency", "verify"])
    assert bad.exit_code == 1 and f"FAIL: run {run_id} (plan adult_789 record 1)" in bad.output, bad.output
    later = (clock.now() + dt.timedelta(days=1)).isoformat()
    assert "runs committed: none" in runner.invoke(args=["transparency", "commit-missing", "--at", later]).output
