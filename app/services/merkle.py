"""RFC 6962 Merkle trees (SHA-256), streaming: O(log n) memory whatever the number of leaves.

leaf hash = SHA-256(0x00 ‖ leaf), node hash = SHA-256(0x01 ‖ left ‖ right); a tree of n > 1
leaves splits at k, the largest power of two below n (RFC 6962 §2.1). The empty tree's hash is
SHA-256 of nothing. Inclusion proofs are the RFC's audit paths, listed from the leaf upwards, and
checked with RFC 9162 §2.1.3.2's algorithm (the one a phone runs: see the mini-program's
utils/merkle.js, tested on the vectors this module writes)."""
from __future__ import annotations

import hashlib
from typing import Iterable

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class StreamingTree:
    """Leaf hashes pushed in order; `root()` at any time. Keeps one hash per set bit of the count:
    the roots of the complete subtrees, largest first (their sizes are the powers of two in the
    count's binary form). A push merges one subtree per trailing 1 bit of the count before it."""

    def __init__(self) -> None:
        self._stack: list[bytes] = []  # complete subtree hashes, sizes strictly decreasing
        self.size = 0

    def push_hash(self, h: bytes) -> None:
        self.push_hashes((h,))

    def push_hashes(self, hashes: Iterable[bytes]) -> None:
        """Leaf hashes in order (the hot loop of a run's tree: locals only, one SHA-256 per node)."""
        stack, pop, append, sha256, size = self._stack, self._stack.pop, self._stack.append, hashlib.sha256, self.size
        try:
            for h in hashes:
                n = size
                while n & 1:
                    h = sha256(b"\x01" + pop() + h).digest()
                    n >>= 1
                append(h)
                size += 1
        finally:
            self.size = size

    def push(self, leaf: bytes) -> None:
        self.push_hash(leaf_hash(leaf))

    def root(self) -> bytes:
        # The RFC splits at the largest power of two: the complete subtrees, left to right, are
        # exactly that decomposition, so the root folds them from the right.
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def root_of(leaves: Iterable[bytes]) -> bytes:
    tree = StreamingTree()
    for leaf in leaves:
        tree.push(leaf)
    return tree.root()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def audit_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [lo, hi) whose subtree hashes form the audit path of `index`, leaf upwards
    (RFC 6962 §2.1.1 PATH(m, D[n]))."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is outside a tree of {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    ranges.reverse()
    return ranges


def inclusion_proof(leaves: Iterable[bytes], index: int, size: int) -> tuple[list[bytes], bytes, bytes]:
    """(audit path, the leaf at `index`, root) in one pass over `leaves` (which must yield `size`
    leaves in order)."""
    at_index: list[bytes] = []

    def hashes():
        for position, leaf in enumerate(leaves):
            if position == index:
                at_index.append(leaf)
            yield leaf_hash(leaf)

    path, _, root = inclusion_proof_of_hashes(hashes(), index, size)
    return path, at_index[0], root


def inclusion_proof_of_hashes(hashes: Iterable[bytes], index: int, size: int) -> tuple[list[bytes], bytes, bytes]:
    """(audit path, the leaf hash at `index`, root) in one pass over the leaf hashes (which must be
    `size`, in order). The path's subtrees are disjoint ranges: one streaming tree at a time."""
    ranges = audit_ranges(index, size)
    by_start = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    path: list[bytes | None] = [None] * len(ranges)
    whole = StreamingTree()
    current: StreamingTree | None = None
    cursor = 0  # position in by_start
    hash_at_index = None
    position = -1
    for position, h in enumerate(hashes):
        whole.push_hash(h)
        if position == index:
            hash_at_index = h
            continue
        if current is None:
            current = StreamingTree()
        current.push_hash(h)
        lo, hi = ranges[by_start[cursor]]
        if position + 1 == hi:
            path[by_start[cursor]] = current.root()
            current, cursor = None, cursor + 1
    if position + 1 != size or hash_at_index is None:
        raise ValueError(f"expected {size} leaves, got {position + 1}")
    return [p for p in path if p is not None], hash_at_index, whole.root()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does `path` prove `leaf` at `index` in the tree of `size` with `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root
