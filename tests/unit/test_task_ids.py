"""Task ids: the task table's sort key, so their text order must be the order of sending."""

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from app.tasks import task_ids
from app.tasks.task_ids import new_task_id


def test_ids_made_one_after_another_sort_in_that_order() -> None:
    # GIVEN many ids made in a burst, most within the same millisecond
    ids = [new_task_id() for _ in range(10_000)]
    # THEN text order is the order they were made in, and none repeats
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_an_id_is_a_uuid7_carrying_its_time_in_milliseconds() -> None:
    # WHEN an id is made
    before = time.time_ns() // 1_000_000
    task_id = new_task_id()
    after = time.time_ns() // 1_000_000
    # THEN it is 32 lowercase hex digits that read as an RFC 9562 version 7 UUID
    parsed = uuid.UUID(hex=task_id)
    assert parsed.hex == task_id
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    # AND its first 48 bits are the time it was made
    assert before <= int(task_id[:12], 16) <= after


@given(st.integers(min_value=0, max_value=2**48 - 2), st.integers(min_value=0, max_value=4095))
def test_a_clock_that_stands_still_or_steps_back_keeps_the_order(start: int, counter: int) -> None:
    # GIVEN the generator's last id at any time and count within its millisecond
    task_ids._last_millis, task_ids._counter = start, counter
    previous = f"{start:012x}"
    # WHEN ids are made while the real clock is behind it
    ids = [new_task_id() for _ in range(5)]
    # THEN each is still greater than the last: a full counter borrows the next millisecond
    assert all(task_id > previous for task_id in ids)
    assert ids == sorted(ids)
    task_ids._last_millis, task_ids._counter = 0, 0
