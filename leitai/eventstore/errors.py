"""Typed errors of the event store; callers map them at their own boundary."""


class EventStoreError(Exception):
    pass


class ConcurrencyConflict(EventStoreError):
    """Another append reached the stream first; nothing was written."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int | None) -> None:
        super().__init__(
            f"stream {stream_id!r}: expected version {expected_version}, "
            f"found {'unknown' if actual_version is None else actual_version}"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class EventIdReused(EventStoreError):
    """An event id already stored was sent again in a different append."""


class CorruptRecord(EventStoreError):
    """A stored record no longer satisfies its contract."""
