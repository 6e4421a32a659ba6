"""The Merkle tree of a log, as RFC 6962 (and RFC 9162) define it: hashes, proofs, checks.

* leaf hash = SHA-256(0x00 || leaf bytes); node hash = SHA-256(0x01 || left || right);
* the tree over n leaves splits at k, the largest power of two below n;
* an inclusion proof shows that a leaf is at its index in the tree of a size; a consistency
  proof shows that the tree of one size is a prefix of the tree of a larger one.

:class:`Frontier` is what the sequencer keeps: the roots of the perfect subtrees along the
tree's right edge (at most log2(n) hashes), enough to append a leaf and to compute the root
without the leaves. :class:`Tree` holds every leaf hash of a log, for the proofs the audit
commands hand out. Pure: the standard library only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """A tree by its right edge: ``nodes[i]`` is the root of a perfect subtree, largest first,
    their sizes the binary digits of ``size``."""

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if len(nodes) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} frontier nodes, not {len(nodes)}")
        self.size = size
        self.nodes = list(nodes)

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash: merge equal perfect subtrees, as a binary counter carries."""
        node, size = leaf, self.size
        while size & 1:
            node = node_hash(self.nodes.pop(), node)
            size >>= 1
        self.nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        root = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            root = node_hash(node, root)
        return root

    def copy(self) -> Frontier:
        return Frontier(self.size, self.nodes)

    def to_doc(self) -> dict[str, Any]:
        return {"size": self.size, "nodes": [n.hex() for n in self.nodes]}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Frontier:
        return cls(doc["size"], [bytes.fromhex(n) for n in doc["nodes"]])


class Tree:
    """Every leaf hash of a log, with the perfect subtrees' hashes computed once, so that a
    proof costs O(log² n) hashes however many are asked for."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def _hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end); ``start`` is aligned to the split, as in every range
        the RFC's recursions ask for."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0:
            return self.levels[n.bit_length() - 1][start >> (n.bit_length() - 1)]
        k = _split(n)
        return node_hash(self._hash(start, start + k), self._hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        return self._hash(0, self._size(size))

    def _size(self, size: int | None) -> int:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"the log has {self.size} leaves, not {size}")
        return size

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(index, D[size])."""
        size = self._size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start += k
        return proof[::-1]

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """RFC 6962 PROOF(old, D[new])."""
        new = self._size(new)
        if not 0 < old <= new:
            raise ValueError(f"no consistency proof from {old} to {new}")
        return self._subproof(old, 0, new, True)

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self._hash(start, end)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, start, start + k, whole) + [self._hash(start + k, end)]
        return self._subproof(m - k, start + k, end, False) + [self._hash(start, start + k)]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` put ``leaf`` at ``index`` of the tree of ``size``
    whose root is ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: does ``proof`` show the tree of ``old`` leaves (``old_root``) to be
    a prefix of the tree of ``new`` leaves (``new_root``)?"""
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node of the path
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


def consistency_from(old: Frontier, new_leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old.size, D[old.size + len(new_leaves)]) from the old tree's frontier and the
    leaves added since: what a sequencer proves between two checkpoints without the log.

    The proof's nodes left of the old size are always whole frontier nodes (the recursion
    splits the old tree along its binary decomposition); those right of it are built from
    the new leaves."""
    m, n = old.size, old.size + len(new_leaves)
    if m == 0:
        raise ValueError("no consistency proof from the empty tree")
    starts, start = {}, 0
    for node in old.nodes:
        size = 1 << ((m - start).bit_length() - 1)
        starts[(start, start + size)] = node
        start += size

    def mth(a: int, b: int) -> bytes:
        if b <= m:
            return starts[(a, b)]
        if b - a == 1:
            return new_leaves[a - m]
        k = _split(b - a)
        return node_hash(mth(a, a + k), mth(a + k, b))

    def subproof(k_old: int, a: int, b: int, whole: bool) -> list[bytes]:
        size = b - a
        if k_old == size:
            return [] if whole else [mth(a, b)]
        k = _split(size)
        if k_old <= k:
            return subproof(k_old, a, a + k, whole) + [mth(a + k, b)]
        return subproof(k_old - k, a + k, b, False) + [mth(a, a + k)]

    return subproof(m, 0, n, True)
