"""The console in headless Chromium against a live server on PostgreSQL: every role signs in and a
claim walks from review to payout; an apportionment runs with its progress bar moving chunk by chunk;
a refund failed by an emulator fault is retried; a planted reconciliation mismatch is resolved and the
financial report read with its chart. Screenshots: test-artifacts/console/<test>/."""
from __future__ import annotations

import io
import re

import pytest
import requests
from sqlalchemy import select

from app.extensions import db
from app.models import Claim, OperatorAuditEntry, PaymentRefund
from tests.support import (add_members, claim_body, join, join_and_fund, live_server, login_as, make_protected,
                           make_staff, make_user, order_topup, phone_pays, wait_until)
from wechat.emulator.state import Fault

from tests.wechat.test_bill_reconciliation import day  # noqa: F401 (a fixture: the emulator's bill day)

from .browser_support import Operator, Screens, launch

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def scan_png(width: int = 240, height: int = 160) -> bytes:
    """A real PNG (a grey page with dark text lines), so the browser can draw the document."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(60 if (y % 20 in (8, 9) and 20 <= x < width - 20 - (y * 7) % 60) else 235
                                      for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def live(app, tmp_path):
    app.config["CLAIM_DOCUMENTS_DIR"] = str(tmp_path / "claim-documents")
    app.config["APPORTIONMENT_CHUNK_SIZE"] = 2  # a few members, several chunks: the bar has steps to show
    with live_server(app) as base:
        yield base


@pytest.fixture
def screens(request):
    return Screens(request.node.name)


def test_every_role_walks_a_claim_from_review_to_payout(app, client, live, browser, screens, emulator, clock, runner):
    staff = make_staff(clock.now())
    claimant = login_as(client, emulator, "o-browser-claimant")
    objector = login_as(client, emulator, "o-browser-objector")
    membership_id, _ = join_and_fund(client, claimant, clock, name="张三丰")
    join_and_fund(client, objector, clock, name="李四")
    make_protected(clock)
    claim_id = client.post("/api/v1/claims", json=claim_body(membership_id, clock), headers=claimant).get_json()["id"]
    assert client.post(f"/api/v1/claims/{claim_id}/documents", headers=claimant, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(scan_png()), "scan.png")}).status_code == 201
    secrets: dict[str, str] = {}
    claim_path = f"/console/claims/{claim_id}"

    rev = Operator(browser, live, clock, screens, "rev", secrets)
    rev.sign_in()
    assert rev.page.inner_text("[data-queue=review] .tile-count") == "1"
    rev.visit("/console/queues/review", "queue-review").click(f"a[href='{claim_path}']")
    rev.visit_current("claim-submitted")
    assert rev.page.locator(".document img").evaluate("img => img.complete && img.naturalWidth") == 240
    rev.submit(f"form[action='{claim_path}/review']", "claim-under-review")
    rev.page.select_option("#organisation_id", str(staff["org_id"]))
    rev.submit(f"form[action='{claim_path}/assign']", "claim-assigned")
    assert "已指派调查机构" in rev.page.inner_text(".flash")
    rev.page.fill(f"form[action='{claim_path}/reveal'] textarea", "核对医院病历上的姓名")
    rev.submit(f"form[action='{claim_path}/reveal']", "identity-revealed")
    assert "张三丰" in rev.page.inner_text("[data-testid=revealed]")
    rev.close()

    inv = Operator(browser, live, clock, screens, "inv", secrets)
    inv.sign_in()
    inv.visit("/console/queues/investigate", "queue-investigate").click(f"a[href='{claim_path}']")
    inv.page.select_option("#aid_item_code", "major_illness")
    inv.page.fill("#approved_aid_yuan", "10000")
    inv.page.fill("#findings", "病历与诊断一致")
    inv.page.fill("#summary", "经调查，确诊急性白血病，符合互助条件")
    inv.submit(f"form[action='{claim_path}/report']", "claim-publicity")
    assert db.session.get(Claim, claim_id).approved_aid_fen == 1_000_000
    inv.close()

    objection = client.post(f"/api/v1/announcements/{claim_id}/objections", json={"reason": "我认为病情描述有出入"},
                            headers=objector)
    assert objection.status_code == 201
    rev = Operator(browser, live, clock, screens, "rev", secrets)
    rev.sign_in()
    rev.visit("/console/queues/objections", "queue-objections").click(f"a[href='{claim_path}']")
    rev.page.fill("#resolution", "经复核，材料真实")
    rev.submit(".objection form", "objection-dismissed")
    assert "异议已处理" in rev.page.inner_text(".flash")
    rev.close()

    clock.advance(days=5)
    assert "ready: 1" in runner.invoke(args=["claims", "advance"]).output
    add_members(db.session, make_user(db.session, clock.now()), "adult_789", [500, 500, 500, 500], clock.now())

    fin = Operator(browser, live, clock, screens, "fin", secrets)
    fin.sign_in()
    fin.visit("/console/runs", "runs")
    fin.page.select_option("#plan_code", "adult_789")
    fin.submit("form[action='/console/runs/prepare']", "run-prepared")
    run_id = int(re.search(r"/console/runs/(\d+)$", fin.page.url).group(1))
    fin.submit(f"form[action='/console/runs/{run_id}/publish']", "run-published")
    _execute_watching_the_bar(fin, run_id)
    fin.visit(claim_path, "claim-collected")
    fin.submit(f"form[action='{claim_path}/payout']", "payout-approved")
    assert "已批准发放" in fin.page.inner_text(".flash")
    fin.visit("/console/money/payouts", "payouts")
    fin.close()

    mine = client.get(f"/api/v1/claims/{claim_id}", headers=claimant).get_json()
    assert requests.post(emulator.url + "_emulator/transfer/confirm",
                         json={"package_info": mine["payout"]["package_info"]}, timeout=5).status_code == 200
    done = client.post(f"/api/v1/claims/{claim_id}/payout/confirmed", headers=claimant).get_json()
    assert done["status"] == "paid"

    aud = Operator(browser, live, clock, screens, "aud", secrets)
    aud.sign_in()
    aud.visit(claim_path, "claim-paid")
    assert "互助金已发放" in aud.page.inner_text("h1")
    aud.page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, portrait
    aud.visit(claim_path, "claim-paid-tablet")
    assert aud.page.evaluate("document.documentElement.scrollWidth") <= 820  # nothing spills sideways
    aud.page.set_viewport_size({"width": 1366, "height": 900})
    aud.visit("/console/audit?action=identity.revealed", "audit-reveals")
    assert "核对医院病历上的姓名" in aud.page.inner_text("table")
    with aud.page.expect_download() as download:
        aud.page.click("[data-testid=audit-export]")
    assert "identity.revealed" in download.value.path().read_text(encoding="utf-8")
    aud.visit(f"/console/members?membership_id={membership_id}", "member-lookup")
    aud.visit(f"/console/members/{membership_id}", "member-ledger")
    aud.visit("/console/notifications", "notifications")
    assert aud.visit("/console/money/refunds", "refunds").title().startswith("退款")
    aud.close()
    assert db.session.execute(select(OperatorAuditEntry).where(OperatorAuditEntry.action == "identity.revealed")).scalar()


def _execute_watching_the_bar(fin: Operator, run_id: int) -> None:
    """Click execute; every chunk's answer moves the bar one step, to the end."""
    page = fin.page
    seen: list[tuple[int, int, str]] = []

    def relay(route):
        answer = route.fetch()
        body = answer.json()
        seen.append((body["chunks_done"], body["chunks_total"], body["status"]))
        route.fulfill(response=answer)

    page.route(f"**/console/runs/{run_id}/execute-chunk", relay)
    with page.expect_response(lambda r: r.url.endswith("/execute-chunk")):
        page.click("[data-execute-run]")
    fin.screens.shot(page, "fin-run-executing")
    page.wait_for_selector("[data-testid=run-status]:has-text('已完成')")
    fin.visit_current("run-executed")
    # One step per chunk, then the call that settles the run (all chunks done already).
    total = seen[-1][1]
    assert total >= 3 and [done for done, _, _ in seen] == list(range(1, total + 1)) + [total], seen
    assert [status for _, _, status in seen] == ["executing"] * total + ["executed"]
    bar = page.locator("[data-testid=run-progress]")
    assert bar.get_attribute("value") == bar.get_attribute("max") == str(total)


