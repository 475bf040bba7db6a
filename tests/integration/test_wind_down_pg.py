"""PostgreSQL: a balance-return chunk SIGKILLed mid-way (a real subprocess, between its WeChat calls) and
resumed by the lease and the resubmission: WeChat (the emulator, over HTTP) refunds and transfers every
membership's money exactly once."""
import datetime as dt
import json
import random
import signal
import subprocess
import sys

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.services import balance_returns, wind_down
from app.services.audit import audit_ledger
from app.services.payments import reconcile
from app.services.unit_of_work import atomic
from bench.synthetic import generate_members
from config import PROJECT_ROOT
from tests.support import DISCARD_URL, point_notifications_at, wait_until, wind_down_in_final_run

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

_WORKER = """
import sys, json, datetime as dt
from tests.support import app_config
from app import create_app
from app.container import container_of
from app.extensions import db
from app.services import wind_down
url, keys, emulator, now, notify = sys.argv[1:6]
app = create_app({**app_config(url, keys, emulator), "WECHAT_PAY_NOTIFY_URL": notify, "WECHAT_PAY_REFUND_NOTIFY_URL": notify})
with app.app_context():
    pay = container_of(app).pay
    print("ready", flush=True)
    ids = json.loads(sys.stdin.readline())
    wind_down.process_chunk(db.session, pay, ids, dt.datetime.fromisoformat(now), pace=lambda: print("call", flush=True))
print("done", flush=True)
"""


def seed_orders(session, emulator, now) -> None:
    """A paid order behind part of the balances, in our database and at WeChat (the emulator): even ids
    paid all their balance within the year, ids divisible by 3 half of it, the others long ago (none)."""
    from wechat.emulator.pay import Order

    rows = session.execute(sa.text(
        "SELECT m.id, m.user_id, CASE WHEN m.id % 2 = 0 THEN a.balance_fen ELSE a.balance_fen / 2 END "
        "FROM memberships m JOIN accounts a ON a.membership_id = m.id "
        "WHERE a.balance_fen > 1 AND (m.id % 2 = 0 OR m.id % 3 = 0)")).all()
    pay = emulator.state.pay
    with atomic(session):
        for membership_id, user_id, fen in rows:
            number = f"WDK{membership_id:08d}"
            session.execute(sa.text(
                "INSERT INTO orders (out_trade_no, membership_id, payer_user_id, amount_fen, status, transaction_id, "
                "created_at, expires_at, paid_at) VALUES (:n, :m, :u, :f, 'paid', :t, :now, :now, :now)"),
                {"n": number, "m": membership_id, "u": user_id, "f": fen, "t": f"T{number}", "now": now})
            pay.orders[number] = Order(appid=pay.config.appid, mchid=pay.keys.mchid, out_trade_no=number,
                                       description="充值", notify_url=DISCARD_URL, total=fen, openid="o-syn",
                                       prepay_id=f"p{number}", create_time=pay.now(), trade_state="SUCCESS",
                                       transaction_id=f"T{number}", success_time=pay.now())


def test_a_return_job_killed_mid_way_and_resumed_pays_nobody_twice(app, db_url, keys_dir, emulator, clock, services):
    point_notifications_at(app, DISCARD_URL)
    now = clock.now()
    with atomic(db.session):
        generate_members(db.session, "adult_789", 120, now, tag="wd")
    seed_orders(db.session, emulator, now)
    held = dict(db.session.execute(sa.text(
        "SELECT membership_id, balance_fen FROM accounts WHERE kind = 'member'")).all())
    found = wind_down_in_final_run(db.session, "adult_789", now)
    plan_id = found.plan_id
    wind_down.start_returns(db.session, found.id, now)
    ids = list(db.session.execute(sa.text("SELECT id FROM balance_returns ORDER BY id")).scalars())
    db.session.rollback()
    chunks: list[list[int]] = []
    assert wind_down.dispatch(db.session, plan_id, now, chunks.append, chunk_size=40) == 3

    # Two chunks' workers are killed after a random number of their WeChat calls (the answers not yet
    # recorded); the third chunk's worker died before taking it.
    rng = random.Random(14)
    for chunk in chunks[:2]:
        proc = subprocess.Popen([sys.executable, "-c", _WORKER, db_url, str(keys_dir), emulator.url, now.isoformat(),
                                 DISCARD_URL], cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "ready"
        proc.stdin.write(json.dumps(chunk) + "\n")
        proc.stdin.flush()
        for _ in range(rng.randint(5, 40)):
            assert proc.stdout.readline().strip() == "call"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
    statuses = dict(db.session.execute(sa.text("SELECT status, COUNT(*) FROM balance_returns GROUP BY status")).all())
    db.session.rollback()
    assert statuses["pending"] == 40 and statuses["returning"] + statuses.get("done", 0) == 80  # done: nothing held
    unrecorded = set(db.session.execute(sa.text(
        "SELECT out_refund_no FROM refunds WHERE refund_id IS NULL")).scalars())
    db.session.rollback()
    assert unrecorded & set(emulator.state.pay.refunds)  # WeChat took some whose answers were lost
    assert unrecorded - set(emulator.state.pay.refunds)  # and never saw others

    # Within the lease nothing is handed out again; after it, the pending returns are, and the rest resubmitted.
    assert wind_down.dispatch(db.session, plan_id, now + dt.timedelta(minutes=1), chunks.append) == 0
    later = now + dt.timedelta(hours=1)
    wind_down.dispatch(db.session, plan_id, later, lambda chunk: wind_down.process_chunk(
        db.session, services.pay, chunk, later))
    wind_down.resubmit(db.session, services.pay, plan_id, later)
    assert wait_until(lambda: all(r.status == "SUCCESS" for r in emulator.state.pay.refunds.values()
                                  if r.order.out_trade_no.startswith("WDK")))
    reconcile(db.session, services.pay, later)
    for package in db.session.execute(sa.text("SELECT package_info FROM return_transfers")).scalars().all():
        emulator.state.pay.confirm_transfer(package)
    db.session.rollback()
    balance_returns.process_open_transfers(db.session, services.pay, later)
    assert wind_down.finish_if_done(db.session, found.id, later)

    # WeChat paid each membership exactly what it held: by refunds on its orders, by transfer for the rest.
    returned: dict[int, int] = {}
    for refund in emulator.state.pay.refunds.values():
        if refund.order.out_trade_no.startswith("WDK"):
            m = int(refund.order.out_trade_no[3:])
            returned[m] = returned.get(m, 0) + refund.amount
    bills = dict(db.session.execute(sa.text("SELECT out_bill_no, membership_id FROM return_transfers")).all())
    for number, bill in emulator.state.pay.transfers.items():
        if number in bills:
            assert bill.state == "SUCCESS"
            returned[bills[number]] = returned.get(bills[number], 0) + bill.amount
    assert returned == {m: fen for m, fen in held.items() if fen}
    assert len(ids) == len(held)
    assert db.session.execute(sa.text("SELECT COALESCE(SUM(balance_fen), 0) FROM accounts WHERE kind = 'member'")
                              ).scalar_one() == 0
    assert db.session.execute(sa.text("SELECT balance_fen FROM accounts WHERE code = 'system:refund_pending'")
                              ).scalar_one() == 0
    assert audit_ledger(db.session).ok
