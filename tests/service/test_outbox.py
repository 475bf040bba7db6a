"""The outbox: each event writes its notification rows in its own transaction, set-based, once."""
import datetime as dt

import pytest
import sqlalchemy as sa

from app.services.apportionment import RUN_REFERENCE
from app.models import Account, Membership
from app.services import ledger, memberships
from app.services.unit_of_work import atomic
from tests.support import member, new_user, record, rows


def test_observing_is_written_with_the_credit_and_only_once(session, services, clock):
    user = new_user(session, clock)
    m = member(session, services, clock, user.id)
    with atomic(session):  # a second top-up does not start observation again
        memberships.credit(session, membership_id=m.id, amount_fen=100, idempotency_key="again", now=clock.now())
    [row] = rows(session, user_id=user.id)
    assert (row.kind, row.template_key, row.membership_id, row.status) == ("observing", "membership_status", m.id,
                                                                           "pending")
    assert row.dedupe_key == f"observing:{m.id}"


def test_a_rolled_back_change_leaves_no_notification(session, services, clock):
    user = new_user(session, clock)
    m = member(session, services, clock, user.id, prepay_fen=None)
    with pytest.raises(RuntimeError):
        with atomic(session):
            memberships.credit(session, membership_id=m.id, amount_fen=500, idempotency_key="k", now=clock.now())
            raise RuntimeError("payment handler crashed")
    assert rows(session, user_id=user.id) == []


def test_observation_over_batch_selects_by_state_and_time(session, services, clock):
    a, b = new_user(session, clock), new_user(session, clock)
    ma = member(session, services, clock, a.id)
    clock.advance(days=10)
    mb = member(session, services, clock, b.id)
    clock.advance(days=175)  # a's 180 days are over, b's are not
    assert memberships.advance(session, clock.now()).protected == 1
    assert [r.membership_id for r in rows(session, kind="observation_over")] == [ma.id]
    clock.advance(days=10)
    memberships.advance(session, clock.now())
    memberships.advance(session, clock.now())  # nothing new: no second event, no duplicate rows
    assert sorted(r.membership_id for r in rows(session, kind="observation_over")) == [ma.id, mb.id]


def _plan_id(session, code="adult_789"):
    return session.execute(sa.text("SELECT id FROM plans WHERE code = :c"), {"c": code}).scalar_one()


def test_case_announcement_fans_out_once_per_member_in_good_standing(session, services, clock):
    family, single, newcomer, other_plan = (new_user(session, clock) for _ in range(4))
    member(session, services, clock, family.id)
    member(session, services, clock, family.id, age=50)  # two memberships: one message
    member(session, services, clock, single.id)
    member(session, services, clock, newcomer.id, prepay_fen=None)  # pending: not a member yet
    member(session, services, clock, other_plan.id, plan="transit_accident")
    plan_id = _plan_id(session)
    # The run's cut-off: a member whose observation starts after it does not pay, so is not told.
    from app.services import apportionment
    from tests.support import add_claim

    first = session.execute(sa.text("SELECT min(id) FROM memberships WHERE plan_id = :p"), {"p": plan_id}).scalar_one()
    add_claim(session, first, 300, clock.now())
    run_id = apportionment.prepare(session, "adult_789", clock.now()).id
    clock.advance(hours=1)
    late = new_user(session, clock)
    member(session, services, clock, late.id)
    run = apportionment.publish(session, run_id, clock.now())  # records run.published with the cut-off
    payload = session.execute(sa.text("SELECT payload FROM domain_events WHERE kind = 'run.published'")).scalar_one()
    if isinstance(payload, str):  # SQLite hands JSON back as text through a raw query
        import json

        payload = json.loads(payload)
    record(session, "run.published", clock, plan_id=plan_id, run_id=run_id, payload=payload)  # replayed event
    announced = rows(session, kind="case_announced")
    assert sorted(r.user_id for r in announced) == sorted([family.id, single.id])
    assert {r.amount_fen for r in announced} == {run.share_fen} and {r.dedupe_key for r in announced} == {
        f"case_announced:{run_id}:{family.id}", f"case_announced:{run_id}:{single.id}"}


def _deduct(session, clock, run_id, charges: dict[int, int]):
    """What the apportionment engine books: one deduction transaction per run (the documented boundary)."""
    pool = ledger.ensure_account(session, code="plan:adult_789:plan_pool", kind="plan_pool", now=clock.now(),
                                 plan_id=_plan_id(session))
    legs = [ledger.Leg(memberships.member_account_id(session, mid), -fen) for mid, fen in charges.items()]
    legs.append(ledger.Leg(pool, sum(charges.values())))
    ledger.post_transaction(session, idempotency_key=f"run-{run_id}-deduction", reason="deduction", legs=legs,
                            now=clock.now(), reference_type=RUN_REFERENCE, reference_id=str(run_id))


