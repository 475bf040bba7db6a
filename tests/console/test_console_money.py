"""The console's money and verification screens over Flask's test client: the daily reconciliation with
a planted mismatch that finance resolves (audited, kept by a re-run, counted in the metrics) and
auditors only read; the financial report with both sides of the custody identity, its chart and CSV;
each run's verification status (and a tampered debit shown as a mismatch); the audit chain verified;
name corrections reviewed. Roles as the API: finance and auditors see money, reviewers do not."""
import datetime as dt
import re

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from app.extensions import db
from app.models import BillMismatch, BillMismatchResolution, OperatorAuditEntry
from app.services import personal_data
from tests.support import make_staff, operator_login
from tests.support import csrf_of, post_form, sign_in, sign_in_fully
from tests.service.test_reports import MARCH, _flow
from tests.support import a_debit, tamper
from tests.wechat.test_bill_reconciliation import _next_morning, _paid_topups, _plant, day  # noqa: F401 (fixture)


# The services behind these screens are tested on both databases; the screens once, on PostgreSQL
# (the reconciliation screen's own queries on both).
postgresql_only = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _mismatch_count(category: str, kind: str) -> float:
    return REGISTRY.get_sample_value("yiqi_bill_mismatches_total", {"category": category, "kind": kind}) or 0


def _reconcile(app, day, at) -> None:
    result = app.test_cli_runner().invoke(args=["bills", "reconcile", "--date", day.isoformat(),
                                                "--at", at.isoformat()])
    assert result.exit_code == 0, result.output


def test_finance_resolves_a_planted_mismatch_audited_auditors_only_read(app, client, emulator, clock, services,
                                                                        session, day):  # noqa: F811
    _, orders = _paid_topups(client, emulator, clock, services, session, [300, 500])
    _plant(emulator, day, kind="amount", reference=orders[0], amount_fen=301)
    _plant(emulator, day, kind="omit", reference=orders[1])  # ours only: resolved through the API below
    later = _next_morning(emulator, clock)
    counted = _mismatch_count("amount_differs", "payment")
    _reconcile(app, day, later)
    assert _mismatch_count("amount_differs", "payment") == counted + 1  # the Prometheus counter
    make_staff(later)
    day_url = f"/console/money/reconciliation/{day.isoformat()}"

    auditor = app.test_client()
    sign_in(auditor, "aud")
    days = auditor.get("/console/money/reconciliation").get_data(as_text=True)
    assert f'data-testid="open-{day.isoformat()}">2<' in days
    page = auditor.get(day_url).get_data(as_text=True)
    assert orders[0] in page and "¥3.01" in page and "¥3.00" in page
    assert "标记为已处理" not in page and "/resolve" not in page  # auditors get no form
    mismatch_id = db.session.execute(select(BillMismatch.id).where(BillMismatch.reference == orders[0])).scalar_one()
    resolve_url = f"{day_url}/mismatches/{mismatch_id}/resolve"
    refused = auditor.post(resolve_url, data={"csrf_token": csrf_of(page), "outcome": "explained", "note": "看过了没问题"})
    assert refused.status_code == 403

    reviewer = app.test_client()
    sign_in_fully(reviewer, clock, "rev", {})
    assert reviewer.get("/console/money/reconciliation").status_code == 403
    assert reviewer.get(day_url).status_code == 403

    secrets: dict[str, str] = {}
    sign_in_fully(client, clock, "fin", secrets)
    empty = post_form(client, resolve_url, {"outcome": "explained", "note": ""}, from_page=day_url)
    assert empty.status_code == 400 and "请写明处理说明" in empty.get_data(as_text=True)
    done = post_form(client, resolve_url, {"outcome": "explained", "note": "微信手续费差一分，已与商户平台核对"},
                     from_page=day_url)
    assert done.status_code == 302
    page = client.get(day_url).get_data(as_text=True)
    assert 'data-testid="resolved">已查明，无需更正<' in page and "已与商户平台核对" in page
    again = post_form(client, resolve_url, {"outcome": "corrected", "note": "再处理一次试试"}, from_page=day_url,
                      follow_redirects=True)
    assert "这条差异已经处理过了" in again.get_data(as_text=True)

    entry = db.session.execute(select(OperatorAuditEntry).where(
        OperatorAuditEntry.action == "reconciliation.mismatch_resolved")).scalar_one()
    assert entry.after["reason"] == "微信手续费差一分，已与商户平台核对" and entry.after["outcome"] == "explained"
    assert entry.before["reference"] == orders[0] and entry.operator_id is not None

    # The API: the same service, the same roles (auditors read, finance resolves).
    api_url = f"/api/v1/admin/reconciliations/{day.isoformat()}"
    audit_headers, finance_headers = operator_login(client, "aud"), operator_login(client, "fin")
    listed = {m["reference"]: m for m in client.get(api_url, headers=audit_headers).get_json()["mismatches"]}
    assert listed[orders[0]]["resolution"]["outcome"] == "explained" and listed[orders[1]]["resolution"] is None
    resolve_api = f"{api_url}/mismatches/{listed[orders[1]]['id']}/resolve"
    body = {"outcome": "escalated", "note": "微信账单缺这一笔，已提交商户平台核查"}
    assert client.post(resolve_api, json=body, headers=audit_headers).status_code == 403
    answer = client.post(resolve_api, json=body, headers=finance_headers)
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "escalated", answer.get_json()
    assert client.post(resolve_api, json=body, headers=finance_headers).get_json()["error"]["code"] == \
        "mismatch_already_resolved"

    _reconcile(app, day, later + dt.timedelta(minutes=5))  # a re-run replaces the mismatches, keeps the resolutions
    assert {r.reference for r in db.session.execute(select(BillMismatchResolution)).scalars()} == set(orders)
    assert f'data-testid="open-{day.isoformat()}"' not in client.get("/console/money/reconciliation").get_data(
        as_text=True)
    assert 'data-testid="resolved"' in client.get(day_url).get_data(as_text=True)


