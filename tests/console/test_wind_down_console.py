"""The wind-down screens (both databases): a reviewer proposes, the proposer cannot confirm, finance
confirms, the progress page shows the returns; CSRF and roles as everywhere in the console."""
import datetime as dt

import pytest

from app.services.clock import china_date
from tests.support import make_staff
from tests.support import csrf_of, post_form, sign_in_fully


@pytest.fixture
def staff(app, clock):
    return make_staff(clock.now())


def test_propose_confirm_and_progress(app, clock, staff):
    secrets: dict[str, str] = {}
    rev, fin = app.test_client(), app.test_client()
    sign_in_fully(rev, clock, "rev", secrets)
    closing = (china_date(clock.now()) + dt.timedelta(days=10)).isoformat()
    home = rev.get("/console/").get_data(as_text=True)
    assert '<a href="/console/wind-down" class="">停止计划</a>' in home  # the navigation leads there
    page = rev.get("/console/wind-down")
    assert page.status_code == 200 and "提出停止" in page.get_data(as_text=True)
    assert '<a href="/console/wind-down" class="active">停止计划</a>' in page.get_data(as_text=True)
    no_token = rev.post("/console/wind-down", data={"plan_code": "seniors", "closing_date": closing})
    assert no_token.status_code == 400  # the CSRF check, before anything happens
    proposed = post_form(rev, "/console/wind-down", {"plan_code": "seniors", "closing_date": closing})
    assert proposed.status_code == 302 and proposed.headers["Location"].endswith("/console/wind-down/seniors/confirm")
    mine = rev.get("/console/wind-down/seniors/confirm").get_data(as_text=True)
    assert "需要另一位财务人员确认" in mine and closing in mine
    refused = post_form(rev, "/console/wind-down/seniors/confirm", {})
    assert refused.status_code == 200 and "只有财务人员可以确认停止计划" in refused.get_data(as_text=True)
    assert "待财务确认" in rev.get("/console/wind-down").get_data(as_text=True)

    sign_in_fully(fin, clock, "fin", secrets)
    page = fin.get("/console/wind-down/seniors/confirm").get_data(as_text=True)
    assert "确认停止（立即停止加入）" in page
    confirmed = fin.post("/console/wind-down/seniors/confirm", data={"csrf_token": csrf_of(page)})
    assert confirmed.status_code == 302 and confirmed.headers["Location"].endswith("/console/wind-down/seniors/progress")
    progress = fin.get("/console/wind-down/seniors/progress").get_data(as_text=True)
    assert "已公告（停止日期前）" in progress and closing in progress
    assert post_form(rev, "/console/wind-down/seniors/retry", {},
                     from_page="/console/wind-down/seniors/progress").status_code == 403  # finance only
    public = app.test_client().get("/api/v1/plans/seniors/wind-down").get_json()
    assert public["status"] == "announced" and public["closing_date"] == closing
