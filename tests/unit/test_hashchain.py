from leitai.canonical import canonical_json
from leitai.eventstore.hashchain import GENESIS, chain_hash


def test_canonical_json_ignores_key_order_and_keeps_chinese_text():
    assert canonical_json({"b": 1, "a": "去掉一个最高分"}) == canonical_json({"a": "去掉一个最高分", "b": 1})
    assert "去掉".encode() in canonical_json({"a": "去掉"})


def test_the_chain_depends_on_the_previous_link_and_on_every_field():
    first = chain_hash(GENESIS, canonical_json({"x": 1}))
    assert chain_hash(first, canonical_json({"x": 1})) != first
    assert chain_hash(GENESIS, canonical_json({"x": 2})) != first
    assert chain_hash(GENESIS, canonical_json({"x": 1})) == first
