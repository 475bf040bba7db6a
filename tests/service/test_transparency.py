"""Verifiable runs on SQLite and PostgreSQL: each executed run's Merkle root in the plan's chain,
members' inclusion proofs, public leaves, and verify naming the run an attacker edited."""
import datetime as dt

import pytest
import sqlalchemy as sa

from app.models import ApportionmentRunChunk, MembershipSecret, RunDebitLeaves, TransparencyRecord
from app.services import apportionment, membership_secrets, merkle, transparency
from app.services.errors import NotFound
from tests.support import (a_debit, add_claim, add_members, executed_run, independent_leaf_hashes, independent_root,
                           make_user, tamper)


def _record(session, run_id):
    return session.execute(sa.select(TransparencyRecord).where(TransparencyRecord.run_id == run_id)).scalar_one()


def test_runs_are_committed_to_the_plans_chain(session, clock):
    now = clock.now()
    first, ids = executed_run(session, now, [800, 900, 1000, 850, 801, 20])
    record = _record(session, first)
    size, root = independent_root(session, first)
    assert (record.sequence, record.previous_hash) == (1, transparency.GENESIS)
    assert (record.tree_size, record.root_hash) == (size, root) and size == 5
    assert record.total_fen == 5 * 200  # 1000 fen over 5 payers
    # every membership got its secret when it was created (the run's settlement only read them)
    assert {m for m, in session.execute(sa.select(MembershipSecret.membership_id))} == set(ids)

    second, _ = executed_run(session, now + dt.timedelta(days=15), [500, 600], aid_fen=300)
    later = _record(session, second)
    assert (later.sequence, later.previous_hash) == (2, record.record_hash)
    assert later.record_hash == transparency.record_hash_of(transparency.record_body(later, "adult_789"))
    chain = transparency.chain(session, "adult_789")
    assert [r["run_id"] for r in chain] == [first, second]
    assert chain[1]["previous"] == chain[0]["record_hash"]
    report = transparency.verify(session)
    assert report.ok, report.problems
    assert (report.checked_runs, report.checked_records) == (2, 2)


def test_each_payer_proves_their_own_debit(session, clock):
    run_id, ids = executed_run(session, clock.now(), [800, 900, 1000, 850, 801, 20, 700], chunk_size=3)
    record = _record(session, run_id)
    seen = set()
    for membership_id in ids:
        if membership_id == ids[5]:  # 20 fen: suspended, no debit
            with pytest.raises(NotFound) as missing:
                transparency.debit_proof(session, membership_id, run_id)
            assert missing.value.code == "debit_not_found"
            continue
        proof = transparency.debit_proof(session, membership_id, run_id)
        secret = bytes.fromhex(proof["member_secret"])
        nym = transparency.pseudonym(secret, run_id)
        leaf = transparency.leaf_bytes(run_id, nym, proof["amount_fen"])
        assert leaf.hex() == proof["leaf"] and proof["root"] == proof["computed_root"] == record.root_hash
        assert merkle.verify_inclusion(leaf, proof["leaf_index"], proof["tree_size"],
                                       [bytes.fromhex(h) for h in proof["audit_path"]], bytes.fromhex(record.root_hash))
        seen.add(proof["leaf_index"])
    assert seen == set(range(record.tree_size)) and record.tree_size == 6


def test_leaves_pages_rebuild_the_root(session, clock):
    run_id, _ = executed_run(session, clock.now(), [900] * 11, chunk_size=4)
    record = _record(session, run_id)
    leaves, offset = [], 0
    while offset is not None:
        page = transparency.leaves_page(session, "adult_789", run_id, offset=offset, limit=3)
        assert [item["index"] for item in page["items"]] == list(range(offset, offset + len(page["items"])))
        leaves += [bytes.fromhex(item["leaf"]) for item in page["items"]]
        offset = page["next_offset"]
    assert len(leaves) == 11 and merkle.root_of(leaves).hex() == record.root_hash
    assert transparency.leaves_page(session, "adult_789", run_id, offset=11, limit=3)["items"] == []
    with pytest.raises(NotFound):
        transparency.leaves_page(session, "children", run_id, offset=0, limit=3)


