"""After `flask demo seed` every console list has something to show to the role that reads it: the
work queues, claims, runs, refunds, payouts, a looked-up member, notifications, the audit log and its
chain, the daily reconciliation (with a mismatch to resolve) and the financial report."""
import re

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Operator
from app.services import operators
from tests.support import PASSWORD, make_operator
from tests.support import sign_in_fully

ROW = re.compile(r"<tr[^>]*>\s*<td")  # a table row with cells; an empty list's row is one too, marked "empty"


def _demo_operator(role: str) -> str:
    """The seed's operator of `role` (a random password): given the suite's password through the service's hash."""
    username = db.session.execute(select(Operator.username).where(
        Operator.username.like(f"demo-{role}-%"))).scalar_one()
    db.session.execute(update(Operator).where(Operator.username == username).values(
        password_hash=operators.hash_password(PASSWORD)))
    db.session.commit()
    return username


def _listed(client, url: str) -> str:
    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.status_code)
    text = answer.get_data(as_text=True)
    assert len(ROW.findall(text)) > text.count('class="empty"'), f"{url} shows only empty lists"
    return text


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # tests/integration/test_demo.py: both
def test_every_console_list_is_filled_after_demo_seed(app, client, clock):
    seeded = app.test_cli_runner().invoke(args=["demo", "seed", "--members", "40"])
    assert seeded.exit_code == 0, seeded.output
    make_operator("demo-auditor", "auditor", now=clock.now())
    secrets: dict[str, str] = {}
    people = {role: app.test_client() for role in ("reviewer", "investigator", "finance")}
    for role, browser in people.items():
        sign_in_fully(browser, clock, _demo_operator(role), secrets)
    auditor = app.test_client()
    sign_in_fully(auditor, clock, "demo-auditor", secrets)

    reviewer, investigator, finance = people["reviewer"], people["investigator"], people["finance"]
    for browser, queues in ((reviewer, ("review", "objections")), (investigator, ("investigate",)),
                            (finance, ("payout",))):
        home = browser.get("/console/").get_data(as_text=True)
        for queue in queues:
            count = re.search(rf'data-queue="{queue}".*?class="tile-count">(\d+)<', home, re.S)
            assert count and int(count.group(1)) > 0, queue
            _listed(browser, f"/console/queues/{queue}")
    _listed(reviewer, "/console/claims")
    _listed(finance, "/console/runs")
    _listed(finance, "/console/money/refunds?status=succeeded")
    _listed(finance, "/console/money/payouts")
    membership_id = re.search(r'href="/console/members/(\d+)"',
                              _listed(finance, "/console/money/refunds?status=succeeded")).group(1)
    _listed(reviewer, f"/console/members?membership_id={membership_id}")
    _listed(reviewer, f"/console/members/{membership_id}")
    assert "还没有通知" not in _listed(auditor, "/console/notifications")
    _listed(auditor, "/console/audit")
    _listed(auditor, "/console/audit/chain")
    tile = finance.get("/console/").get_data(as_text=True)
    assert re.search(r'data-testid="open-mismatches">\s*<span class="tile-count">1<', tile)
    days = _listed(auditor, "/console/money/reconciliation")
    day = re.search(r'data-testid="open-([\d-]+)">1<', days).group(1)  # the seeded WeChat-only line
    assert "DEMOWXONLY0001" in _listed(finance, f"/console/money/reconciliation/{day}")
    report = finance.get("/console/money/reports?plan=adult_789").get_data(as_text=True)
    assert 'data-testid="report-chart"' in report and "两边相等" in report
