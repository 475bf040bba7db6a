import sqlalchemy as sa

from app.extensions import db
from app.services.audit import audit_ledger


def test_demo_case_goes_the_real_claims_path_to_ready(app, client):
    result = app.test_cli_runner().invoke(args=["demo", "case", "--plan", "children", "--aid-fen", "500000"])
    assert result.exit_code == 0, result.output
    claim = db.session.execute(sa.text("SELECT id, status, approved_aid_fen FROM claims")).one()
    assert claim.status == "ready" and claim.approved_aid_fen == 500000
    steps = db.session.execute(sa.text(
        f"SELECT to_status FROM claim_timeline WHERE claim_id = {claim.id} ORDER BY id")).scalars().all()
    assert steps == ["submitted", "under_review", "investigating", "publicity", "ready"]
    listed = client.get("/api/v1/announcements").get_json()["items"]
    assert [a["id"] for a in listed] == [claim.id] and listed[0]["person"] == "演*"
    assert audit_ledger(db.session).ok


def test_demo_refused_in_production(app):
    app.config["ENV_NAME"] = "production"
    result = app.test_cli_runner().invoke(args=["demo", "case"])
    assert result.exit_code != 0 and "never" in result.output