def test_run_executed_notifies_payers_suspended_and_low_balances(session, services, clock):
    payer, low, broke = (new_user(session, clock) for _ in range(3))
    m_payer = member(session, services, clock, payer.id, prepay_fen=2000)
    m_payer2 = member(session, services, clock, payer.id, prepay_fen=2000, age=50)
    m_low = member(session, services, clock, low.id, prepay_fen=400)
    m_broke = member(session, services, clock, broke.id, prepay_fen=300)
    # Low after an earlier run, not a payer of this one: this run tells her nothing.
    m_low_before = member(session, services, clock, new_user(session, clock).id, prepay_fen=400)
    clock.advance(days=3)
    with atomic(session):
        _deduct(session, clock, 8, {m_low_before.id: 150})
        _deduct(session, clock, 9, {m_payer.id: 150, m_payer2.id: 150, m_low.id: 150})
        session.execute(sa.update(Membership).where(Membership.id == m_broke.id).values(
            state="suspended", state_before_suspension="observing", suspended_at=clock.now(),
            grace_ends_at=clock.now() + dt.timedelta(days=30), state_changed_at=clock.now()))
        from app.services import events

        events.record(session, "run.executed", now=clock.now(), plan_id=_plan_id(session), run_id=9)
    deducted = {r.user_id: r.amount_fen for r in rows(session, kind="share_deducted")}
    assert deducted == {payer.id: 300, low.id: 150}
    assert [(r.membership_id, r.template_key) for r in rows(session, kind="suspended")] == [(m_broke.id,
                                                                                            "balance_low")]
    low_rows = rows(session, kind="balance_low")  # 400 - 150 = 250 < share cap 300; 1850 is not
    assert [(r.membership_id, r.amount_fen) for r in low_rows] == [(m_low.id, 250)]
    balance = session.execute(sa.select(Account.balance_fen).where(Account.membership_id == m_low.id)).scalar_one()
    assert balance == 250



def test_balance_low_finds_the_payers_of_every_chunk_whatever_order_their_postings_took(session, services, clock):
    """Parallel chunks interleave ids: the chunk whose ledger transaction came first may write its
    postings last. Every payer left below the cap is told, wherever its posting's id falls."""
    first_chunk, second_chunk = (member(session, services, clock, new_user(session, clock).id, prepay_fen=400)
                                 for _ in range(2))
    clock.advance(days=3)
    accounts = {m.id: memberships.member_account_id(session, m.id) for m in (first_chunk, second_chunk)}
    pool = ledger.ensure_account(session, code="plan:adult_789:plan_pool", kind="plan_pool", now=clock.now(),
                                 plan_id=_plan_id(session))
    with atomic(session):
        earlier, later = (session.execute(sa.text(
            "INSERT INTO ledger_transactions (idempotency_key, request_hash, reason, reference_type, reference_id, "
            "created_at) VALUES (:k, 'x', 'deduction', :ref, '9', :now) RETURNING id"),
            {"k": f"run-9-chunk-{k}", "ref": RUN_REFERENCE, "now": clock.now()}).scalar_one() for k in (1, 2))
        for txn, membership in ((later, second_chunk), (earlier, first_chunk)):  # the earlier one's postings last
            session.execute(sa.text("INSERT INTO postings (transaction_id, account_id, amount_fen) "
                                    "VALUES (:t, :a, -150), (:t, :pool, 150)"),
                            {"t": txn, "a": accounts[membership.id], "pool": pool})
            session.execute(sa.text("UPDATE accounts SET balance_fen = balance_fen - 150 WHERE id = :a"),
                            {"a": accounts[membership.id]})
            session.execute(sa.text("UPDATE accounts SET balance_fen = balance_fen + 150 WHERE id = :a"), {"a": pool})
        posted_first = session.execute(sa.text("SELECT transaction_id FROM postings WHERE transaction_id IN (:a, :b) "
                                               "ORDER BY id LIMIT 1"), {"a": earlier, "b": later}).scalar_one()
        assert posted_first == later
        from app.services import events

        events.record(session, "run.executed", now=clock.now(), plan_id=_plan_id(session), run_id=9)
    told = {(r.membership_id, r.amount_fen) for r in rows(session, kind="balance_low")}
    assert told == {(first_chunk.id, 250), (second_chunk.id, 250)}

def test_claim_events_and_sponsor_topups(session, services, clock):
    claimant, sponsor, other = (new_user(session, clock) for _ in range(3))
    m = member(session, services, clock, claimant.id)
    member(session, services, clock, other.id)
    plan_id = _plan_id(session)
    with atomic(session):
        claim_id = session.execute(sa.text(
            "INSERT INTO claims (user_id, membership_id, plan_id, status, incident_type, incident_date, "
            "diagnosis_date, diagnosis, hospital, city, description, submitted_at, updated_at) VALUES "
            "(:u, :m, :p, 'publicity', 'illness', '2026-01-01', '2026-01-02', 'x', 'h', 'c', '', :t, :t) "
            "RETURNING id"), {"u": claimant.id, "m": m.id, "p": plan_id, "t": clock.now().replace(tzinfo=None)
                              if session.get_bind().dialect.name == "sqlite" else clock.now()}).scalar_one()
    record(session, "claim.status_changed", clock, claim_id=claim_id, user_id=claimant.id,
           payload={"from": "investigating", "to": "publicity"})
    record(session, "announcement.published", clock, claim_id=claim_id, plan_id=plan_id)
    record(session, "aid.paid", clock, claim_id=claim_id, user_id=claimant.id, payload={"amount_fen": 5_000_000})
    record(session, "aid.paid", clock, claim_id=claim_id, user_id=claimant.id, payload={"amount_fen": 5_000_000})
    record(session, "topup.credited", clock, user_id=claimant.id, membership_id=m.id,
           payload={"amount_fen": 1000, "order_id": "T1", "sponsor_user_id": sponsor.id})
    record(session, "topup.credited", clock, user_id=claimant.id, membership_id=m.id,
           payload={"amount_fen": 1000, "order_id": "T2", "sponsor_user_id": None})
    assert [r.claim_id for r in rows(session, kind="claim_status")] == [claim_id]
    assert [r.user_id for r in rows(session, kind="case_publicity")] == [other.id]  # not the claimant
    assert [r.amount_fen for r in rows(session, kind="aid_paid")] == [5_000_000]
    assert [r.dedupe_key for r in rows(session, kind="sponsor_topup")] == ["topup:T1"]
    own = rows(session, kind="topup")  # the member's own top-up is confirmed too, with the same template
    assert [(r.dedupe_key, r.template_key, r.user_id) for r in own] == [("topup:T2", "topup_credited", claimant.id)]
