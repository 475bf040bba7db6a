"""PostgreSQL: execute killed by SIGKILL at random points (a real subprocess) then resumed;
top-ups arriving while a run executes."""
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.services import apportionment, memberships
from app.services.audit import audit_ledger
from app.services.unit_of_work import atomic
from bench.synthetic import add_case, generate_members
from config import PROJECT_ROOT
from tests.support import add_claim, add_members, make_user, run_postings, states, wait_until

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

_EXECUTOR = """
import sys, datetime as dt, sqlalchemy as sa
from sqlalchemy.orm import Session
from app.services import apportionment
engine = sa.create_engine(sys.argv[1])
print("ready", flush=True)
run_id, now = sys.stdin.readline().split()  # started ahead: the import cost overlaps the parent's checks


def on_chunk(lo, hi, result):  # one line per committed chunk, then the parent's go-ahead for the next
    print("chunk", lo, flush=True)
    sys.stdin.readline()


with Session(engine) as s:
    apportionment.execute(s, int(run_id), dt.datetime.fromisoformat(now), on_chunk=on_chunk)
print("done", flush=True)
"""


@pytest.fixture
def pg_engine(db_url, app):
    engine = sa.create_engine(db_url, pool_size=10)
    yield engine
    engine.dispose()


def _balances(s) -> dict[int, int]:
    return dict(s.execute(sa.text("SELECT membership_id, balance_fen FROM accounts WHERE kind = 'member'")).all())


def _good(s) -> set[int]:
    return {m for (m,) in s.execute(sa.text("SELECT id FROM memberships WHERE state IN ('observing', 'protected')"))}


