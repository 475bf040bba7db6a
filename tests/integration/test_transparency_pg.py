"""PostgreSQL: a real run of 100,001 payers, its root computed streaming at settlement, and the
proofs of the first, middle and last leaves verified."""
import pytest
import sqlalchemy as sa

from app.services import apportionment, merkle, transparency
from app.services.unit_of_work import atomic
from bench.synthetic import add_case, generate_members
from tests.support import independent_root

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

N = 100_001


def test_proofs_at_the_ends_and_middle_of_a_run_of_100001_payers(session, clock):
    now = clock.now()
    with atomic(session):
        generate_members(session, "adult_789", N, now, tag="tp")
        session.execute(sa.text("UPDATE accounts SET balance_fen = 500 WHERE kind = 'member'"))
        add_case(session, "adult_789", 100_001, now)
    run = apportionment.prepare(session, "adult_789", now, chunk_size=40_000)
    assert run.payer_count == N and run.share_fen == 1
    apportionment.publish(session, run.id, now)
    run = apportionment.execute(session, run.id, now)
    record = transparency.chain(session, "adult_789")[-1]
    assert (record["tree_size"], record["total_fen"]) == (N, N)
    assert (record["tree_size"], record["root"]) == independent_root(session, run.id)
    member_ids = [m for (m,) in session.execute(sa.text(
        "SELECT membership_id FROM accounts WHERE kind = 'member' ORDER BY membership_id"))]
    for membership_id, index in ((member_ids[0], 0), (member_ids[N // 2], N // 2), (member_ids[-1], N - 1)):
        proof = transparency.debit_proof(session, membership_id, run.id)
        assert proof["leaf_index"] == index and proof["amount_fen"] == 1
        assert merkle.verify_inclusion(bytes.fromhex(proof["leaf"]), index, N,
                                       [bytes.fromhex(h) for h in proof["audit_path"]], bytes.fromhex(record["root"]))
