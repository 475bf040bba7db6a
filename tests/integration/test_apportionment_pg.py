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
from tests.apportionment_support import add_claim, add_members, make_user, run_postings, states

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

_EXECUTOR = """
import sys, datetime as dt, sqlalchemy as sa
from sqlalchemy.orm import Session
from app.services import apportionment
engine = sa.create_engine(sys.argv[1])
print("ready", flush=True)
with Session(engine) as s:
    apportionment.execute(s, int(sys.argv[2]), dt.datetime.fromisoformat(sys.argv[3]))
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


def test_sigkill_anywhere_then_resume_debits_each_payer_once(pg_engine, db_url, clock):
    now = clock.now()
    with Session(pg_engine) as s, s.begin():
        generate_members(s, "adult_789", 3_000, now)
    rng = random.Random(4)
    killed = 0
    for seed in range(20):
        now = now + dt.timedelta(days=1)
        with Session(pg_engine) as s:
            with s.begin():
                add_case(s, "adult_789", rng.randint(1_000, 600_000), now)
            before, good = _balances(s), _good(s)
            run = apportionment.prepare(s, "adult_789", now, chunk_size=rng.choice([50, 100, 200]))
            apportionment.publish(s, run.id, now)
            run_id, share = run.id, run.share_fen
        proc = subprocess.Popen([sys.executable, "-c", _EXECUTOR, db_url, str(run_id), now.isoformat()],
                                cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(random.Random(seed).uniform(0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += proc.returncode == -signal.SIGKILL
        with Session(pg_engine) as s:
            partial = apportionment.get_run(s, run_id)
            assert partial.status in ("executing", "executed", "published")
            if partial.status == "published":
                apportionment.execute(s, run_id, now)  # killed before it started
            run = apportionment.execute(s, run_id, now)  # resume
            assert run.status == "executed"
            after = _balances(s)
            counts = dict(s.execute(sa.text(
                "SELECT a.membership_id, COUNT(*) FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
                "JOIN accounts a ON a.id = p.account_id WHERE t.reference_id = :r AND t.reason = 'deduction' "
                "AND a.kind = 'member' GROUP BY a.membership_id"), {"r": str(run_id)}).all())
            payers = {m for m in good if before[m] >= share}
            assert set(counts) == payers and set(counts.values()) == {1}
            assert all(after[m] == before[m] - (share if m in payers else 0) for m in before)
            assert run.debited_fen == share * len(payers)
            assert run.debited_fen == run.limited_aid_fen + run.fee_fen - run.surplus_used_fen + run.over_collection_fen
            assert _good(s) == payers
            assert audit_ledger(s).ok
    assert killed >= 10  # the kills really interrupted executions


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
    assert share == 300
    poor = sorted(m for m, b in before.items() if b < share)
    rich = sorted(m for m, b in before.items() if b >= share)
    targets = poor[:60] + rich[::80]
    topped: dict[int, int] = {}
    errors = []

    def top_up(ids):
        try:
            with Session(pg_engine) as s:
                for i, m in enumerate(ids):
                    with atomic(s):
                        memberships.credit(s, membership_id=m, amount_fen=500, idempotency_key=f"live-{m}",
                                           now=now + dt.timedelta(seconds=1))
                    topped[m] = 500
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=top_up, args=(targets[k::3],)) for k in range(3)]
    with Session(pg_engine) as s:
        for t in threads:
            t.start()
        apportionment.execute(s, run_id, now)
    for t in threads:
        t.join()
    assert not errors, errors
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
            waiting = False
            with pg_engine.connect() as watch:  # until the chunk waits for our membership lock
                for _ in range(400):
                    waiting = watch.execute(sa.text(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE pid <> :me AND wait_event_type = 'Lock' "
                        "AND datname = current_database()"), {"me": me}).scalar_one() > 0
                    watch.rollback()  # pg_stat_activity is a snapshot per transaction
                    if waiting:
                        break
                    time.sleep(0.05)
            assert waiting, errors
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
