"""PostgreSQL: one run's chunks executed by several worker processes at once, one of them killed
(SIGKILL) inside a chunk and another started: each payer debited once, the run settled once."""
import datetime as dt
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.services import apportionment
from app.services.audit import audit_ledger
from bench.synthetic import add_case, generate_members
from config import PROJECT_ROOT

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

# A worker: apportionment.execute (claim pending chunks until none is left, then settle). It stops
# twice per chunk for the parent's go-ahead: once holding the claimed chunk (its transaction open,
# the chunk row locked), once after the chunk committed.
_WORKER = """
import sys, datetime as dt, sqlalchemy as sa
from sqlalchemy.orm import Session
from app.services import apportionment
from app.services.apportionment import engine
engine_ = sa.create_engine(sys.argv[1])
claim = engine.claim_chunk


def claim_and_wait(session, run_id, **kw):
    claimed = claim(session, run_id, **kw)
    if claimed is not None:
        print("claimed", claimed[0], flush=True)
        sys.stdin.readline()
    return claimed


engine.claim_chunk = claim_and_wait
print("ready", flush=True)
run_id, now = sys.stdin.readline().split()


def on_chunk(lo, hi, result):
    print("chunk", lo, flush=True)
    sys.stdin.readline()


with Session(engine_) as s:
    run = apportionment.execute(s, int(run_id), dt.datetime.fromisoformat(now), on_chunk=on_chunk)
    print("done", run.status, flush=True)
"""


