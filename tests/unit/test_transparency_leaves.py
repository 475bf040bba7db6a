"""Settlement's tight leaf loop computes exactly what a member's phone does: the leaf hash of
run id ‖ HMAC-SHA256(secret, "yiqi/run-pseudonym/v1:{run}") ‖ amount, HMAC by the standard library."""
import hashlib
import hmac
import threading

import pytest

from hypothesis import given, strategies as st

from app.services import merkle, run_tree


@given(st.integers(min_value=1, max_value=2**63 - 1),
       st.lists(st.tuples(st.binary(min_size=0, max_size=130), st.integers(min_value=-2**63, max_value=2**63 - 1)),
                max_size=20))
def test_leaf_hashes_equal_hmac_and_the_leaf_format(run_id, debits):
    expected = [
        merkle.leaf_hash(run_id.to_bytes(8, "big")
                         + hmac.new(secret, b"yiqi/run-pseudonym/v1:%d" % run_id, hashlib.sha256).digest()
                         + amount.to_bytes(8, "big", signed=True))
        for secret, amount in debits]
    assert list(run_tree.leaf_hashes(run_id, debits)) == expected
    # the secrets as the database driver hands them over (psycopg2: memoryview)
    assert list(run_tree.leaf_hashes(run_id, [(memoryview(s), a) for s, a in debits])) == expected


def test_leaf_hashes_of_the_usual_32_byte_secret_match_the_published_functions():
    secret, run_id, amount = bytes(range(32)), 7, 200
    leaf = run_tree.leaf_bytes(run_id, run_tree.pseudonym(secret, run_id), amount)
    assert list(run_tree.leaf_hashes(run_id, [(secret, amount)])) == [merkle.leaf_hash(leaf)]


def _pages(n, closed, fail_at=None, made=None):
    try:
        for i in range(n):
            if i == fail_at:
                raise RuntimeError("the database went away")
            if made is not None:
                made.append(i)
            yield [i]
    finally:
        closed.append(True)


def test_read_ahead_hands_over_every_page_in_order():
    closed = []
    assert list(run_tree.read_ahead(_pages(50, closed))) == [[i] for i in range(50)] and closed == [True]


def test_read_ahead_raises_the_readers_error_in_the_caller():
    closed, got = [], []
    with pytest.raises(RuntimeError, match="went away"):
        for page in run_tree.read_ahead(_pages(50, closed, fail_at=7)):
            got.append(page)
    assert got == [[i] for i in range(7)] and closed == [True]


def test_a_caller_stopping_early_stops_the_reader_and_closes_the_pages():
    closed, made = [], []
    pages = run_tree.read_ahead(_pages(10_000, closed, made=made))
    assert next(pages) == [0]
    pages.close()  # as a caller leaving its loop (an exception, a missing secret)
    assert closed == [True] and len(made) <= 5  # the page in hand, two queued, the one being put: no more
    assert not [t for t in threading.enumerate() if t.name == "merkle-read-ahead"]
