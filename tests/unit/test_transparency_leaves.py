"""Settlement's tight leaf loop computes exactly what a member's phone does: the leaf hash of
run id ‖ HMAC-SHA256(secret, "yiqi/run-pseudonym/v1:{run}") ‖ amount, HMAC by the standard library."""
import hashlib
import hmac

from hypothesis import given, strategies as st

from app.services import merkle, transparency


@given(st.integers(min_value=1, max_value=2**63 - 1),
       st.lists(st.tuples(st.binary(min_size=0, max_size=130), st.integers(min_value=-2**63, max_value=2**63 - 1)),
                max_size=20))
def test_leaf_hashes_equal_hmac_and_the_leaf_format(run_id, debits):
    expected = [
        merkle.leaf_hash(run_id.to_bytes(8, "big")
                         + hmac.new(secret, b"yiqi/run-pseudonym/v1:%d" % run_id, hashlib.sha256).digest()
                         + amount.to_bytes(8, "big", signed=True))
        for secret, amount in debits]
    assert list(transparency.leaf_hashes(run_id, debits)) == expected
    # the secrets as the database driver hands them over (psycopg2: memoryview)
    assert list(transparency.leaf_hashes(run_id, [(memoryview(s), a) for s, a in debits])) == expected


def test_leaf_hashes_of_the_usual_32_byte_secret_match_the_published_functions():
    secret, run_id, amount = bytes(range(32)), 7, 200
    leaf = transparency.leaf_bytes(run_id, transparency.pseudonym(secret, run_id), amount)
    assert list(transparency.leaf_hashes(run_id, [(secret, amount)])) == [merkle.leaf_hash(leaf)]