def _executor(db_url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _EXECUTOR, db_url], cwd=PROJECT_ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def test_sigkill_anywhere_then_resume_debits_each_payer_once(pg_engine, db_url, clock):
    now = clock.now()
    with Session(pg_engine) as s, s.begin():
        generate_members(s, "adult_789", 2_000, now)
    rng = random.Random(4)
    ahead = _executor(db_url)
    for seed in range(20):
        now = now + dt.timedelta(days=1)
        with Session(pg_engine) as s:
            with s.begin():
                add_case(s, "adult_789", rng.randint(1_000, 600_000), now)
            before, good = _balances(s), _good(s)
            run = apportionment.prepare(s, "adult_789", now, chunk_size=rng.choice([50, 100, 200]))
            apportionment.publish(s, run.id, now)
            run_id, share = run.id, run.share_fen
            chunks = -(-(run.end_membership_id - run.first_membership_id) // run.chunk_size)
        proc, ahead = ahead, _executor(db_url)
        assert proc.stdout.readline().strip() == "ready"
        proc.stdin.write(f"{run_id} {now.isoformat()}\n")
        proc.stdin.flush()
        # Kill after k committed chunks (k random per seed), at a random point of chunk k + 1: the
        # executor waits for a go-ahead after each chunk and gets k of them, so it can never commit
        # more than k + 1 ≤ chunks - 1 chunks: every kill lands mid-run, whatever the machine's speed.
        k = random.Random(seed).randint(1, chunks - 2)
        for _ in range(k):
            assert proc.stdout.readline().startswith("chunk")
            proc.stdin.write("go\n")
            proc.stdin.flush()
        time.sleep(random.Random(seed).uniform(0, 0.004))  # where in chunk k + 1 it dies, not what is checked
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        with Session(pg_engine) as s:
            partial = apportionment.get_run(s, run_id)
            so_far = apportionment.progress(s, partial)["debited_count"]
            payers = {m for m in good if before[m] >= share}
            assert partial.status == "executing" and 0 < so_far < len(payers), (seed, k, chunks)
            run = apportionment.execute(s, run_id, now)  # resume
            assert run.status == "executed"
            after = _balances(s)
            counts = dict(s.execute(sa.text(
                "SELECT a.membership_id, COUNT(*) FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
                "JOIN accounts a ON a.id = p.account_id WHERE t.reference_id = :r AND t.reason = 'deduction' "
                "AND a.kind = 'member' GROUP BY a.membership_id"), {"r": str(run_id)}).all())
            assert set(counts) == payers and set(counts.values()) == {1}
            assert all(after[m] == before[m] - (share if m in payers else 0) for m in before)
            assert run.debited_fen == share * len(payers)
            assert run.debited_fen == run.limited_aid_fen + run.fee_fen - run.surplus_used_fen + run.over_collection_fen
            assert _good(s) == payers
            assert audit_ledger(s).ok
    ahead.kill()
    ahead.wait()


def test_top_ups_while_executing_are_never_lost(pg_engine, clock):
    now = clock.now()
    with Session(pg_engine) as s, s.begin():
        generate_members(s, "adult_789", 4_000, now)
        add_case(s, "adult_789", 1_200_000, now)  # 3 yuan each
    with Session(pg_engine) as s:
        before = _balances(s)
        run = apportionment.prepare(s, "adult_789", now, chunk_size=100)
        apportionment.publish(s, run.id, now)
        run_id, share = run.id, run.share_fen
        chunks = -(-(run.end_membership_id - run.first_membership_id) // run.chunk_size)
    assert share == 300
    poor = sorted(m for m, b in before.items() if b < share)
    rich = sorted(m for m, b in before.items() if b >= share)
    targets = poor[:60] + rich[::80]
    topped: dict[int, int] = {}
    during: list[int] = []
    errors = []
    five_during = threading.Event()  # set once five top-ups committed while the run was executing (or one failed)

    def top_up(ids):
        try:
            with Session(pg_engine) as s:
                for i, m in enumerate(ids):
                    with atomic(s):
                        memberships.credit(s, membership_id=m, amount_fen=500, idempotency_key=f"live-{m}",
                                           now=now + dt.timedelta(seconds=1))
                    topped[m] = 500
                    # Read after the commit: 'executing' now means it was executing at the commit
                    # (the top-ups start only after the first chunk has committed).
                    if apportionment.get_run(s, run_id).status == "executing":
                        during.append(m)
                        if len(during) >= 5:
                            five_during.set()
                    s.rollback()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            five_during.set()

    threads = [threading.Thread(target=top_up, args=(targets[k::3],)) for k in range(3)]
    chunks_done = []

    def on_chunk(lo, hi, result):
        # Top-ups start once the first chunk has committed; halfway, the run waits for some of
        # them to commit, so they overlap the run (and more arrive while the later chunks run).
        chunks_done.append(lo)
        if len(chunks_done) == 1:
            for t in threads:
                t.start()
        if len(chunks_done) == chunks // 2:
            five_during.wait(timeout=60)  # the top-up threads set it; the timeout only bounds a broken run

    with Session(pg_engine) as s:
        apportionment.execute(s, run_id, now, on_chunk=on_chunk)
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(chunks_done) == chunks >= 10 and len(during) >= 5  # top-ups committed while the run was executing
    with Session(pg_engine) as s:
        run = apportionment.get_run(s, run_id)
        after = _balances(s)
        paid = dict(s.execute(sa.text(
            "SELECT a.membership_id, p.amount_fen FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
            "JOIN accounts a ON a.id = p.account_id WHERE t.reference_id = :r AND t.reason = 'deduction' "
            "AND a.kind = 'member'"), {"r": str(run_id)}).all())
        for m, b in before.items():  # no lost update: every fen accounted for
            assert after[m] == b + topped.get(m, 0) + paid.get(m, 0)
        assert set(paid) >= set(rich)
        states = dict(s.execute(sa.text("SELECT id, state FROM memberships")).all())
        # A topped-up poor member either paid (top-up came first) or was suspended and resumed by it.
        assert all(states[m] in ("observing", "protected") for m in poor[:60])
        assert all(states[m] == "suspended" for m in poor[60:])
        assert run.debited_fen == share * len(paid)
        assert audit_ledger(s).ok


def test_a_top_up_holding_the_membership_lock_does_not_deadlock_a_chunk(pg_engine, clock):
    """A top-up locks the membership (payments.settle) and then its account; the chunk must take
    its locks in the same order, or the two wait on each other (PostgreSQL aborts one)."""
    now = clock.now()
    with Session(pg_engine) as s:
        uid = make_user(s, now)
        rich = add_members(s, uid, "adult_789", [1_000] * 10, now)
        [low] = add_members(s, uid, "adult_789", [100], now)
        add_claim(s, rich[0], 3_300, now)
        run = apportionment.prepare(s, "adult_789", now)
        apportionment.publish(s, run.id, now)
        run_id, share = run.id, run.share_fen
    assert share == 300  # 11 payers → 300 each; the low member would be suspended
    errors = []

    def execute():
        try:
            with Session(pg_engine) as s:
                apportionment.execute(s, run_id, now)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with Session(pg_engine) as t:
        with atomic(t):
            t.execute(sa.text("SELECT id FROM memberships WHERE id = :m FOR UPDATE"), {"m": low})
            me = t.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            worker = threading.Thread(target=execute)
            worker.start()
            with pg_engine.connect() as watch:  # until the chunk waits for our membership lock

                def chunk_waits():
                    waiting = watch.execute(sa.text(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE pid <> :me AND wait_event_type = 'Lock' "
                        "AND datname = current_database()"), {"me": me}).scalar_one() > 0
                    watch.rollback()  # pg_stat_activity is a snapshot per transaction
                    assert not errors, errors
                    return waiting

                wait_until(chunk_waits, 20, "the chunk to wait for the membership lock", interval=0.05)
            memberships.credit(t, membership_id=low, amount_fen=500, idempotency_key="locked-top-up",
                               now=now + dt.timedelta(seconds=1))
    worker.join(timeout=30)
    assert not errors, errors
    with Session(pg_engine) as s:
        assert apportionment.get_run(s, run_id).status == "executed"
        assert dict(run_postings(s, run_id))[low] == -share  # the top-up came first: it paid
        assert states(s, [low])[low] == "protected"
        assert _balances(s)[low] == 100 + 500 - share
        assert audit_ledger(s).ok


def _lock_waiters(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND state = 'active'")).scalar_one()


def test_a_leave_waits_for_the_chunk_in_flight_and_never_pays_twice(pg_engine, clock):
    """Lock order run → the member's chunk → membership → account (a chunk: its chunk row → memberships
    → accounts): a leave that arrives while the member's chunk is open waits for it, then sees the member already debited and withholds nothing more;
    a leave for a member whose chunk is still ahead withholds the share."""
    from app.models import Plan
    from app.services import ledger, refunds
    from tests.support import RecordingPay, add_paid_orders

    now = clock.now()
    with Session(pg_engine) as s:
        uid = make_user(s, now)
        ids = add_members(s, uid, "left_behind_children", [1_000] * 10, now)
        add_paid_orders(s, ids, now)
        claimant = add_members(s, uid, "left_behind_children", [0], now, state="pending")[0]
        add_claim(s, claimant, 3_000, now)
        run = apportionment.prepare(s, "left_behind_children", now, chunk_size=5)
        apportionment.publish(s, run.id, now)
        apportionment.execute(s, run.id, now, max_chunks=0)  # 'executing', no chunk yet
        run_id = run.id
    first, later = ids[0], ids[-1]
    outcome = {}

    def leave(member):
        with Session(pg_engine) as s:
            outcome[member] = refunds.leave(s, RecordingPay(), user_id=uid, membership_id=member, now=now)

    with Session(pg_engine) as chunk_session:
        with chunk_session.begin():  # the first chunk, claimed and held open while the leave arrives
            held = apportionment.get_run(chunk_session, run_id)
            lo, hi = apportionment.claim_chunk(chunk_session, run_id)
            assert lo <= first < hi
            code = chunk_session.execute(sa.select(Plan.code).where(Plan.id == held.plan_id)).scalar_one()
            pool = ledger.account_id(chunk_session, ledger.plan_account_code(code, "plan_pool"))
            leaver = threading.Thread(target=leave, args=(first,))
            leaver.start()
            wait_until(lambda: _lock_waiters(pg_engine) >= 1, 20, "the leave to wait on the chunk's lock")
            apportionment.engine._chunk_postgresql(chunk_session, held, lo, hi, pool, 30)
        leaver.join(timeout=30)
    assert not leaver.is_alive()
    assert (outcome[first].withheld_fen, outcome[first].refunded_fen) == (0, 700)
    leave(later)
    assert (outcome[later].withheld_fen, outcome[later].refunded_fen) == (300, 700)
    with Session(pg_engine) as s:
        run = apportionment.execute(s, run_id, now)
        assert (run.debited_count, run.withheld_count, run.shortfall_fen) == (10, 1, 0)
        counts = [n for (n,) in s.execute(sa.text(
            "SELECT COUNT(*) FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
            "JOIN accounts a ON a.id = p.account_id WHERE t.reference_id = :r AND t.reason = 'deduction' "
            "AND a.kind = 'member' GROUP BY a.membership_id"), {"r": str(run_id)}).all()]
        assert sorted(counts) == [1] * 10
        assert audit_ledger(s).ok


def test_a_leave_does_not_wait_for_the_runs_notices(pg_engine, clock, monkeypatch):
    """Settlement holds the run's row, which a leave locks while the run is open; the payers' notices
    (a minute at ten million payers) are written after settlement commits, when the run is no longer
    open: a leave arriving meanwhile goes through (before, it waited for every notice)."""
    from app.services import events, outbox, refunds
    from tests.support import RecordingPay, add_paid_orders

    now = clock.now()
    with Session(pg_engine) as s:
        uid = make_user(s, now)
        ids = add_members(s, uid, "left_behind_children", [1_000] * 4, now)
        add_paid_orders(s, ids, now)
        add_claim(s, ids[0], 1_000, now)
        run = apportionment.prepare(s, "left_behind_children", now, chunk_size=2)
        apportionment.publish(s, run.id, now)
        run_id = run.id
    writing, release = threading.Event(), threading.Event()

    def notices_held_open(session, event):  # the outbox's subscriber, made to take its time
        writing.set()
        release.wait(30)
        outbox.on_run_executed(session, event)

    monkeypatch.setitem(events._subscribers, "run.executed", [notices_held_open])
    executed = {}

    def execute():
        with Session(pg_engine) as s:
            executed["status"] = apportionment.execute(s, run_id, now).status

    worker = threading.Thread(target=execute)
    worker.start()
    try:
        assert writing.wait(30), "the run did not reach its notices"
        with Session(pg_engine) as s:  # while the notices' transaction is open; waiting on a lock fails
            s.execute(sa.text("SET lock_timeout = '5s'"))
            left = refunds.leave(s, RecordingPay(), user_id=uid, membership_id=ids[-1], now=now)
        assert (left.withheld_fen, left.refunded_fen) == (0, 1_000 - run.share_fen)  # paid in the run already
    finally:
        release.set()
        worker.join(timeout=30)
    assert executed == {"status": "executed"}
    with Session(pg_engine) as s:
        assert s.execute(sa.text("SELECT COUNT(*) FROM notifications WHERE kind = 'share_deducted'")).scalar_one() == 1
