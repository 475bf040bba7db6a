"""Financial reports on SQLite and PostgreSQL: figures equal independent SQL sums, the custody
identity holds after random flows (hypothesis), closed months are frozen, hashed and chained."""
import datetime as dt
import hashlib
import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from app.models import FinancialReport, TransparencyRecord
from app.services import apportionment, ledger, report_pdf, reports, transparency
from app.services.audit import audit_ledger
from app.services.errors import Conflict, InvalidRequest
from tests.support import add_claim, add_members, leave_and_refund, make_user, pay_aid, plan_id, top_up

# 2026-03-02 10:00 China time is the suite's START: March is the open month, February closed.
MARCH = "2026-03"


def _sum(session, where: str, params: dict) -> int:
    """Independent: a plain SUM over postings joined to their transaction and account."""
    return int(session.execute(sa.text(
        "SELECT COALESCE(SUM(p.amount_fen), 0) FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
        f"JOIN accounts a ON a.id = p.account_id WHERE {where}"), params).scalar_one())


def _flow(session, clock):
    now = clock.now()
    owner = make_user(session, now)
    sponsor = make_user(session, now)
    ids = add_members(session, owner, "adult_789", [0, 0, 0, 0], now)
    for m, amount in zip(ids, (900, 700, 800, 50)):
        top_up(session, m, amount, now)
    top_up(session, ids[1], 300, now, payer_user_id=sponsor)
    other_plan = add_members(session, owner, "children", [2_000], now)  # another plan: not in adult_789's report
    add_claim(session, ids[0], 1_200, now - dt.timedelta(hours=1))
    run = apportionment.prepare(session, "adult_789", now, chunk_size=2)
    apportionment.publish(session, run.id, now)
    run = apportionment.execute(session, run.id, now + dt.timedelta(days=1))
    leave_and_refund(session, ids[2], now + dt.timedelta(days=2))
    pay_aid(session, "adult_789", 500, now + dt.timedelta(days=3))
    return ids, other_plan, run


def test_figures_equal_independent_sums(session, clock):
    ids, _, run = _flow(session, clock)
    start, end = reports.month_bounds(MARCH)
    report = reports.monthly(session, "adult_789", MARCH, clock.now())
    assert report["frozen"] is False
    body = report["report"]
    plan = plan_id(session, "adult_789")
    p = {"plan": plan}
    member = "a.kind = 'member' AND a.plan_id = :plan"
    assert body["flows"]["topups_own_fen"] == _sum(session, f"{member} AND t.reason = 'topup' "
                                                   "AND t.initiated_by_user_id = (SELECT user_id FROM memberships WHERE id = a.membership_id)", p) == 2_450
    assert body["flows"]["topups_sponsored_fen"] == 300
    assert body["flows"]["money_received_fen"] == 2_750  # not the children plan's 2,000
    assert body["flows"]["deductions_fen"] == -_sum(session, f"{member} AND t.reason = 'deduction'", p) == run.debited_fen
    assert body["closing"]["member_fen"] == _sum(session, member, p) == int(session.execute(sa.text(
        "SELECT SUM(balance_fen) FROM accounts WHERE kind = 'member' AND plan_id = :plan"), p).scalar_one())
    assert body["flows"]["aid_paid_fen"] == 500 and body["flows"]["refunds_fen"] == body["flows"]["balances_to_refund_fen"]
    assert body["closing"]["aid_payable_fen"] == ledger.balance_of(
        session, ledger.account_id(session, "plan:adult_789:aid_payable")) == run.aid_collected_fen - 500
    assert body["closing"]["plan_surplus_fen"] == ledger.balance_of(
        session, ledger.account_id(session, "plan:adult_789:plan_surplus"))
    assert body["opening"] == {k: 0 for k in body["opening"]}
    custody = body["custody"]
    assert custody["balanced"] and custody["money"]["total_fen"] == custody["held"]["total_fen"]
    assert custody["money"]["money_returned_fen"] == _sum(session, "a.kind = 'refunds_out'", {})
    [line] = body["runs"]
    assert (line["run_id"], line["payers"], line["share_fen"], line["collected_fen"]) == (
        run.id, run.debited_count, run.share_fen, run.debited_fen)
    assert body["members_with_balance_at_close"] == sum(
        1 for m in ids if ledger.balance_of(session, ledger.account_id(session, f"member:{m}")) > 0)
    # February (before anything): all zero; a range of operators' choosing sees the same flows.
    assert reports.compute(session, "adult_789", *reports.month_bounds("2026-02"))["flows"]["money_received_fen"] == 0
    ranged = reports.compute(session, "adult_789", start, clock.now() + dt.timedelta(days=5))
    assert ranged["flows"] == body["flows"]
    assert reports.compute(session, "adult_789", start, clock.now() + dt.timedelta(days=1, seconds=1))[
        "flows"]["aid_paid_fen"] == 0  # paid on day 3: outside that range