def _run_with_chunks_done(session, now, balances, chunks: int, chunk_size: int = 2) -> tuple[int, list[int]]:
    """A published run whose first `chunks` chunks are executed, not settled."""
    ids = add_members(session, make_user(session, now), "adult_789", balances, now)
    add_claim(session, ids[0], 1_000, now - dt.timedelta(hours=1))
    run = apportionment.prepare(session, "adult_789", now, chunk_size=chunk_size)
    apportionment.publish(session, run.id, now)
    assert apportionment.execute(session, run.id, now, max_chunks=chunks).status == "executing"
    return run.id, ids


def _stored(session, run_id):
    rows = session.execute(sa.select(RunDebitLeaves).where(RunDebitLeaves.run_id == run_id)
                           .order_by(RunDebitLeaves.transaction_id)).scalars().all()
    session.rollback()
    return rows


def test_each_chunk_stores_its_leaves_and_settlement_combines_them(session, clock):
    now = clock.now()
    run_id, _ = _run_with_chunks_done(session, now, [800, 20, 900, 1000, 850, 801, 700], chunks=2)
    stored = _stored(session, run_id)
    done = session.execute(sa.select(ApportionmentRunChunk.debited_count, ApportionmentRunChunk.debited_fen)
                           .where(ApportionmentRunChunk.run_id == run_id, ApportionmentRunChunk.status == "done")
                           .order_by(ApportionmentRunChunk.lo)).all()
    session.rollback()
    assert [(s.leaf_count, s.total_fen) for s in stored] == [tuple(d) for d in done] and len(stored) == 2
    for row in stored:  # the chunk's own debits, hashed as the ledger says, in leaf order
        assert row.hashes == b"".join(independent_leaf_hashes(session, run_id, row.transaction_id))
    run = apportionment.execute(session, run_id, now)
    assert run.status == "executed"
    size, root = independent_root(session, run_id)
    assert (_record(session, run_id).tree_size, _record(session, run_id).root_hash) == (size, root) and size == 6
    assert _stored(session, run_id) == []  # settled: the ledger stays the only source of the leaves
    assert transparency.verify(session).ok


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_on_postgresql_the_chunk_statement_hashes_its_own_leaves(session, clock, monkeypatch):
    """The leaves are hashed by the chunk's statement (pgcrypto's hmac); Python hashes only a chunk
    that has a payer without a secret, and gives that payer one."""
    from app.services.apportionment import engine
    hashed_in_python = []
    store_leaves = engine.store_leaves
    monkeypatch.setattr(engine, "store_leaves", lambda session, run_id, txn: (
        hashed_in_python.append(txn), store_leaves(session, run_id, txn)))
    now = clock.now()
    ids = add_members(session, make_user(session, now), "adult_789", [800, 900, 1000, 850, 801, 700], now)
    _drop_secrets(session, [ids[3]])
    add_claim(session, ids[0], 1_000, now - dt.timedelta(hours=1))
    run = apportionment.prepare(session, "adult_789", now, chunk_size=2)
    apportionment.publish(session, run.id, now)
    assert apportionment.execute(session, run.id, now, max_chunks=3).status == "executing"
    stored = _stored(session, run.id)
    assert len(stored) == 3 and [row.transaction_id for row in stored][1:2] == hashed_in_python
    for row in stored:
        assert row.hashes == b"".join(independent_leaf_hashes(session, run.id, row.transaction_id))
    assert ids[3] in _secrets(session)
    apportionment.execute(session, run.id, now)
    assert (_record(session, run.id).tree_size, _record(session, run.id).root_hash) == independent_root(session, run.id)
    assert transparency.verify(session).ok


