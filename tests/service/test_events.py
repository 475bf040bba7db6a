import sqlalchemy as sa

from app.services import events
from app.services.unit_of_work import atomic


def test_subscribers_run_in_the_same_transaction(session, clock):
    seen = []

    @events.subscribe("test.happened")
    def remember(sess, event):
        seen.append((event.kind, event.payload))
        sess.execute(sa.text("UPDATE accounts SET balance_fen = balance_fen WHERE id = -1"))

    try:
        with atomic(session):
            events.record(session, "test.happened", now=clock.now(), payload={"n": 1})
        assert seen == [("test.happened", {"n": 1})]
        try:
            with atomic(session):
                events.record(session, "test.happened", now=clock.now(), payload={"n": 2})
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
        kinds = session.execute(sa.text("SELECT payload FROM domain_events")).scalars().all()
        assert len(kinds) == 1  # the rolled-back event is gone with its change
    finally:
        events._subscribers["test.happened"].remove(remember)
