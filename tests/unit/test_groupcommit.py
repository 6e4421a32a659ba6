"""Group commit (leitai/eventstore/groupcommit.py): writes that arrive while one is in flight
go together in the next, and each caller gets its own outcome."""

from __future__ import annotations

import threading

import pytest

from leitai.eventstore.groupcommit import GroupCommit


class Refused(Exception):
    pass


class Store:
    """A write that holds its first group until released, so that the test knows what waits."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.down = False

    def write(self, items: list[int]) -> list[str | Exception]:
        self.groups.append(items)
        if len(self.groups) == 1:
            self.entered.set()
            self.release.wait()
        if self.down:
            raise ConnectionError("the store did not answer")
        return [Refused(f"{i} refused") if i % 5 == 0 else f"stored {i}" for i in items]


def submit_while_the_first_is_in_flight(store: Store, group: GroupCommit, items: list[int]) -> dict[int, object]:
    outcomes: dict[int, object] = {}

    def submit(item: int) -> None:
        try:
            outcomes[item] = group.submit(item)
        except Exception as exc:  # noqa: BLE001 - each caller's own outcome is what is checked
            outcomes[item] = exc

    first = threading.Thread(target=submit, args=(items[0],))
    first.start()
    store.entered.wait()
    others = [threading.Thread(target=submit, args=(i,)) for i in items[1:]]
    for thread in others:
        thread.start()
    with group._changed:  # every other write is queued behind the one in flight
        group._changed.wait_for(lambda: len(group._queue) == len(items) - 1)
    store.release.set()
    for thread in [first, *others]:
        thread.join()
    return outcomes


def test_writes_that_arrive_while_one_is_in_flight_go_together_each_answered_on_its_own():
    store = Store()
    group: GroupCommit[int, str] = GroupCommit(store.write)
    outcomes = submit_while_the_first_is_in_flight(store, group, [1, 2, 3, 4, 5])
    assert store.groups[0] == [1] and sorted(store.groups[1]) == [2, 3, 4, 5] and len(store.groups) == 2
    assert {i: o for i, o in outcomes.items() if i != 5} == {1: "stored 1", 2: "stored 2", 3: "stored 3", 4: "stored 4"}
    assert isinstance(outcomes[5], Refused)  # refused alone: the others of its group are stored


def test_a_group_is_never_larger_than_its_limit():
    store = Store()
    group: GroupCommit[int, str] = GroupCommit(store.write, limit=2)
    submit_while_the_first_is_in_flight(store, group, [1, 2, 3, 4, 6])
    assert [len(g) for g in store.groups] == [1, 2, 2]


def test_a_write_that_fails_whole_is_the_outcome_of_every_caller_in_its_group_and_the_next_goes_on():
    store = Store()
    store.down = True
    group: GroupCommit[int, str] = GroupCommit(store.write)
    outcomes = submit_while_the_first_is_in_flight(store, group, [1, 2, 3])
    assert all(isinstance(o, ConnectionError) for o in outcomes.values())
    store.down = False
    assert group.submit(7) == "stored 7"


def test_an_idle_writer_writes_at_once():
    store = Store()
    store.release.set()
    group: GroupCommit[int, str] = GroupCommit(store.write)
    assert [group.submit(1), group.submit(2)] == ["stored 1", "stored 2"]
    assert store.groups == [[1], [2]]
    with pytest.raises(Refused):
        group.submit(10)
