"""Aid payout reliability against the emulator over HTTP: a failed call retried with the same
number, a timeout that did take effect, a duplicate notification, concurrent settlement (PostgreSQL)."""
import threading

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Account, LedgerTransaction, PayoutTransfer
from app.services import audit, claims, payouts
from app.services.claim_documents import add_document
from app.services.operators import get_operator
from app.services.ports import PayOutcomeUnknown
from tests.support import POLICY, claim_body, join_and_fund, login_as, make_operator, make_protected, settle_collected


@pytest.fixture
def collected_case(client, app, clock, emulator, tmp_path):
    app.config["CLAIM_DOCUMENTS_DIR"] = str(tmp_path)
    now = clock.now()
    rev = make_operator("rev", "reviewer", now=now)
    inv = make_operator("inv", "investigator", organisation="平安公估", now=now)
    fin = make_operator("fin", "finance", now=now)
    alice, bob = login_as(client, emulator, "o-pay-alice"), login_as(client, emulator, "o-pay-bob")
    alice_m, _ = join_and_fund(client, alice, clock)
    bob_m, _ = join_and_fund(client, bob, clock, name="李四", amount_fen=1000)
    make_protected(clock)
    claim_id = client.post("/api/v1/claims", json=claim_body(alice_m, clock), headers=alice).get_json()["id"]
    add_document(db.session, tmp_path, user_id=_user_of(claim_id), claim_id=claim_id, data=b"%PDF-1.4 x",
                 max_bytes=1000, now=clock.now(), policy=POLICY)
    claims.start_review(db.session, rev, claim_id, clock.now())
    claims.assign(db.session, rev, claim_id, inv.organisation_id, clock.now())
    claims.submit_report(db.session, inv, claim_id, claims.InvestigationReport("属实", "属实", "major_illness", 900_000),
                         clock.now(), 5)
    clock.advance(days=5)
    assert claims.promote_finished_publicity(db.session, clock.now()) == [claim_id]
    settle_collected(claim_id, {bob_m: 900}, run_id=3, now=clock.now())
    return claim_id, get_operator(db.session, fin.id)


def _user_of(claim_id):
    from app.models import Claim

    return db.session.get(Claim, claim_id).user_id


def _payout_postings():
    return db.session.execute(select(func.count()).select_from(LedgerTransaction)
                              .where(LedgerTransaction.reason == "aid_payout")).scalar_one()


def _confirm(emulator, package_info):
    assert requests.post(emulator.url + "_emulator/transfer/confirm", json={"package_info": package_info},
                         timeout=5).status_code == 200


class TimesOutAfterEffect:
    """The transfer reaches WeChat but the answer is lost: what a client timeout looks like."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def transfer(self, *args, **kwargs):
        self.calls += 1
        self.real.transfer(*args, **kwargs)
        if self.calls == 1:
            raise PayOutcomeUnknown("read timed out")
        return self.real.transfer(*args, **kwargs)

    def query_transfer(self, out_bill_no):
        return self.real.query_transfer(out_bill_no)


def test_failed_call_is_retried_with_the_same_number(collected_case, services, emulator, clock):
    claim_id, fin = collected_case
    emulator.state.pay.fail_next_transfers(times=1, status=500)
    transfer = payouts.approve(db.session, fin, claim_id, clock.now())
    first = payouts.send(db.session, services.pay, transfer.id, clock.now())
    assert first.status == "pending" and first.attempts == 1 and first.last_error
    again = payouts.approve(db.session, fin, claim_id, clock.now())  # approving twice: the same transfer
    assert again.id == transfer.id and again.out_bill_no == transfer.out_bill_no
    second = payouts.send(db.session, services.pay, transfer.id, clock.now())
    assert second.status == "wait_user_confirm" and second.attempts == 2 and second.out_bill_no == transfer.out_bill_no
    assert _payout_postings() == 0  # not paid until the claimant confirms and WeChat says SUCCESS
    _confirm(emulator, second.package_info)
    assert payouts.sync(db.session, services.pay, transfer.id, clock.now()).status == "succeeded"
    assert payouts.sync(db.session, services.pay, transfer.id, clock.now()).status == "succeeded"
    bill = services.pay.query_transfer(transfer.out_bill_no)
    assert payouts.handle_notification(db.session, bill, clock.now()).status == "succeeded"  # a late notification
    assert _payout_postings() == 1
    assert audit.audit_ledger(db.session).ok


def test_timeout_that_took_effect_pays_once(collected_case, services, emulator, clock):
    claim_id, fin = collected_case
    gateway = TimesOutAfterEffect(services.pay)
    transfer = payouts.approve(db.session, fin, claim_id, clock.now())
    lost = payouts.send(db.session, gateway, transfer.id, clock.now())
    assert lost.status == "pending" and "timeout" in lost.last_error
    found = payouts.sync(db.session, gateway, transfer.id, clock.now())  # the query finds the bill WeChat made
    assert found.status == "wait_user_confirm" and found.package_info
    assert db.session.execute(select(func.count()).select_from(PayoutTransfer)).scalar_one() == 1
    _confirm(emulator, found.package_info)
    outcome = payouts.process_open(db.session, gateway, clock.now())
    assert outcome == {"succeeded": 1, "still_open": 0, "failed": 0}
    assert claims.get_for_user(db.session, _user_of(claim_id), claim_id).status == "paid"
    assert _payout_postings() == 1 and audit.audit_ledger(db.session).ok


def test_concurrent_settlement_moves_the_ledger_once(collected_case, services, emulator, clock, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks and concurrent writers: PostgreSQL")
    claim_id, fin = collected_case
    transfer = payouts.send(db.session, services.pay, payouts.approve(db.session, fin, claim_id, clock.now()).id,
                            clock.now())
    _confirm(emulator, transfer.package_info)
    bill = services.pay.query_transfer(transfer.out_bill_no)
    barrier, errors, engine = threading.Barrier(4), [], db.engine

    def settle():
        with Session(engine) as own:
            try:
                barrier.wait()
                payouts.record_state(own, transfer.id, bill, clock.now())
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=settle) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert _payout_postings() == 1
    paid_out = db.session.execute(select(Account.balance_fen).where(Account.code == "system:aid_paid_out")).scalar_one()
    assert paid_out == 900 and audit.audit_ledger(db.session).ok