class Worker:
    def __init__(self, db_url: str, name: str):
        self.name = name
        self.proc = subprocess.Popen([sys.executable, "-c", _WORKER, db_url], cwd=PROJECT_ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: list[str] = []

    def read(self) -> str:
        line = self.proc.stdout.readline().strip()
        self.lines.append(line)
        return line

    def say(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def committed(self) -> list[int]:
        return [int(line.split()[1]) for line in self.lines if line.startswith("chunk")]

    def run_to_the_end(self) -> None:
        """Go-ahead after every stop until the worker says it is done (a thread per worker)."""
        while True:
            line = self.read()
            if not line or line.startswith("done"):
                return
            self.say("go")


def _deduction_counts(s, run_id: int) -> dict[int, int]:
    return dict(s.execute(sa.text(
        "SELECT a.membership_id, COUNT(*) FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
        "JOIN accounts a ON a.id = p.account_id WHERE t.reference_id = :r AND t.reason = 'deduction' "
        "AND a.kind = 'member' GROUP BY a.membership_id"), {"r": str(run_id)}).all())


@pytest.mark.parametrize("kill_point", ["holding_the_chunk", "inside_the_statements"])
def test_two_workers_one_killed_mid_chunk_then_a_third_each_payer_debited_once(db_url, app, runner, clock, kill_point):
    now = clock.now()
    engine = sa.create_engine(db_url)
    workers: list[Worker] = []
    try:
        with Session(engine) as s, s.begin():
            generate_members(s, "adult_789", 3_000, now)
            add_case(s, "adult_789", 450_000, now)
        with Session(engine) as s:
            before = dict(s.execute(sa.text("SELECT membership_id, balance_fen FROM accounts WHERE kind = 'member'")).all())
            good = {m for (m,) in s.execute(sa.text(
                "SELECT id FROM memberships WHERE state IN ('observing', 'protected')"))}
            run = apportionment.prepare(s, "adult_789", now, chunk_size=100)
            apportionment.publish(s, run.id, now)
            run_id, share = run.id, run.share_fen
            total = -(-(run.end_membership_id - run.first_membership_id) // run.chunk_size)
        payers = {m for m in good if before[m] >= share}
        assert total >= 20 and share > 0

        a, b = Worker(db_url, "a"), Worker(db_url, "b")
        workers += [a, b]
        for w in (a, b):
            assert w.read() == "ready"
            w.say(f"{run_id} {now.isoformat()}")
        # Both hold a chunk at the same moment, each its own: the second skipped the first's.
        first_a, first_b = a.read(), b.read()
        assert first_a.startswith("claimed") and first_b.startswith("claimed") and first_a != first_b
        with engine.connect() as watch:
            assert watch.execute(sa.text(
                "SELECT COUNT(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'apportionment_run_chunks' AND l.mode = 'RowShareLock' "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")).scalar_one() == 2
        # In step: both commit, claim, commit … until a has committed three chunks.
        for _ in range(3):
            for w in (a, b):
                w.say("go")
            assert a.read().startswith("chunk") and b.read().startswith("chunk")
            for w in (a, b):
                w.say("go")
            assert a.read().startswith("claimed") and b.read().startswith("claimed")
        # a holds its fourth chunk, uncommitted: killed there, or released into the chunk's statements
        # and killed at a random moment of them (it may even have committed: then it says so below).
        killed_in = int(a.lines[-1].split()[1])
        if kill_point == "inside_the_statements":
            a.say("go")
            time.sleep(random.Random(run_id).uniform(0, 0.05))  # where it dies, not what is checked
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        assert a.proc.returncode == -signal.SIGKILL
        for line in a.proc.stdout.read().splitlines():  # what it printed before dying
            a.lines.append(line.strip())
        assert len(a.committed()) in ((3,) if kill_point == "holding_the_chunk" else (3, 4))
        c = Worker(db_url, "c")
        workers.append(c)
        assert c.read() == "ready"
        c.say(f"{run_id} {now.isoformat()}")
        b.say("go")
        drivers = [threading.Thread(target=w.run_to_the_end) for w in (b, c)]
        for t in drivers:
            t.start()
        for t in drivers:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in drivers), (b.lines[-3:], c.lines[-3:])
        for w in (b, c):
            w.proc.wait(timeout=30)
            assert w.proc.returncode == 0 and w.lines[-1] == "done executed", (w.name, w.lines[-3:])

        with Session(engine) as s:
            run = apportionment.get_run(s, run_id)
            assert run.status == "executed"
            # Every chunk committed once, by someone; the killed one by another worker.
            done = a.committed() + b.committed() + c.committed()
            # (Killed inside its statements, a may have committed its chunk and died before saying so.)
            every = {lo for (lo,) in s.execute(sa.text(
                "SELECT lo FROM apportionment_run_chunks WHERE run_id = :r"), {"r": run_id})}
            assert len(done) == len(set(done)) and set(done) | {killed_in} == every and len(every) == total
            assert killed_in in done or kill_point == "inside_the_statements"
            assert len(b.committed()) > 0 and len(c.committed()) > 0
            assert s.execute(sa.text("SELECT COUNT(*) FROM apportionment_run_chunks WHERE run_id = :r "
                                     "AND status = 'done'"), {"r": run_id}).scalar_one() == total
            counts = _deduction_counts(s, run_id)
            assert set(counts) == payers and set(counts.values()) == {1}
            after = dict(s.execute(sa.text("SELECT membership_id, balance_fen FROM accounts WHERE kind = 'member'")).all())
            assert all(after[m] == before[m] - (share if m in payers else 0) for m in before)
            assert (run.debited_count, run.debited_fen) == (len(payers), share * len(payers))
            assert run.suspended_count == len(good - payers)
            assert run.debited_fen == run.limited_aid_fen + run.fee_fen - run.surplus_used_fen + run.over_collection_fen
            # Settled once, though two workers finished and both called settle.
            assert s.execute(sa.text("SELECT COUNT(*) FROM domain_events WHERE kind = 'run.executed' "
                                     "AND run_id = :r"), {"r": run_id}).scalar_one() == 1
            assert s.execute(sa.text("SELECT COUNT(*) FROM ledger_transactions WHERE reference_id = :r "
                                     "AND reason = 'apportionment_settle'"), {"r": str(run_id)}).scalar_one() == 1
            assert audit_ledger(s).ok
        audit = runner.invoke(args=["ledger", "audit"])
        assert audit.exit_code == 0, audit.output
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
        engine.dispose()



def test_chunks_handed_to_rq_jobs_are_each_done_once_and_the_last_settles(app, session, clock, redis_url, runner,
                                                                          monkeypatch):
    """...and hands out the run's notice parts, which the workers write, each user told once."""
    from app import jobs
    from app.jobs.apportionment import QUEUE_NAME
    from app.services import outbox
    from app.services.unit_of_work import atomic

    monkeypatch.setattr(outbox, "NOTICE_PART_USERS", 40)
    now = clock.now()
    app.config.update(REDIS_URL=redis_url)
    rq_queue = jobs.queue(app, QUEUE_NAME)
    rq_queue.empty()
    with atomic(session):
        generate_members(session, "adult_789", 600, now, members_per_user=3)
        add_case(session, "adult_789", 90_000, now)
    before = dict(session.execute(sa.text("SELECT membership_id, balance_fen FROM accounts WHERE kind = 'member'")).all())
    good = {m for (m,) in session.execute(sa.text("SELECT id FROM memberships WHERE state IN ('observing', 'protected')"))}
    run = apportionment.prepare(session, "adult_789", now, chunk_size=50)
    apportionment.publish(session, run.id, now)
    run_id, share = run.id, run.share_fen
    total = -(-(run.end_membership_id - run.first_membership_id) // run.chunk_size)
    session.rollback()
    at = (now + dt.timedelta(minutes=1)).isoformat()
    handed = runner.invoke(args=["apportion", "execute", "--run", str(run_id), "--enqueue", "--at", at])
    assert handed.exit_code == 0 and f"chunks handed to the workers: {total}" in handed.output, handed.output
    # Handed out again (the scheduler does every few minutes): chunks with a live job get no second one.
    again = runner.invoke(args=["apportion", "execute", "--run", str(run_id), "--enqueue", "--at", at])
    assert "chunks handed to the workers: 0" in again.output, again.output
    assert rq_queue.count == total
    # The scheduler's pass (with Redis and apportion workers) hands the executing run out too, and finds
    # every job live.
    from app.jobs.schedule import _execute_runs

    app.config["APPORTIONMENT_RQ_WORKERS"] = True
    with app.app_context():
        assert _execute_runs(app, now + dt.timedelta(minutes=2)) == [run_id]
    assert rq_queue.count == total
    worked = runner.invoke(args=["apportion", "work", "--burst"])
    assert worked.exit_code == 0, worked.output
    session.rollback()
    run = apportionment.get_run(session, run_id)
    assert run.status == "executed" and rq_queue.count == 0
    counts = _deduction_counts(session, run_id)
    payers = {m for m in good if before[m] >= share}
    assert set(counts) == payers and set(counts.values()) == {1} and run.debited_count == len(payers)
    assert session.execute(sa.text("SELECT COUNT(*) FROM domain_events WHERE kind = 'run.executed' AND run_id = :r"),
                           {"r": run_id}).scalar_one() == 1
    # The notice parts went through the queue too: all written, each paying family told once of all its shares.
    owners = dict(session.execute(sa.text("SELECT id, user_id FROM memberships")).all())
    expected = {}
    for membership in payers:
        expected[owners[membership]] = expected.get(owners[membership], 0) + share
    parts = session.execute(sa.text("SELECT status, COUNT(*) FROM run_notice_parts WHERE run_id = :r GROUP BY status"),
                            {"r": run_id}).all()
    assert [status for status, _ in parts] == ["done"] and parts[0][1] >= 5
    told = session.execute(sa.text("SELECT user_id, amount_fen FROM notifications WHERE kind = 'share_deducted'")).all()
    assert dict(told) == expected and len(told) == len(expected) == 200
    assert runner.invoke(args=["ledger", "audit"]).exit_code == 0
    rq_queue.empty()


def test_a_worker_finding_only_a_held_chunk_waits_for_it_then_runs_it_and_settles(db_url, app, clock):
    """A chunk row held by another transaction (a leave locks its member's chunk) is skipped while
    others are free; then the worker waits for it instead of leaving the run unfinished."""
    from tests.support import wait_until

    now = clock.now()
    engine = sa.create_engine(db_url)
    try:
        with Session(engine) as s, s.begin():
            generate_members(s, "adult_789", 400, now)
            add_case(s, "adult_789", 60_000, now)
        with Session(engine) as s:
            run = apportionment.prepare(s, "adult_789", now, chunk_size=50)
            apportionment.publish(s, run.id, now)
            apportionment.execute(s, run.id, now, max_chunks=0)  # executing, chunks cut, none run
            run_id = run.id
        committed: list[int] = []
        errors: list[BaseException] = []

        def worker():
            try:
                with Session(engine) as s:
                    apportionment.execute(s, run_id, now, on_chunk=lambda lo, hi, r: committed.append(lo))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        with Session(engine) as holder:
            with holder.begin():
                # The third chunk alone (FOR UPDATE under an OFFSET would lock the rows skipped too).
                held = holder.execute(sa.text(
                    "SELECT lo FROM apportionment_run_chunks WHERE run_id = :r ORDER BY lo LIMIT 1 OFFSET 2"),
                    {"r": run_id}).scalar_one()
                holder.execute(sa.text("SELECT lo FROM apportionment_run_chunks WHERE run_id = :r AND lo = :lo "
                                       "FOR UPDATE"), {"r": run_id, "lo": held})
                me = holder.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
                thread = threading.Thread(target=worker)
                thread.start()
                with engine.connect() as watch:

                    def waiting_for_us():
                        assert not errors, errors
                        blocked = watch.execute(sa.text(
                            "SELECT COUNT(*) FROM pg_stat_activity WHERE :me = ANY(pg_blocking_pids(pid))"),
                            {"me": me}).scalar_one()
                        watch.rollback()
                        return blocked > 0

                    wait_until(waiting_for_us, 30, "the worker to wait for the held chunk")
                with Session(engine) as s:  # every other chunk is done meanwhile; the run is not settled
                    assert apportionment.pending_chunks(s, run_id) == 1
                    assert apportionment.get_run(s, run_id).status == "executing"
                assert held not in committed
        thread.join(timeout=60)
        assert not thread.is_alive() and not errors, errors
        assert committed[-1] == held and len(committed) == len(set(committed))
        with Session(engine) as s:
            assert apportionment.get_run(s, run_id).status == "executed"
            assert audit_ledger(s).ok
    finally:
        engine.dispose()


def test_two_workers_write_a_runs_notice_parts_side_by_side_each_part_once(db_url, app, clock, monkeypatch):
    """Both workers inside a part at once (each waits for the other there): the second skipped the
    first's locked part instead of waiting for it. Every part written once, every family told once."""
    from app.services import outbox
    from app.services.apportionment import engine as run_engine

    monkeypatch.setattr(outbox, "NOTICE_PART_USERS", 30)
    now = clock.now()
    engine = sa.create_engine(db_url)
    try:
        with Session(engine) as s, s.begin():
            generate_members(s, "adult_789", 300, now, members_per_user=3)
            add_case(s, "adult_789", 60_000, now)
        with Session(engine) as s:
            run = apportionment.prepare(s, "adult_789", now, chunk_size=50)
            apportionment.publish(s, run.id, now)
            run_id, share = run.id, run.share_fen
            with monkeypatch.context() as during_execute:  # executed and announced, no part written yet
                during_execute.setattr(run_engine, "write_notices", lambda session, run_id: 0)
                assert apportionment.execute(s, run_id, now).status == "executed"
            parts = s.execute(sa.text("SELECT COUNT(*) FROM run_notice_parts WHERE run_id = :r AND status = 'pending'"),
                              {"r": run_id}).scalar_one()
            payers = [m for (m,) in s.execute(sa.text(
                "SELECT a.membership_id FROM postings p JOIN accounts a ON a.id = p.account_id "
                "JOIN ledger_transactions t ON t.id = p.transaction_id WHERE t.reason = 'deduction' AND a.kind = 'member'"))]
            owners = dict(s.execute(sa.text("SELECT id, user_id FROM memberships")).all())
        assert parts >= 4
        both_inside = threading.Barrier(2)
        write_rows, entered = outbox.write_rows, set()

        def wait_for_the_other_inside_a_part(session, event, **kwargs):
            if threading.current_thread().name not in entered:
                entered.add(threading.current_thread().name)
                both_inside.wait(timeout=20)
            return write_rows(session, event, **kwargs)

        monkeypatch.setattr(outbox, "write_rows", wait_for_the_other_inside_a_part)
        written: dict[str, int] = {}
        errors: list[BaseException] = []

        def worker():
            try:
                with Session(engine) as s:
                    written[threading.current_thread().name] = apportionment.write_notices(s, run_id)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, name=f"notices-{k}") for k in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        assert sum(written.values()) == parts and min(written.values()) >= 1
        expected: dict[int, int] = {}
        for membership in payers:
            expected[owners[membership]] = expected.get(owners[membership], 0) + share
        with Session(engine) as s:
            told = s.execute(sa.text("SELECT user_id, amount_fen FROM notifications WHERE kind = 'share_deducted'")).all()
            done = s.execute(sa.text("SELECT COUNT(*), SUM(written_count) FROM run_notice_parts WHERE run_id = :r "
                                     "AND status = 'done'"), {"r": run_id}).one()
            member_notices = s.execute(sa.text("SELECT COUNT(*) FROM notifications WHERE kind IN "
                                               "('share_deducted', 'suspended', 'balance_low')")).scalar_one()
        assert dict(told) == expected and len(told) == len(expected) == 100
        assert tuple(done) == (parts, member_notices) and member_notices > 100  # the parts wrote them all
    finally:
        engine.dispose()
