"""A real apportionment run writes the pushes the members expect: the case announcement when
published; when executed, "share deducted" to each payer, "suspended" to those left out, and
"balance low" to payers left with less than one share cap."""
import datetime as dt

from app.services import apportionment
from tests.support import add_claim, add_members, make_user, rows


def test_published_and_executed_runs_notify_the_right_members(session, clock):
    now = clock.now()
    payer_user, poor_user, low_user, claimant_user = (make_user(session, now) for _ in range(4))
    [rich] = add_members(session, payer_user, "adult_789", [5_000], now)
    [poor] = add_members(session, poor_user, "adult_789", [50], now)
    [low] = add_members(session, low_user, "adult_789", [320], now)
    [claimant] = add_members(session, claimant_user, "adult_789", [0], now, state="pending")
    add_claim(session, claimant, 300, now - dt.timedelta(hours=1))

    run = apportionment.prepare(session, "adult_789", now)
    apportionment.publish(session, run.id, now)
    announced = {r.user_id for r in rows(session, kind="case_announced")}
    assert announced == {payer_user, poor_user, low_user}  # good standing at publication

    run = apportionment.execute(session, run.id, now + dt.timedelta(hours=1))
    assert run.share_fen == 150  # 300 fen among the two who can pay
    deducted = {r.user_id: r.amount_fen for r in rows(session, kind="share_deducted")}
    assert deducted == {payer_user: 150, low_user: 150}
    assert [r.membership_id for r in rows(session, kind="suspended")] == [poor]
    assert [(r.membership_id, r.amount_fen) for r in rows(session, kind="balance_low")] == [(low, 170)]
    # Running the subscribers again (a replayed event) writes nothing twice.
    assert len(rows(session, kind="share_deducted")) == 2
    assert rich