def test_a_closed_month_is_frozen_hashed_and_chained(session, clock):
    ids, _, run = _flow(session, clock)
    later = clock.now() + dt.timedelta(days=40)  # April: March is over
    first = reports.monthly(session, "adult_789", MARCH, later)
    assert first["frozen"] and first["report"]["custody"]["balanced"]
    stored = session.execute(sa.select(FinancialReport)).scalar_one()
    assert stored.sha256 == hashlib.sha256(stored.body.encode()).hexdigest() == first["sha256"]
    assert json.loads(stored.body) == first["report"]
    # Money moving afterwards (even back-dated into March) never changes the frozen month.
    top_up(session, ids[3], 1_000, clock.now() + dt.timedelta(days=5))
    again = reports.monthly(session, "adult_789", MARCH, later)
    assert again == first and reports.compute(session, "adult_789", *reports.month_bounds(MARCH))["flows"][
        "money_received_fen"] == first["report"]["flows"]["money_received_fen"] + 1_000
    chain = transparency.chain(session, "adult_789")
    assert [r["kind"] for r in chain] == ["run", "monthly_report"]
    assert chain[1]["content_sha256"] == first["sha256"] and chain[1]["previous"] == chain[0]["record_hash"]
    assert transparency.verify(session).ok
    assert reports.frozen_list(session, "adult_789")[0]["sha256"] == first["sha256"]
    with pytest.raises(Conflict):
        reports.freeze(session, "adult_789", "2026-04", later)  # still open
    with pytest.raises(InvalidRequest):
        reports.month_bounds("2026-13")


def test_verify_names_an_edited_frozen_report(session, clock):
    _flow(session, clock)
    later = clock.now() + dt.timedelta(days=40)
    reports.freeze(session, "adult_789", MARCH, later)
    from tests.support import tamper

    tamper(session, "UPDATE financial_reports SET body = body || ' '", {},
           table="financial_reports")
    problem = transparency.verify(session).problems[0]
    assert "record 2" in problem and "report 2026-03" in problem


def test_scheduler_freezes_the_previous_month_of_every_plan(session, clock):
    _flow(session, clock)
    april = dt.datetime(2026, 4, 1, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in China, 1 April
    done = reports.freeze_closed_months(session, april)
    assert ("adult_789", MARCH) in done and len(done) == len(set(done)) >= 6
    assert reports.freeze_closed_months(session, april) == done  # idempotent
    assert session.execute(sa.select(sa.func.count()).select_from(TransparencyRecord).where(
        TransparencyRecord.kind == "monthly_report")).scalar_one() == len(done)


def test_the_pdf_renders_with_its_charts(session, clock, tmp_path):
    import shutil
    import subprocess

    _flow(session, clock)
    pdf = report_pdf.render(reports.monthly(session, "adult_789", MARCH, clock.now() + dt.timedelta(days=40)))
    assert pdf.startswith(b"%PDF-")
    (tmp_path / "r.pdf").write_bytes(pdf)
    assert shutil.which("pdftoppm"), "poppler-utils: scripts/system_packages.sh installs it (make test runs it)"
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(tmp_path / "r.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    [png] = list(tmp_path.glob("page*.png"))
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 2_000


OPS = st.lists(st.tuples(st.sampled_from(["own", "sponsored", "run", "leave", "leave_pending", "aid"]),
                         st.integers(0, 5), st.integers(1, 3_000)), min_size=1, max_size=12)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_custody_identity_holds_after_random_flows(session, clock, ops):
    from tests.support import clean_database
    from app.services.plans import load_catalogue

    session.rollback()  # the previous example's reads: TRUNCATE would wait for them
    clean_database(session.get_bind())
    load_catalogue(session, "config/plans.toml", clock.now())
    now = clock.now()
    owner, sponsor = make_user(session, now), make_user(session, now)
    ids = add_members(session, owner, "seniors", [0] * 6, now)
    moment = now
    for kind, who, amount in ops:
        moment += dt.timedelta(hours=6)
        m = ids[who]
        if kind in ("own", "sponsored"):
            state = session.execute(sa.text("SELECT state FROM memberships WHERE id = :m"), {"m": m}).scalar_one()
            if state in ("observing", "protected", "pending", "suspended"):
                top_up(session, m, amount, moment, payer_user_id=sponsor if kind == "sponsored" else None)
        elif kind == "run":
            claimant = add_members(session, owner, "seniors", [0], moment)[0]  # one claim per membership
            add_claim(session, claimant, amount, moment - dt.timedelta(minutes=1))
            try:
                run = apportionment.prepare(session, "seniors", moment, chunk_size=4)
            except Conflict:
                continue
            apportionment.publish(session, run.id, moment)
            apportionment.execute(session, run.id, moment)
        elif kind.startswith("leave"):
            leave_and_refund(session, m, moment, complete=kind == "leave")
        else:
            payable = ledger.balance_of(session, ledger.account_id(session, "plan:seniors:aid_payable"))
            if payable:
                pay_aid(session, "seniors", min(amount, payable), moment)
    assert audit_ledger(session).ok
    body = reports.compute(session, "seniors", reports.month_bounds(MARCH)[0], moment + dt.timedelta(seconds=1))
    money, held = body["custody"]["money"], body["custody"]["held"]
    assert money["total_fen"] == held["total_fen"] and body["custody"]["balanced"]
    assert held["member_balances_fen"] == int(session.execute(sa.text(
        "SELECT COALESCE(SUM(balance_fen), 0) FROM accounts WHERE kind = 'member'")).scalar_one())
    assert held["refunds_on_their_way_fen"] == ledger.balance_of(session, ledger.account_id(session, "system:refund_pending"))
    flows = body["flows"]
    assert flows["topups_own_fen"] + flows["topups_sponsored_fen"] == flows["money_received_fen"] == money["money_received_fen"]
