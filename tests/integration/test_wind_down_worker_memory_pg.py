"""PostgreSQL (the synthetic members come from generate_series): the wind-down RQ job keeps nothing from
one chunk to the next, so a worker returning a million balances runs in the memory one chunk needs.
Measured with tracemalloc around the job function itself (`app.jobs.wind_down.process_chunk_job`, as
`flask wind-down work` runs it), with a WeChat Pay that remembers nothing: whatever grows is ours."""
import gc
import tracemalloc

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.jobs.wind_down import process_chunk_job
from app.services import wind_down
from app.services.unit_of_work import atomic
from bench.synthetic import generate_members
from config import PROJECT_ROOT
from tests.support import wind_down_in_final_run

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

CHUNK = 20
# The first chunks fill what fills once (the statement caches), and the first chunks run under tracemalloc
# show ~70-90 KB of small blocks from psycopg2's execute that stop growing (then ~10 KB, ~5 KB a further
# 16 chunks): the growth is measured from a snapshot taken after a traced warm-up.
WARM_UP_CHUNKS = 4
TRACED_WARM_UP_CHUNKS = 8
MEASURED_CHUNKS = 16
# A leak of one small object per return (a dict, a log record, a metric label's child) is 200+ bytes a
# return; what the job keeps after the warm-up is ~30 bytes a return and falling.
MAX_BYTES_PER_RETURN = 128
# Only what the job allocates counts: a block with our app's code on its stack. In the whole suite other
# threads of this process (the session's emulator answering another test's late retries, timers) allocate
# too; their blocks have no app frame. 16 frames reach our code from what it calls (SQLAlchemy, logging).
TRACED_FRAMES = 16
OURS = tracemalloc.Filter(True, str(PROJECT_ROOT / "app") + "/*", all_frames=True)


class ForgetfulPay:
    """WeChat Pay's refund answer, nothing kept."""
    mchid = "1900000109"

    def refund(self, out_refund_no, *, out_trade_no, refund_fen, total_fen, reason):
        return {"refund_id": "50" + out_refund_no[-30:], "status": "PROCESSING"}

    def transfer(self, *args, **kwargs):  # every balance here is refunded: a transfer is a setup error
        raise AssertionError("no transfer expected")


def test_the_return_job_keeps_nothing_per_return(app, services, clock):
    now = clock.now()
    members = CHUNK * (WARM_UP_CHUNKS + TRACED_WARM_UP_CHUNKS + MEASURED_CHUNKS)
    with atomic(db.session):
        generate_members(db.session, "adult_789", members, now, tag="mem")
        # Each member paid its whole balance within the year: each return is one refund call.
        db.session.execute(sa.text(
            "INSERT INTO orders (out_trade_no, membership_id, payer_user_id, amount_fen, status, transaction_id, "
            "created_at, expires_at, paid_at) SELECT 'M' || m.id, m.id, m.user_id, a.balance_fen, 'paid', "
            "'TM' || m.id, :now, :now, :now FROM memberships m JOIN accounts a ON a.membership_id = m.id "
            "WHERE a.balance_fen > 0"), {"now": now})
    found = wind_down_in_final_run(db.session, "adult_789", now)
    plan_id = found.plan_id
    wind_down.start_returns(db.session, found.id, now)
    chunks: list[list[int]] = []
    wind_down.dispatch(db.session, plan_id, now, chunks.append, chunk_size=CHUNK)
    assert len(chunks) == WARM_UP_CHUNKS + TRACED_WARM_UP_CHUNKS + MEASURED_CHUNKS
    services.override(pay=ForgetfulPay())

    measured = WARM_UP_CHUNKS + TRACED_WARM_UP_CHUNKS
    for chunk in chunks[:WARM_UP_CHUNKS]:
        assert process_chunk_job(chunk)["processed"] == CHUNK
    tracemalloc.start(TRACED_FRAMES)
    try:
        for chunk in chunks[WARM_UP_CHUNKS:measured]:
            assert process_chunk_job(chunk)["processed"] == CHUNK
        gc.collect()
        before = tracemalloc.take_snapshot()
        for chunk in chunks[measured:]:
            assert process_chunk_job(chunk)["processed"] == CHUNK
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    kept = [OURS, tracemalloc.Filter(False, tracemalloc.__file__)]
    growth = after.filter_traces(kept).compare_to(before.filter_traces(kept), "lineno")
    grown = sum(stat.size_diff for stat in growth)
    returns = CHUNK * MEASURED_CHUNKS
    top = "\n".join(str(stat) for stat in growth[:5])
    assert grown < MAX_BYTES_PER_RETURN * returns, f"{grown} bytes kept over {returns} returns:\n{top}"
    returned = db.session.execute(sa.text("SELECT COUNT(*) FROM balance_returns WHERE status = 'returning'")).scalar()
    db.session.rollback()
    assert returned == members
