"""Reports over HTTP: public month JSON/CSV/PDF (frozen once the month is over), operators' ranges."""
import csv
import datetime as dt
import io

from tests.support import add_members, login, make_operator, make_user, operator_login, top_up


def test_public_month_json_csv_pdf_and_freezing(client, session, clock):
    now = clock.now()
    [m] = add_members(session, make_user(session, now), "transit_accident", [0], now)
    top_up(session, m, 1_234, now)
    live = client.get("/api/v1/plans/transit_accident/reports/2026-03")
    assert live.status_code == 200, live.get_json()
    body = live.get_json()
    assert body["frozen"] is False and body["report"]["flows"]["money_received_fen"] == 1_234
    assert "member_secret" not in live.get_data(as_text=True) and "王" not in live.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(client.get("/api/v1/plans/transit_accident/reports/2026-03/csv")
                                       .get_data(as_text=True))))
    assert ["flows", "topups_own_fen", "1234"] in rows and ["custody", "balanced", "true"] in rows
    pdf = client.get("/api/v1/plans/transit_accident/reports/2026-03/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert client.get("/api/v1/plans/transit_accident/reports").get_json()["items"] == []

    clock.advance(days=31)
    frozen = client.get("/api/v1/plans/transit_accident/reports/2026-03").get_json()
    assert frozen["frozen"] is True and len(frozen["sha256"]) == 64
    [listed] = client.get("/api/v1/plans/transit_accident/reports").get_json()["items"]
    assert (listed["period"], listed["sha256"]) == ("2026-03", frozen["sha256"])
    chain = client.get("/api/v1/plans/transit_accident/chain").get_json()["items"]
    assert chain[-1]["kind"] == "monthly_report" and chain[-1]["content_sha256"] == frozen["sha256"]
    bad = client.get("/api/v1/plans/transit_accident/reports/2026-3")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "period_invalid"
    assert client.get("/api/v1/plans/nope/reports/2026-03").status_code == 404


def test_operators_report_any_range(client, emulator, session, clock):
    now = clock.now()
    [m] = add_members(session, make_user(session, now), "seniors", [0], now)
    top_up(session, m, 500, now)
    make_operator("fin-1", "finance", now=now)
    make_operator("rev-1", "reviewer", now=now)
    query = {"plan": "seniors", "from": (now - dt.timedelta(days=1)).isoformat(), "to": (now + dt.timedelta(hours=1)).isoformat()}
    finance = operator_login(client, "fin-1")
    got = client.get("/api/v1/admin/reports", query_string=query, headers=finance)
    assert got.status_code == 200, got.get_json()
    assert got.get_json()["report"]["flows"]["money_received_fen"] == 500
    as_csv = client.get("/api/v1/admin/reports", query_string={**query, "format": "csv"}, headers=finance)
    assert as_csv.mimetype == "text/csv" and "money_received_fen,500" in as_csv.get_data(as_text=True)
    assert client.get("/api/v1/admin/reports", query_string=query,
                      headers=operator_login(client, "rev-1")).status_code == 403
    assert client.get("/api/v1/admin/reports", query_string=query,
                      headers=login(client, emulator.url, "o-rep-member")).status_code == 401
    backwards = {**query, "from": query["to"], "to": query["from"]}
    assert client.get("/api/v1/admin/reports", query_string=backwards, headers=finance).status_code == 400


def test_the_scheduler_freezes_last_month(app, client, runner):
    result = runner.invoke(args=["scheduler", "run", "--once", "--at", "2026-04-01T02:00:00+00:00"])
    assert result.exit_code == 0 and "reports.freeze" in result.output, result.output
    listed = client.get("/api/v1/plans/adult_789/reports").get_json()["items"]
    assert [r["period"] for r in listed] == ["2026-03"]