def test_settlement_reads_the_ledger_for_a_chunk_that_stored_nothing(session, clock):
    """A chunk executed before its leaves were stored (a run under way during the upgrade)."""
    now = clock.now()
    run_id, _ = _run_with_chunks_done(session, now, [800, 900, 1000, 850, 801, 700, 600], chunks=3)
    middle = _stored(session, run_id)[1].transaction_id
    session.execute(sa.delete(RunDebitLeaves).where(RunDebitLeaves.transaction_id == middle))
    session.commit()
    apportionment.execute(session, run_id, now)
    assert (_record(session, run_id).tree_size, _record(session, run_id).root_hash) == independent_root(session, run_id)
    assert transparency.verify(session).ok


def test_a_stored_leaf_that_lies_is_published_and_verify_names_the_run(session, clock):
    """The stored hashes are a cache settlement trusts; verification does not read them."""
    now = clock.now()
    run_id, _ = _run_with_chunks_done(session, now, [800, 900, 1000, 850], chunks=2)
    first = _stored(session, run_id)[0]
    session.execute(sa.update(RunDebitLeaves).where(RunDebitLeaves.transaction_id == first.transaction_id)
                    .values(hashes=bytes(32) + first.hashes[32:]))
    session.commit()
    apportionment.execute(session, run_id, now)
    assert _record(session, run_id).root_hash != independent_root(session, run_id)[1]
    report = transparency.verify(session)
    assert not report.ok and report.problems[0].startswith(f"run {run_id} ") and "root" in report.problems[0]


def test_verify_names_the_run_whose_debit_was_edited(session, clock):
    now = clock.now()
    first, _ = executed_run(session, now, [800, 900, 1000])
    second, _ = executed_run(session, now + dt.timedelta(days=15), [800, 900, 1000, 700], aid_fen=400)
    third, _ = executed_run(session, now + dt.timedelta(days=30), [500, 500], plan="children", aid_fen=200)
    assert transparency.verify(session).ok
    victim = a_debit(session, second, last=True)
    tamper(session, "UPDATE postings SET amount_fen = amount_fen + 1 WHERE id = :p", {"p": victim})
    report = transparency.verify(session)
    assert not report.ok and report.problems[0].startswith(f"run {second} ")
    assert "root" in report.problems[0]


def test_verify_names_an_edited_record_and_a_deleted_debit(session, clock):
    now = clock.now()
    first, _ = executed_run(session, now, [800, 900, 1000])
    second, _ = executed_run(session, now + dt.timedelta(days=15), [800, 900], aid_fen=400)
    tamper(session, "UPDATE transparency_records SET total_fen = total_fen - 1 WHERE run_id = :r", {"r": first},
           table="transparency_records")
    assert transparency.verify(session).problems == [
        f"run {first} (plan adult_789 record 1): record hash does not match its content"]
    tamper(session, "UPDATE transparency_records SET total_fen = total_fen + 1 WHERE run_id = :r", {"r": first},
           table="transparency_records")
    assert transparency.verify(session).ok
    victim = a_debit(session, first)
    tamper(session, "DELETE FROM postings WHERE id = :p", {"p": victim})
    problem = transparency.verify(session).problems[0]
    assert problem.startswith(f"run {first} ") and "give 2 leaves" in problem


def test_an_executed_run_missing_from_the_chain_is_reported_then_committed(session, clock):
    run_id, _ = executed_run(session, clock.now(), [800, 900])
    tamper(session, "DELETE FROM transparency_records WHERE run_id = :r", {"r": run_id}, table="transparency_records")
    assert transparency.verify(session).problems == [
        f"run {run_id} (plan adult_789): executed but not in the plan's chain"]
    assert transparency.commit_missing(session, clock.now()) == [run_id]
    assert transparency.verify(session).ok



