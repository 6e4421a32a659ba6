"""The Merkle tree against the published RFC 6962 test vectors (the 8-leaf tree of the
Certificate Transparency reference implementations), and proofs by property: every proof
verifies, every proof changed by a byte, a hash, an order or a length does not."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leitai.eventstore.merkle import (
    EMPTY_ROOT,
    Frontier,
    Tree,
    consistency_from,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]
ROOTS = [  # the root of the tree of the first 1..8 leaves
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, proof)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
TREE = Tree([leaf_hash(leaf) for leaf in LEAVES])


def test_the_empty_tree_has_the_hash_of_nothing():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert Frontier().root() == EMPTY_ROOT == Tree([]).root()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_the_reference_tree(size):
    frontier = Frontier()
    for leaf in LEAVES[:size]:
        frontier.append(leaf_hash(leaf))
    assert frontier.root().hex() == ROOTS[size - 1]
    assert TREE.root(size).hex() == ROOTS[size - 1]
    assert Frontier.from_doc(frontier.to_doc()).root() == frontier.root()


@pytest.mark.parametrize("index, size, proof", INCLUSION)
def test_inclusion_proofs_of_the_reference_tree(index, size, proof):
    assert [p.hex() for p in TREE.inclusion_proof(index, size)] == proof
    assert verify_inclusion(
        leaf_hash(LEAVES[index]), index, size, [bytes.fromhex(p) for p in proof], bytes.fromhex(ROOTS[size - 1])
    )


@pytest.mark.parametrize("old, new, proof", CONSISTENCY)
def test_consistency_proofs_of_the_reference_tree(old, new, proof):
    assert [p.hex() for p in TREE.consistency_proof(old, new)] == proof
    assert verify_consistency(
        old, new, bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1]), [bytes.fromhex(p) for p in proof]
    )


def _changed(proof: list[bytes], how: int, rng: random.Random) -> list[bytes] | None:
    """``proof`` with one thing changed (None when that change does not apply to it)."""
    proof = list(proof)
    if how == 0 and proof:  # one byte of one hash
        i, b = rng.randrange(len(proof)), rng.randrange(32)
        proof[i] = proof[i][:b] + bytes([proof[i][b] ^ (1 << rng.randrange(8))]) + proof[i][b + 1 :]
    elif how == 1 and proof:  # one hash replaced
        proof[rng.randrange(len(proof))] = leaf_hash(b"forged")
    elif how == 2 and len(proof) > 1 and len(set(proof)) > 1:  # two hashes swapped
        i, j = rng.sample(range(len(proof)), 2)
        if proof[i] == proof[j]:
            return None
        proof[i], proof[j] = proof[j], proof[i]
    elif how == 3 and proof:  # truncated
        proof = proof[:-1]
    elif how == 4:  # one hash too many
        proof = proof + [leaf_hash(b"extra")]
    else:
        return None
    return proof


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300), seed=st.integers(0, 2**32))
def test_every_inclusion_proof_verifies_and_no_changed_one_does(size, seed):
    rng = random.Random(seed)
    leaves = [leaf_hash(i.to_bytes(4, "big") + rng.randbytes(rng.randrange(0, 40))) for i in range(size)]
    tree, frontier = Tree(leaves), Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    root = tree.root()
    assert frontier.root() == root
    for index in {0, size - 1, rng.randrange(size)}:
        proof = tree.inclusion_proof(index)
        assert verify_inclusion(leaves[index], index, size, proof, root)
        for how in range(5):
            changed = _changed(proof, how, rng)
            if changed is not None:
                assert not verify_inclusion(leaves[index], index, size, changed, root), how
        assert not verify_inclusion(leaf_hash(b"another"), index, size, proof, root)
        if size > 1:
            assert not verify_inclusion(leaves[index], (index + 1) % size, size, proof, root)


@settings(max_examples=60, deadline=None)
@given(new=st.integers(1, 300), seed=st.integers(0, 2**32))
def test_every_consistency_proof_verifies_and_no_changed_one_does(new, seed):
    rng = random.Random(seed)
    leaves = [leaf_hash(rng.randbytes(8)) for _ in range(new)]
    tree = Tree(leaves)
    old = rng.randint(1, new)
    proof = tree.consistency_proof(old)
    old_root, new_root = tree.root(old), tree.root()
    assert verify_consistency(old, new, old_root, new_root, proof)
    for how in range(5):
        changed = _changed(proof, how, rng)
        if changed is not None:
            assert not verify_consistency(old, new, old_root, new_root, changed), how
    if old < new:
        # a log that rewrote its past: the same sizes, another old tree
        other = Tree([leaf_hash(b"rewritten")] + leaves[1:])
        assert not verify_consistency(old, new, other.root(old), new_root, proof)
        assert not verify_consistency(old, new, other.root(old), new_root, other.consistency_proof(old))


def test_proofs_outside_the_tree_are_refused():
    with pytest.raises(ValueError):
        TREE.inclusion_proof(8)
    with pytest.raises(ValueError):
        TREE.consistency_proof(0, 8)
    with pytest.raises(ValueError):
        TREE.consistency_proof(3, 9)
    assert not verify_inclusion(leaf_hash(LEAVES[0]), 0, 0, [], EMPTY_ROOT)
    assert not verify_consistency(5, 3, bytes(32), bytes(32), [])
    with pytest.raises(ValueError):
        Frontier(3, [bytes(32)])


@settings(max_examples=60, deadline=None)
@given(new=st.integers(1, 300), seed=st.integers(0, 2**32))
def test_a_consistency_proof_from_the_old_frontier_and_the_new_leaves_alone(new, seed):
    rng = random.Random(seed)
    leaves = [leaf_hash(rng.randbytes(8)) for _ in range(new)]
    old = rng.randint(1, new)
    frontier = Frontier()
    for leaf in leaves[:old]:
        frontier.append(leaf)
    assert consistency_from(frontier, leaves[old:]) == Tree(leaves).consistency_proof(old)
