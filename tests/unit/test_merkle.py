"""The streaming RFC 6962 tree against the RFC's recursive definition and CT's published vectors."""
import hashlib

import pytest
from hypothesis import given, strategies as st

from app.services import merkle

# certificate-transparency's reference leaves and roots (merkle_tree_test: TestVector).
CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def recursive_root(leaves: list[bytes]) -> bytes:
    """MTH from the RFC's recursive definition, written independently of the streaming code."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + recursive_root(leaves[:k]) + recursive_root(leaves[k:])).digest()


def recursive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return recursive_path(m, leaves[:k]) + [recursive_root(leaves[k:])]
    return recursive_path(m - k, leaves[k:]) + [recursive_root(leaves[:k])]


@pytest.mark.parametrize("n", sorted(CT_ROOTS))
def test_certificate_transparency_vectors(n):
    assert merkle.root_of(CT_LEAVES[:n]).hex() == CT_ROOTS[n]
    assert recursive_root(CT_LEAVES[:n]).hex() == CT_ROOTS[n]


def test_empty_tree_is_the_hash_of_nothing():
    assert merkle.root_of([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_streaming_root_and_proofs_equal_the_recursive_definition(leaves, data):
    root = recursive_root(leaves)
    assert merkle.root_of(leaves) == root
    index = data.draw(st.integers(0, len(leaves) - 1))
    path, leaf, streamed_root = merkle.inclusion_proof(iter(leaves), index, len(leaves))
    assert path == recursive_path(index, leaves)
    assert (leaf, streamed_root) == (leaves[index], root)
    assert merkle.verify_inclusion(leaf, index, len(leaves), path, root)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64, 65])
def test_every_proof_verifies_and_no_forgery_does(n):
    leaves = [i.to_bytes(4, "big") for i in range(n)]
    root = merkle.root_of(leaves)
    for i in range(n):
        path, leaf, _ = merkle.inclusion_proof(leaves, i, n)
        assert merkle.verify_inclusion(leaf, i, n, path, root)
        assert not merkle.verify_inclusion(leaf + b"x", i, n, path, root)
        if n > 1:
            assert not merkle.verify_inclusion(leaf, (i + 1) % n, n, path, root)
            assert not merkle.verify_inclusion(leaf, i, n, path[:-1], root)


def test_proofs_at_the_first_middle_and_last_of_100001_leaves():
    n = 100_001
    leaves = [i.to_bytes(8, "big") for i in range(n)]
    root = merkle.root_of(leaves)
    for i in (0, n // 2, n - 1):
        path, leaf, streamed = merkle.inclusion_proof(iter(leaves), i, n)
        assert streamed == root and leaf == leaves[i]
        assert len(path) == len(merkle.audit_ranges(i, n)) <= 17
        assert merkle.verify_inclusion(leaf, i, n, path, root)


def test_too_few_leaves_for_the_stated_size_is_refused():
    with pytest.raises(ValueError):
        merkle.inclusion_proof([b"a", b"b"], 0, 3)


@given(st.lists(st.binary(min_size=0, max_size=40), max_size=70), st.data())
def test_leaf_hashes_pushed_in_batches_give_the_recursive_root(leaves, data):
    """push_hashes (settlement's hot loop, fed page by page) builds the same tree as leaf by leaf."""
    tree, i = merkle.StreamingTree(), 0
    while i < len(leaves):
        n = data.draw(st.integers(min_value=1, max_value=len(leaves) - i))
        tree.push_hashes(merkle.leaf_hash(leaf) for leaf in leaves[i:i + n])
        i += n
    assert tree.size == len(leaves) and tree.root() == recursive_root(leaves)