@pytest.fixture
def flow(session, clock):
    return _flow(session, clock)


@postgresql_only
def test_the_report_shows_both_sides_of_the_custody_identity_and_its_chart(app, client, clock, flow):
    make_staff(clock.now())
    sign_in(client, "aud")
    page = client.get(f"/console/money/reports?plan=adult_789&period={MARCH}").get_data(as_text=True)
    money = re.search(r'data-testid="custody-money">([^<]+)<', page).group(1)
    held = re.search(r'data-testid="custody-held">([^<]+)<', page).group(1)
    assert money == held and money != "¥0.00" and "两边相等" in page
    assert re.search(r'data-testid="report-chart" src="data:image/png;base64,[A-Za-z0-9+/=]{500,}"', page)
    assert "实时计算" in page  # March is the open month
    ranged = client.get("/console/money/reports?plan=adult_789&from=2026-03-01&to=2026-03-31")
    assert ranged.status_code == 200 and "2026-03-01 至 2026-03-31" in ranged.get_data(as_text=True)
    exported = client.get(f"/console/money/reports.csv?plan=adult_789&period={MARCH}")
    assert exported.mimetype == "text/csv" and "custody,balanced,true" in exported.get_data(as_text=True)
    reviewer = app.test_client()
    sign_in_fully(reviewer, clock, "rev", {})
    assert reviewer.get("/console/money/reports").status_code == 403


@postgresql_only
def test_a_run_is_verified_and_a_tampered_debit_shows_as_a_mismatch(app, client, clock, session, flow):
    _, _, run = flow
    make_staff(clock.now())
    sign_in(client, "aud")
    assert "已上链" in client.get("/console/runs").get_data(as_text=True)
    page = client.get(f"/console/runs/{run.id}").get_data(as_text=True)
    assert 'data-testid="verification-status">核验一致<' in page
    tamper(session, "UPDATE postings SET amount_fen = amount_fen + 1 WHERE id = :p", {"p": a_debit(session, run.id)})
    page = client.get(f"/console/runs/{run.id}").get_data(as_text=True)
    assert 'data-testid="verification-status">核验不一致<' in page and "root" in page


@postgresql_only
def test_the_audit_chain_is_shown_and_verified(app, client, clock, services):
    make_staff(clock.now())
    sign_in_fully(client, clock, "fin", {})  # enrolling TOTP is audited: the chain has an entry
    page = client.get("/console/audit/chain").get_data(as_text=True)
    assert "global" in page and 'data-testid="chain-report"' not in page
    verified = client.get("/console/audit/chain?verify=1").get_data(as_text=True)
    assert 'data-testid="chain-status">一致<' in verified
    investigator = app.test_client()
    sign_in(investigator, "inv")
    assert investigator.get("/console/audit/chain").status_code == 403


@postgresql_only
def test_a_reviewer_approves_a_name_correction_audited(app, client, emulator, clock, services):
    from tests.support import join_and_fund, login_as

    headers = login_as(client, emulator, "o-rename")
    membership_id, _ = join_and_fund(client, headers, clock, name="张三风")
    asked = client.post("/api/v1/me/name-corrections", json={"membership_id": membership_id, "name": "张三丰"},
                        headers=headers)
    assert asked.status_code in (200, 201), asked.get_json()
    make_staff(clock.now())
    finance = app.test_client()
    sign_in_fully(finance, clock, "fin", {})
    assert finance.get("/console/members/name-corrections").status_code == 403  # reviewers only, as the API
    reviewer = app.test_client()
    sign_in_fully(reviewer, clock, "rev", {})
    page = reviewer.get("/console/members/name-corrections").get_data(as_text=True)
    assert "张三风" in page and "张三丰" in page
    [correction_id] = re.findall(r"/name-corrections/(\d+)/approve", page)
    done = post_form(reviewer, f"/console/members/name-corrections/{correction_id}/approve", {},
                     from_page="/console/members/name-corrections", follow_redirects=True)
    assert "已同意更正" in done.get_data(as_text=True)
    assert personal_data.list_corrections(db.session, "approved")[0].reviewed_by_operator_id is not None
    assert db.session.execute(select(OperatorAuditEntry).where(
        OperatorAuditEntry.action == "name_correction.approved")).scalar_one().target_id == membership_id