def test_erasing_a_payers_personal_data_leaves_every_run_verifiable(session, clock):
    """Retention (docs/privacy.md) erases names and ID numbers only: the ledger, the member's secret and so
    the published roots and the member's own proof stay as they were."""
    from app.models import Membership
    from app.services import personal_data
    from app.services.audit import audit_ledger
    from app.services.unit_of_work import atomic

    now = clock.now()
    run_id, ids = executed_run(session, now, [200] * 5)  # aid 1,000 over 5 payers: each pays all they hold
    before = transparency.debit_proof(session, ids[1], run_id)
    with atomic(session):
        session.execute(sa.update(Membership).where(Membership.id == ids[1]).values(state="left", ended_at=now))
    assert personal_data.erase_expired(session, now=now + dt.timedelta(days=31), retention_days=30) == 1
    assert session.get(Membership, ids[1]).erased_at is not None
    assert transparency.verify(session).ok
    assert transparency.debit_proof(session, ids[1], run_id) == before
    assert audit_ledger(session).ok


def _secrets(session) -> dict[int, bytes]:
    return {m: bytes(s) for m, s in session.execute(sa.select(MembershipSecret.membership_id, MembershipSecret.secret))}


def _drop_secrets(session, membership_ids) -> None:
    """Memberships as they were before join created their secrets (before migration 0021)."""
    session.execute(sa.delete(MembershipSecret).where(MembershipSecret.membership_id.in_(membership_ids)))
    session.commit()


def test_a_membership_without_a_secret_gets_one_at_settlement(session, clock):
    """The lazy fallback: payers whose secret is missing (created around join) get one when the run
    settles; the root is the independent one and verify recomputes it."""
    now = clock.now()
    ids = add_members(session, make_user(session, now), "adult_789", [800, 900, 1000, 850, 801], now)
    kept = _secrets(session)
    _drop_secrets(session, ids[1:4])
    add_claim(session, ids[0], 1_000, now - dt.timedelta(hours=1))
    run = apportionment.prepare(session, "adult_789", now, chunk_size=2)
    apportionment.publish(session, run.id, now)
    run_id = apportionment.execute(session, run.id, now).id
    after = _secrets(session)
    assert set(after) == set(ids) and all(len(s) == membership_secrets.SECRET_BYTES for s in after.values())
    assert {m: after[m] for m in (ids[0], ids[4])} == {m: kept[m] for m in (ids[0], ids[4])}
    assert len({after[m] for m in ids}) == len(ids)
    size, root = independent_root(session, run_id)
    assert (_record(session, run_id).tree_size, _record(session, run_id).root_hash) == (size, root) == (5, root)
    assert transparency.verify(session).ok
    proof = transparency.debit_proof(session, ids[2], run_id)
    assert proof["member_secret"] == after[ids[2]].hex() and proof["computed_root"] == root


def test_backfill_gives_each_membership_without_a_secret_one_and_keeps_the_others(session, clock):
    now = clock.now()
    ids = add_members(session, make_user(session, now), "adult_789", [100] * 7, now)
    kept = _secrets(session)
    assert set(kept) == set(ids)  # as join does: each membership has its secret from the start
    _drop_secrets(session, ids[::2])
    assert membership_secrets.backfill_secrets(session, batch=2) == 4
    after = _secrets(session)
    assert set(after) == set(ids) and all(len(s) == 32 for s in after.values())
    assert {m: after[m] for m in ids[1::2]} == {m: kept[m] for m in ids[1::2]}
    assert len(set(after.values())) == 7  # random, not derived from anything shared
    assert membership_secrets.backfill_secrets(session) == 0 and _secrets(session) == after


def test_a_proof_over_a_tree_with_a_lost_secret_says_the_record_is_incomplete(session, clock):
    run_id, ids = executed_run(session, clock.now(), [800, 900, 1000])
    assert transparency.debit_proof(session, ids[0], run_id)["computed_root"] == _record(session, run_id).root_hash
    _drop_secrets(session, [ids[2]])
    with pytest.raises(NotFound) as incomplete:
        transparency.debit_proof(session, ids[0], run_id)
    assert incomplete.value.code == "run_record_incomplete"