def test_a_refund_failed_by_wechat_is_retried_from_the_console(app, client, live, browser, screens, emulator, clock):
    make_staff(clock.now())
    headers = login_as(client, emulator, "o-browser-leaver")
    membership_id = join(client, headers, clock)["id"]
    topup = order_topup(client, headers, membership_id, 800)
    phone_pays(emulator, topup["payment"])
    wait_until(lambda: client.get(f"/api/v1/topups/{topup['order']['id']}", headers=headers)
               .get_json()["status"] == "paid", 10, "the payment notification to mark the order paid")
    emulator.state.add_fault(Fault(path="v3/refund/domestic/refunds", times=1, status=400))  # WeChat refuses for good
    left = client.post(f"/api/v1/memberships/{membership_id}/leave", headers=headers)
    assert left.status_code == 200, left.get_json()
    [failed] = db.session.execute(select(PaymentRefund)).scalars()
    assert failed.status == "failed"

    secrets: dict[str, str] = {}
    fin = Operator(browser, live, clock, screens, "fin", secrets)
    fin.sign_in()
    fin.visit("/console/money/refunds?status=failed", "refunds-failed")
    fin.submit(f"form[action='/console/money/refunds/{failed.id}/retry']", "refund-retried")
    assert "已重新发起退款" in fin.page.inner_text(".flash")
    db.session.expire_all()
    retry = db.session.execute(select(PaymentRefund).where(PaymentRefund.id != failed.id)).scalar_one()
    assert (retry.amount_fen, retry.order_id) == (800, failed.order_id) and retry.refund_id
    wait_until(lambda: db.session.get(PaymentRefund, retry.id).status == "succeeded"
               or db.session.expire_all(), 10, "the retried refund to succeed")
    fin.visit("/console/money/refunds?status=succeeded", "refunds-succeeded")
    assert retry.out_refund_no in fin.page.inner_text("table")
    fin.close()
    entry = db.session.execute(select(OperatorAuditEntry).where(OperatorAuditEntry.action == "refund.retried")).scalar_one()
    assert entry.target_id == failed.id and entry.after["retry_refund_id"] == retry.id


