"""The event store's contract, as one suite every backend must pass: MongoDB (the stand-in
and any real MongoDB) and the in-memory twin the fast service-layer tests use.

Subclasses provide two fixtures: ``records``, a fresh CommitLog on the backend under test,
and ``tamper``, a :class:`tests.support.tamper.Tamper` that edits its stored records the way
an intruder with write access to the store would.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest

from leitai.contracts import InvalidPayload, NewEvent, UnknownEventType
from leitai.eventstore import ConcurrencyConflict, CorruptRecord, EventIdReused, EventStore, Sequencer
from leitai.eventstore.checkpoints import InconsistentCheckpoint, Notary, public
from leitai.eventstore.merkle import Tree, leaf_hash, verify_consistency, verify_inclusion
from leitai.eventstore.notes import Checkpoint, Signer
from leitai.eventstore.records import DuplicateCommit, Head, commit_leaves, commits_in_order, event_records
from leitai.eventstore.sequencer import event_hashes
from leitai.eventstore.verify import verify
from testkit.ledger import REGISTRY, deposit

SIGNER = Signer.generate("ledger.test")


class EventStoreConformance:
    @pytest.fixture
    def store(self, records):
        return EventStore(records, REGISTRY)

    @pytest.fixture
    def sequencer(self, records, store):
        sequencer = Sequencer(records, owner="test-sequencer")
        assert sequencer.acquire()
        return sequencer

    @staticmethod
    def sequence_all(sequencer: Sequencer) -> None:
        while sequencer.sequence(limit=100):
            pass

    # -- append and read -------------------------------------------------------------
    def test_appended_events_read_back_in_version_order(self, store):
        result = store.append("account-1", 0, [deposit("A", "1.00"), deposit("A", "2.50")])
        store.append("account-1", 2, [deposit("A", "3.00")])
        events = store.read_stream("account-1")
        assert (result.first_version, result.last_version) == (1, 2)
        assert [e.stream_version for e in events] == [1, 2, 3]
        assert [str(e.payload["amount"]) for e in events] == ["1.00", "2.50", "3.00"]
        assert store.read_stream("account-1", after_version=2)[0].stream_version == 3
        assert store.stream_version("account-1") == 3 and store.stream_version("nobody") == 0

    def test_eight_threads_racing_on_one_version_one_wins_and_the_rest_conflict(self, store):
        store.append("hot", 0, [deposit("A", "1.00")])
        barrier = threading.Barrier(8)
        outcomes: list[object] = []

        def contender(n: int) -> None:
            barrier.wait()
            try:
                outcomes.append(store.append("hot", 1, [deposit("A", f"{n + 1}.00")]))
            except ConcurrencyConflict as conflict:
                outcomes.append(conflict)

        threads = [threading.Thread(target=contender, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [o for o in outcomes if not isinstance(o, ConcurrencyConflict)]
        assert len(outcomes) == 8 and len(winners) == 1
        assert all(isinstance(o, ConcurrencyConflict) and o.expected_version == 1 for o in outcomes if o not in winners)
        assert [e.stream_version for e in store.read_stream("hot")] == [1, 2]

    def test_a_stale_expected_version_conflicts_and_writes_nothing(self, store, tamper):
        store.append("s", 0, [deposit("A", "1.00"), deposit("A", "1.00")])
        for stale in (0, 1, 3):
            with pytest.raises(ConcurrencyConflict):
                store.append("s", stale, [deposit("A", "9.00")])
        assert tamper.count() == 1

    def test_an_append_after_a_version_it_read_is_one_insert_and_no_read(self, records):
        store = EventStore(records, REGISTRY)
        store.append("s", 0, [deposit("A", "1.00")])
        counted = _Counting(records)
        fresh = EventStore(counted, REGISTRY)  # another process: it has not seen the stream
        with pytest.raises(ConcurrencyConflict):
            fresh.append("s", 2, [deposit("A", "9.00")])  # a gap: refused after one read
        assert counted.calls[0] == "exists" and "insert_each" not in counted.calls
        fresh.read_stream("s")
        counted.calls.clear()
        fresh.append("s", 1, [deposit("A", "2.00")])
        fresh.append("s", 2, [deposit("A", "3.00")])
        assert counted.calls == ["insert_each", "insert_each"]
        with pytest.raises(ConcurrencyConflict):
            store.append("s", 1, [deposit("A", "9.00")])  # stale in the first store: the index refuses it
        assert [e.stream_version for e in fresh.read_stream("s")] == [1, 2, 3]

    def test_commits_stored_in_one_write_are_each_answered_on_their_own(self, records):
        store = EventStore(records, REGISTRY)
        first = store.commit("a", 0, [deposit("A", "1.00")])
        racing = store.commit("a", 0, [deposit("A", "2.00")])  # after the same version as ``first``
        other = store.commit("b", 0, [deposit("B", "1.00")])
        reused = store.commit("c", 0, [deposit("C", "1.00", event_id=uuid.UUID(first["events"][0]["event_id"]))])
        outcomes = records.insert_each([first, racing, other, reused])
        assert outcomes[0] is None and outcomes[2] is None
        assert isinstance(outcomes[1], DuplicateCommit) and isinstance(outcomes[3], DuplicateCommit)
        assert [e.payload["amount"] for e in store.read_stream("a")] == [Decimal("1.00")]
        assert store.stream_version("b") == 1 and store.stream_version("c") == 0

    def test_a_stream_read_again_is_read_and_parsed_only_after_its_sequenced_prefix(self, records, sequencer):
        counted = _Counting(records)
        store = EventStore(counted, REGISTRY)
        store.append("s", 0, [deposit("A", "1.00"), deposit("A", "2.00")])
        store.append("s", 2, [deposit("A", "3.00")])
        first = store.read_stream("s")  # nothing sequenced yet: nothing held
        self.sequence_all(sequencer)
        assert store.read_stream("s") == [e for e in EventStore(records, REGISTRY).read_stream("s")]
        store.append("s", 3, [deposit("A", "4.00")])
        counted.calls.clear()
        counted.after.clear()
        again = store.read_stream("s")
        assert [e.stream_version for e in again] == [1, 2, 3, 4] and again[:3] != first  # positions now
        assert [str(e.payload["amount"]) for e in again] == ["1.00", "2.00", "3.00", "4.00"]
        assert [e.stream_version for e in store.read_stream("s", after_version=2)] == [3, 4]
        assert counted.calls == ["stream_commits", "stream_commits"]
        assert counted.after == [3, 3]  # only what follows the sequenced prefix was asked for

    def test_resending_an_append_returns_the_original_outcome_and_stores_nothing(self, store, tamper):
        event = deposit("A", "5.00")
        first = store.append("s", 0, [event])
        again = store.append("s", 0, [event])
        later = store.append("s", 7, [event])  # even with a version that would conflict
        assert (again.first_version, again.event_ids, again.duplicate) == (1, first.event_ids, True)
        assert later == again
        assert tamper.count() == 1

    def test_an_outcome_is_kept_with_its_commit_and_found_by_any_of_its_event_ids(self, store):
        first, second, plain = deposit("A", "5.00"), deposit("A", "1.00"), deposit("A", "2.00")
        store.append("s", 0, [first, second], outcome={"fingerprint": "f", "answer": '{"balance": "6.00"}'})
        store.append("s", 2, [plain])
        assert (
            store.outcome_of(first.event_id)
            == store.outcome_of(second.event_id)
            == {"fingerprint": "f", "answer": '{"balance": "6.00"}'}
        )
        assert store.outcome_of(plain.event_id) is None
        assert store.outcome_of(deposit("B", "1.00").event_id) is None

    def test_an_event_id_cannot_be_reused_in_another_append(self, store):
        event = deposit("A", "5.00")
        store.append("s", 0, [event])
        with pytest.raises(EventIdReused):
            store.append("other", 0, [event])
        with pytest.raises(EventIdReused):
            store.append("s", 1, [event, deposit("A", "1.00")])

    def test_a_payload_failing_its_contract_is_refused_and_nothing_is_written(self, store, tamper):
        with pytest.raises(InvalidPayload):
            store.append("s", 0, [deposit("A", "1.00"), deposit("A", "-3")])
        with pytest.raises(UnknownEventType):
            store.append("s", 0, [deposit("A", "1.00").__class__("Stolen", {}, actor="x")])
        assert tamper.count() == 0

    def test_a_stored_payload_that_no_longer_fits_its_contract_is_refused_on_read(self, store, tamper):
        store.append("s", 0, [deposit("A", "1.00")])
        tamper.set(tamper.commit()["_id"], {"events.0.payload.amount": "lots"})
        with pytest.raises(CorruptRecord):
            store.read_stream("s")

    def test_a_stored_old_version_is_upcast_on_read(self, store, tamper):
        store.append("s", 0, [deposit("A", "1.00")])
        tamper.set(
            tamper.commit()["_id"], {"events.0.schema_version": 1, "events.0.payload": {"account": "A", "cents": 1234}}
        )
        [event] = store.read_stream("s")
        assert (event.schema_version, str(event.payload["amount"])) == (2, "12.34")

    def test_read_all_stored_gives_payloads_as_stored_and_old_versions_upcast(self, store, sequencer, tamper):
        store.append("s", 0, [deposit("A", "1.50"), deposit("B", "2.00")])
        tamper.set(
            tamper.commit()["_id"], {"events.1.schema_version": 1, "events.1.payload": {"account": "B", "cents": 725}}
        )
        self.sequence_all(sequencer)
        [events] = list(store.read_all_stored())
        assert [(e.type, e.position) for e in events] == [("DepositMade", 1), ("DepositMade", 2)]
        assert events[0].payload == {"account": "A", "amount": "1.50", "memo": ""}
        assert events[1].payload["amount"] == "7.25"  # upcast to the current version, in JSON form
        assert list(store.read_all_stored(after_position=1))[0] == [events[1]]
        tamper.set(tamper.commit()["_id"], {"events.0.type": "Stolen"})
        with pytest.raises(CorruptRecord):
            list(store.read_all_stored())
        with pytest.raises(CorruptRecord):
            store.check(1)

    # -- global order ------------------------------------------------------------------
    def test_read_all_gives_every_event_once_in_gap_free_order_respecting_each_stream(self, store, sequencer):
        def appender(stream: str) -> None:
            for version in range(5):
                store.append(stream, version, [deposit("A", "1.00")])

        threads = [threading.Thread(target=appender, args=(f"s{n}",)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert list(store.read_all()) == []  # nothing is read before it is sequenced
        self.sequence_all(sequencer)
        batches = list(store.read_all(batch_size=7))
        events = [e for batch in batches for e in batch]
        assert len(batches) > 1
        assert [e.position for e in events] == list(range(1, 31))
        per_stream = defaultdict(list)
        for event in events:
            per_stream[event.stream_id].append(event.stream_version)
        assert all(versions == [1, 2, 3, 4, 5] for versions in per_stream.values()) and len(per_stream) == 6
        assert [e.position for b in store.read_all(after_position=25) for e in b] == [26, 27, 28, 29, 30]
        assert store.head_position() == 30

    def test_only_one_sequencer_holds_the_lease(self, records, sequencer):
        assert not Sequencer(records, owner="another").acquire()
        sequencer.release()
        assert Sequencer(records, owner="another").acquire()

    # -- tamper evidence ---------------------------------------------------------------
    @pytest.fixture
    def sealed_log(self, store, sequencer):
        for n in range(4):
            store.append(f"s{n % 2}", 2 * (n // 2), [deposit("A", "1.00"), deposit("A", "2.00")])
        self.sequence_all(sequencer)
        sequencer.seal()
        return store

    def test_an_untouched_store_verifies(self, records, sealed_log):
        report = verify(records, REGISTRY)
        assert report.ok, report.first_bad
        assert (report.checked_commits, report.head_position, report.seals_checked) == (4, 8, 1)

    def test_editing_one_stored_payload_names_that_record(self, records, tamper, sealed_log):
        target = tamper.commit(first_position=5)
        tamper.set(target["_id"], {"events.1.payload.amount": "2000.00"})
        report = verify(records, REGISTRY)
        assert not report.ok
        assert report.first_bad.position == 6
        assert report.first_bad.event_id == target["events"][1]["event_id"]
        assert "hash" in report.first_bad.reason

    def test_a_deleted_tail_is_caught_by_the_seal(self, records, tamper, sealed_log):
        tamper.delete(tamper.commit(first_position=7)["_id"])
        report = verify(records, REGISTRY)
        assert not report.ok and "tail deleted" in report.first_bad.reason

    def test_a_tail_lost_after_the_last_seal_is_caught_by_the_recorded_head(
        self, records, tamper, store, sequencer, sealed_log
    ):
        store.append("s9", 0, [deposit("A", "1.00")])
        store.append("s9", 1, [deposit("A", "2.00")])
        self.sequence_all(sequencer)  # no seal since: only the head the sequencer records covers 9 and 10
        assert verify(records, REGISTRY).ok
        tamper.delete(tamper.commit(first_position=10)["_id"])
        report = verify(records, REGISTRY)
        assert not report.ok and report.first_bad.position == 10 and "tail deleted or lost" in report.first_bad.reason

    def test_a_deleted_record_in_the_middle_is_named(self, records, tamper, sealed_log):
        tamper.delete(tamper.commit(first_position=3)["_id"])
        report = verify(records, REGISTRY)
        assert not report.ok and report.first_bad.position == 5 and "missing" in report.first_bad.reason

    # -- checkpoints -----------------------------------------------------------------
    @pytest.fixture
    def notarised(self, records, store):
        """A sequencer that signs a checkpoint at every seal, and at once after an AccountOpened."""
        sequencer = Sequencer(
            records,
            owner="notary",
            seal_interval=3600,
            notary=Notary(records, SIGNER, "ledger.test/bank", urgent={"AccountOpened"}),
        )
        assert sequencer.acquire()
        return sequencer

    def _grow(self, store, sequencer, streams: range, seal: bool = True) -> None:
        for n in streams:
            store.append(f"c{n}", 0, [deposit("A", "1.00"), deposit("A", "2.00")][: 1 + n % 2])
        self.sequence_all(sequencer)
        if seal:
            sequencer.seal()

    def test_each_seal_signs_a_checkpoint_proved_consistent_with_the_one_before(self, records, store, notarised):
        for streams in (range(0, 3), range(3, 4), range(4, 7), range(9, 12)):  # 4, 2, 4 and 5 events
            self._grow(store, notarised, streams)
        notarised.seal()  # nothing new: no checkpoint
        checkpoints = records.checkpoints()
        leaves = [leaf for batch in commits_in_order(records) for c in batch for leaf in commit_leaves(c)]
        tree = Tree(leaves)
        assert [c["size"] for c in checkpoints] == [4, 6, 10, 15] == sorted({c["size"] for c in checkpoints})
        for earlier, checkpoint in zip([None, *checkpoints], checkpoints, strict=False):
            signed = Checkpoint.parse(SIGNER.verifier.open(checkpoint["note"]))
            assert (signed.origin, signed.size, signed.root) == (
                "ledger.test/bank",
                checkpoint["size"],
                tree.root(checkpoint["size"]),
            )
            if earlier is None:
                assert "consistency" not in checkpoint
                continue
            proof = checkpoint["consistency"]
            assert proof["from"] == earlier["size"]
            assert verify_consistency(
                earlier["size"],
                checkpoint["size"],
                bytes.fromhex(earlier["root"]),
                signed.root,
                [bytes.fromhex(p) for p in proof["proof"]],
            )
        assert records.latest_checkpoint()["size"] == 15
        assert records.checkpoint_at_least(5)["size"] == 6 and records.checkpoint_at_least(6)["size"] == 6
        assert records.checkpoint_at_least(16) is None and [c["size"] for c in records.checkpoints(6, 1)] == [10]
        for position in (1, 7, 15):  # each event is provably in the latest tree
            assert verify_inclusion(
                leaves[position - 1], position - 1, 15, tree.inclusion_proof(position - 1), tree.root()
            )
        assert verify(records, REGISTRY, [SIGNER.verifier]).checkpoints_checked == 4

    def test_a_witness_gets_a_proof_from_any_checkpoint_and_its_cosignatures_are_kept(self, records, store):
        notary = Notary(records, SIGNER, "ledger.test/bank")
        sequencer = Sequencer(records, owner="notary", seal_interval=3600, notary=notary)
        assert sequencer.acquire()
        for streams in (range(0, 3), range(3, 4), range(4, 7)):  # checkpoints of 4, 6 and 10
            self._grow(store, sequencer, streams)
        latest = records.latest_checkpoint()
        assert latest["cosignatures"] == [] == public(latest)["cosignatures"]
        first = records.checkpoint_at_least(1)
        # from a checkpoint two back (the one a witness cosigned before it was down)
        proof = notary.proof_from(latest, first["size"])
        assert verify_consistency(4, 10, bytes.fromhex(first["root"]), bytes.fromhex(latest["root"]), proof)
        with pytest.raises(LookupError, match="no checkpoint of size 5"):
            notary.proof_from(latest, 5)
        records.add_cosignatures(10, ["— witness.a AAAA"])
        records.add_cosignatures(10, ["— witness.a AAAA", "— witness.b BBBB"])
        assert records.latest_checkpoint()["cosignatures"] == ["— witness.a AAAA", "— witness.b BBBB"]
        assert public(records.latest_checkpoint())["cosignatures"] == ["— witness.a AAAA", "— witness.b BBBB"]

    def test_an_urgent_event_is_checkpointed_with_its_batch(self, records, store, notarised):
        self._grow(store, notarised, range(2), seal=False)
        assert records.latest_checkpoint() is None
        store.append("c9", 0, [NewEvent("AccountOpened", {"account": "B", "holder": "B"}, actor="teller")])
        self.sequence_all(notarised)
        checkpoint = records.latest_checkpoint()
        assert (checkpoint["size"], checkpoint["reason"]) == (4, "publication")

    def test_a_sequencer_taking_over_extends_the_same_tree(self, records, store, notarised):
        self._grow(store, notarised, range(3))
        notarised.release()
        successor = Sequencer(
            records, owner="successor", seal_interval=3600, notary=Notary(records, SIGNER, "ledger.test/bank")
        )
        assert successor.acquire()
        self._grow(store, successor, range(3, 6))
        sizes = [c["size"] for c in records.checkpoints()]
        assert sizes == [4, 9] and verify(records, REGISTRY, [SIGNER.verifier]).ok

    def test_a_log_rewritten_with_its_chain_gets_no_further_checkpoint_and_fails_verify(
        self, records, store, notarised, tamper
    ):
        self._grow(store, notarised, range(4))
        # an intruder rewrites an amount and recomputes every hash and leaf after it, and the
        # sequencer's recorded head, consistently
        previous = None
        for batch in commits_in_order(records):
            for commit in batch:
                if commit["first_position"] == 1:
                    commit["events"][0]["payload"]["amount"] = "1000.00"
                    previous = commit["prev_hash"]
                records_ = event_records(commit, commit["first_position"])
                hashes = event_hashes(records_, previous)
                tamper.set(
                    commit["_id"],
                    {
                        "events": commit["events"],
                        "prev_hash": previous,
                        "hashes": hashes,
                        "hash": hashes[-1],
                        "leaves": [leaf_hash(r).hex() for r in records_],
                    },
                )
                previous = hashes[-1]
        rewritten_head = Head()
        for batch in commits_in_order(records):
            for commit in batch:
                rewritten_head.advance(commit)
        records.record_head(rewritten_head.to_doc())
        report = verify(records, REGISTRY)
        assert not report.ok and "checkpoint" in report.first_bad.reason and report.first_bad.position == 6
        fresh = Sequencer(
            records, owner="after-the-rewrite", seal_interval=3600, notary=Notary(records, SIGNER, "ledger.test/bank")
        )
        notarised.release()
        assert fresh.acquire()
        store.append("c99", 0, [deposit("A", "1.00")])
        with pytest.raises(InconsistentCheckpoint):
            self.sequence_all(fresh)
            fresh.seal()
        assert records.latest_checkpoint()["size"] == 6

    def test_a_forged_checkpoint_fails_verify_with_the_key(self, records, store, notarised):
        self._grow(store, notarised, range(2))
        forged = Signer.generate("ledger.test")
        checkpoint = records.latest_checkpoint()
        records.add_checkpoint(
            dict(checkpoint, _id=99, size=99, note=forged.sign(Checkpoint("ledger.test/bank", 99, bytes(32)).body()))
        )
        report = verify(records, REGISTRY, [SIGNER.verifier])
        assert not report.ok and report.first_bad.position == 99 and "signature" in report.first_bad.reason


class _Counting:
    """A CommitLog that notes which of its methods were called."""

    def __init__(self, records) -> None:
        self._records = records
        self.calls: list[str] = []
        self.after: list[int] = []  # what each stream_commits asked for

    def __getattr__(self, name: str):
        method = getattr(self._records, name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            if name == "stream_commits":
                self.after.append(args[1])
            return method(*args, **kwargs)

        return counted
