"""A real apportionment run writes the pushes the members expect: the case announcement when
published; when executed, "share deducted" to each payer, "suspended" to those left out, and
"balance low" to payers left with less than one share cap."""
import datetime as dt

import sqlalchemy as sa

from app.models.events import DomainEvent
from app.services import apportionment, outbox
from app.services.unit_of_work import atomic
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
    assert rich not in {r.membership_id for r in rows(session, kind="balance_low")}  # 4,850 fen left: not low
    written = [(r.kind, r.user_id, r.membership_id, r.amount_fen) for r in rows(session)]

    # Running the subscriber again on the same event (a replay) writes nothing twice.
    event = session.execute(sa.select(DomainEvent).where(DomainEvent.kind == "run.executed",
                                                         DomainEvent.run_id == run.id)).scalar_one()
    with atomic(session):
        outbox.on_run_executed(session, event)
    assert [(r.kind, r.user_id, r.membership_id, r.amount_fen) for r in rows(session)] == written