def test_finance_resolves_a_planted_mismatch_then_reads_the_report_and_a_verified_run(
        app, client, live, browser, screens, emulator, clock, services, day):  # noqa: F811
    """The money screens in the browser: the planted amount mismatch resolved with a reason; the
    report's custody identity and its chart (a data: PNG the CSP lets through: no console error);
    an executed run shown verified."""
    from app.services.clock import CHINA_TZ
    from tests.support import executed_run
    from tests.wechat.test_bill_reconciliation import _next_morning, _paid_topups, _plant

    _, [order] = _paid_topups(client, emulator, clock, services, db.session, [500])
    _plant(emulator, day, kind="amount", reference=order, amount_fen=499)
    later = _next_morning(emulator, clock)
    result = app.test_cli_runner().invoke(args=["bills", "reconcile", "--date", day.isoformat(),
                                                "--at", later.isoformat()])
    assert result.exit_code == 0, result.output
    run_id, _ = executed_run(db.session, later, [800, 900, 1_000])
    make_staff(later)

    fin = Operator(browser, live, clock, screens, "fin", {})
    fin.sign_in()
    page = fin.visit("/console/money/reconciliation", "reconciliation")
    assert page.inner_text(f"[data-testid=open-{day.isoformat()}]") == "1"
    page.click(f"a[href='/console/money/reconciliation/{day.isoformat()}']")
    fin.visit_current("reconciliation-day")
    row = f"tr[data-mismatch='{order}']"
    page.select_option(f"{row} select", "corrected")
    page.fill(f"{row} textarea", "商户平台核对后已按微信金额调整")
    fin.submit(f"{row} form.resolve", "mismatch-resolved")
    assert "差异已处理" in page.inner_text(".flash")
    assert page.inner_text(f"{row} [data-testid=resolved]") == "已更正账务"

    period = later.astimezone(CHINA_TZ).strftime("%Y-%m")
    page = fin.visit(f"/console/money/reports?plan=adult_789&period={period}", "report")
    chart = page.locator("[data-testid=report-chart]")
    assert chart.evaluate("img => img.complete && img.naturalWidth") > 500
    assert page.inner_text("[data-testid=custody-money]") == page.inner_text("[data-testid=custody-held]")
    assert "两边相等" in page.inner_text("[data-testid=custody-balanced]")
    page = fin.visit(f"/console/runs/{run_id}", "run-verified")
    assert page.inner_text("[data-testid=verification-status]") == "核验一致"
    fin.close()
