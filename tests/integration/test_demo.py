import sqlalchemy as sa

from app.extensions import db
from app.services.audit import audit_ledger
from app.services.demo_seed import FAMILY_OPENID
from tests.support import login


def test_demo_case_goes_the_real_claims_path_to_ready(app, client, runner):
    result = runner.invoke(args=["demo", "case", "--plan", "children", "--aid-fen", "500000"])
    assert result.exit_code == 0, result.output
    claim = db.session.execute(sa.text("SELECT id, status, approved_aid_fen FROM claims")).one()
    assert claim.status == "ready" and claim.approved_aid_fen == 500000
    steps = db.session.execute(sa.text(
        f"SELECT to_status FROM claim_timeline WHERE claim_id = {claim.id} ORDER BY id")).scalars().all()
    assert steps == ["submitted", "under_review", "investigating", "publicity", "ready"]
    listed = client.get("/api/v1/announcements").get_json()["items"]
    assert [a["id"] for a in listed] == [claim.id] and listed[0]["person"] == "演*"
    assert audit_ledger(db.session).ok


def test_demo_refused_in_production(app, runner):
    app.config["ENV_NAME"] = "production"
    result = runner.invoke(args=["demo", "case"])
    assert result.exit_code != 0 and "never" in result.output


def test_demo_seed_fills_every_list_the_mini_program_shows(app, client, emulator, runner):
    seeded = runner.invoke(args=["demo", "seed", "--members", "60"])
    assert seeded.exit_code == 0, seeded.output
    assert "openid demo-family" in seeded.output
    audit = runner.invoke(args=["ledger", "audit"])
    assert audit.exit_code == 0 and "ledger audit passed" in audit.output, audit.output
    again = runner.invoke(args=["demo", "seed", "--members", "60"])
    assert again.exit_code != 0 and "demo_already_seeded" in again.output
    kept = runner.invoke(args=["demo", "seed", "--members", "60", "--keep-existing"])  # what make demo runs
    assert kept.exit_code == 0 and "already there" in kept.output

    family = login(client, emulator.url, FAMILY_OPENID)

    def items(path, headers=None):
        response = client.get("/api/v1" + path, headers=headers)
        assert response.status_code == 200, (path, response.get_json())
        found = response.get_json()["items"]
        assert found, f"{path} is empty"
        return found

    plans = items("/plans")
    for plan in plans:  # two executed runs per plan, each with its cases
        runs = items(f"/plans/{plan['code']}/runs")
        assert len([r for r in runs if r["status"] == "executed"]) == 2, (plan["code"], runs)
        detail = client.get(f"/api/v1/plans/{plan['code']}/runs/{runs[0]['id']}").get_json()
        assert detail["cases"], detail
    announcements = items("/announcements")
    [in_publicity] = [a for a in announcements if a["status"] == "publicity"]
    assert in_publicity["objections"] and {"collected", "paid"} <= {a["status"] for a in announcements}
    mine = items("/memberships", family)
    assert {m["state"] for m in mine} == {"pending", "observing", "protected", "suspended", "left", "aided"}
    for membership in mine:
        if membership["state"] != "pending":
            items(f"/memberships/{membership['id']}/ledger", family)
        if membership["state"] in ("protected", "suspended", "aided"):
            items(f"/memberships/{membership['id']}/deductions", family)
        if membership["state"] in ("left", "aided"):
            assert {r["status"] for r in items(f"/memberships/{membership['id']}/refunds", family)} == {"succeeded"}
    assert {c["status"] for c in items("/claims", family)} == {"under_review", "paid"}
    assert any(t["remaining"] > 0 for t in items("/subscriptions", family))
    counts = dict(db.session.execute(sa.text("SELECT state, COUNT(*) FROM memberships GROUP BY state")).all())
    assert counts["protected"] > 30 and counts["lapsed"] and counts["suspended"] > 1
    without_secret = db.session.execute(sa.text(  # the bulk memberships got theirs as join gives them
        "SELECT COUNT(*) FROM memberships m WHERE NOT EXISTS "
        "(SELECT 1 FROM membership_secrets s WHERE s.membership_id = m.id)")).scalar_one()
    assert without_secret == 0
    statuses = dict(db.session.execute(sa.text("SELECT status, COUNT(*) FROM claims GROUP BY status")).all())
    assert statuses == {"collected": 12, "paid": 6, "publicity": 1, "under_review": 1,  # 3 cases a plan, 1 paid
                        "investigating": 1}


def test_demo_seed_refused_in_production(app, runner):
    app.config["ENV_NAME"] = "production"
    result = runner.invoke(args=["demo", "seed", "--members", "60"])
    assert result.exit_code != 0 and "never" in result.output
    assert db.session.execute(sa.text("SELECT COUNT(*) FROM memberships")).scalar_one() == 0
