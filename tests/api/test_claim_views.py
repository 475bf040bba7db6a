"""The claim read views (app/services/claim_views.py): one SQL statement per list whatever its
length, and the same answer the per-claim queries gave (timeline, documents, objections, the
latest transfer, datetimes to the microsecond), on SQLite and PostgreSQL."""
import contextlib
import io

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import ClaimObjection, Operator, PayoutTransfer
from app.services import claim_views, claims, payouts
from app.services.unit_of_work import atomic
from tests.support import claim_body, join_and_fund, make_protected, make_staff, login_as, operator_login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    app.config["CLAIM_DOCUMENTS_DIR"] = str(tmp_path / "claim-documents")


@contextlib.contextmanager
def statements():
    """The SQL statements the database receives meanwhile."""
    seen: list[str] = []
    engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _report(client, emulator, clock, n: int, first: int = 0) -> list[tuple[dict, int]]:
    """n members each with a protected membership and a claim carrying a document."""
    made = []
    for i in range(first, first + n):
        headers = login_as(client, emulator, f"o-view-{i}")
        membership_id, _ = join_and_fund(client, headers, clock, name="张三丰")
        made.append((headers, membership_id))
    make_protected(clock)
    out = []
    for headers, membership_id in made:
        response = client.post("/api/v1/claims", json=claim_body(membership_id, clock), headers=headers)
        assert response.status_code == 201, response.get_json()
        claim_id = response.get_json()["id"]
        upload = client.post(f"/api/v1/claims/{claim_id}/documents", headers=headers,
                             data={"file": (io.BytesIO(PNG), "x.png")}, content_type="multipart/form-data")
        assert upload.status_code == 201
        out.append((headers, claim_id))
    return out


def _enrich(client, clock, claim_id: int, user_id_of) -> None:
    """A timeline of several entries, an objection and two transfers (the later one must show)."""
    rev = operator_login(client, "rev")
    assert client.post(f"/api/v1/admin/claims/{claim_id}/review", headers=rev).status_code == 200
    assert client.post(f"/api/v1/admin/claims/{claim_id}/return", json={"missing": "出院小结"},
                       headers=rev).status_code == 200
    finance = db.session.execute(select(Operator.id).where(Operator.username == "fin")).scalar_one()
    now = clock.now()
    with atomic(db.session):
        db.session.add(ClaimObjection(claim_id=claim_id, user_id=user_id_of(claim_id), reason="材料存疑，请核实",
                                      status="dismissed", resolution="已核实", created_at=now, resolved_at=now))
        for n, status in enumerate(("failed", "wait_user_confirm")):
            db.session.add(PayoutTransfer(claim_id=claim_id, out_bill_no=f"T{claim_id}x{n}", amount_fen=500 + n,
                                          status=status, attempts=1, package_info=f"pkg-{n}",
                                          approved_by_operator_id=finance, created_at=now, updated_at=now))


def _per_claim(claim_id: int) -> dict:
    """What the blueprints built before, query by query."""
    transfer = payouts.for_claim(db.session, claim_id)
    return {
        "timeline": [{k: getattr(e, k) for k in ("from_status", "to_status", "actor", "note", "created_at")}
                     for e in claims.timeline(db.session, claim_id)],
        "documents": [{k: getattr(d, k) for k in ("id", "content_type", "size_bytes", "created_at")}
                      for d in claims.documents(db.session, claim_id)],
        "objections": [{k: getattr(o, k) for k in ("id", "reason", "status", "resolution", "created_at",
                                                   "resolved_at")} for o in claims.objections(db.session, claim_id)],
        "transfer": None if transfer is None else (transfer.status, transfer.amount_fen, transfer.paid_at),
    }


def test_the_views_answer_what_the_per_claim_queries_did(client, app, clock, emulator):
    make_staff(clock.now())
    made = _report(client, emulator, clock, 3)
    owner = {claim_id: claims.get_for_operator(db.session, _auditor(), claim_id).user_id for _, claim_id in made}
    _enrich(client, clock, made[0][1], owner.get)
    for view in claim_views.operator_claims(db.session, _auditor()):
        expected = _per_claim(view["id"])
        assert view["timeline"] == expected["timeline"] and len(view["timeline"]) >= 1
        assert view["documents"] == expected["documents"] and len(view["documents"]) == 1
        assert view["objections"] == expected["objections"]
        payout = view["payout"] and (view["payout"]["status"], view["payout"]["amount_fen"], view["payout"]["paid_at"])
        assert payout == expected["transfer"]
    rich = claim_views.operator_claim(db.session, made[0][1])
    assert len(rich["timeline"]) == 3 and rich["objections"][0]["status"] == "dismissed"
    assert rich["payout"]["status"] == "wait_user_confirm" and rich["payout"]["package_info"] is None  # operators
    assert claim_views.member_claim(db.session, made[0][1])["payout"]["package_info"] == "pkg-1"  # the claimant
    assert rich["timeline"][0]["created_at"].tzinfo is not None


def _auditor() -> Operator:
    return db.session.execute(select(Operator).where(Operator.username == "aud")).scalar_one()


def test_the_admin_claim_list_is_one_statement_however_many_claims(client, app, clock, emulator):
    make_staff(clock.now())
    made = _report(client, emulator, clock, 1)
    owner = {claim_id: claims.get_for_operator(db.session, _auditor(), claim_id).user_id for _, claim_id in made}
    _enrich(client, clock, made[0][1], owner.get)
    db.session.expire_all()
    auditor = _auditor()
    with statements() as one_claim:
        assert len(claim_views.operator_claims(db.session, auditor)) == 1
    assert len(one_claim) == 1

    made += _report(client, emulator, clock, 4, first=1)
    aud = operator_login(client, "aud")
    db.session.expire_all()
    auditor = _auditor()
    with statements() as five_claims:
        items = claim_views.operator_claims(db.session, auditor)
    assert len(items) == 5 and len(five_claims) == 1
    # Over HTTP: besides the operator's token check, one statement lists the five.
    db.session.expire_all()
    with statements() as over_http:
        response = client.get("/api/v1/admin/claims", headers=aud)
    assert response.status_code == 200 and len(response.get_json()["items"]) == 5
    listing = [s for s in over_http if "claim_timeline" in s]
    assert len(listing) == 1, over_http
    # The member's list too: one statement for the list.
    headers = made[0][0]
    with statements() as mine:
        response = client.get("/api/v1/claims", headers=headers)
    assert response.status_code == 200 and len(response.get_json()["items"]) == 1
    assert len([s for s in mine if "claim_timeline" in s]) == 1
