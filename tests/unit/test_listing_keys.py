"""The listing index's sort key and cursor: text that sorts as times do, keys bound to owners."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.tasks.listing import InvalidCursor, decode_cursor, encode_cursor
from app.tasks.status import timestamp

moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)


@given(moments, moments)
def test_created_times_sort_as_text_in_time_order(a: datetime, b: datetime) -> None:
    # GIVEN any two moments, in any zone, with or without microseconds
    # THEN their stored text compares as the moments do (the index sorts text)
    assert (timestamp(a) < timestamp(b)) == (a < b)
    assert (timestamp(a) == timestamp(b)) == (a == b)


def test_a_whole_second_keeps_its_microseconds() -> None:
    # isoformat() alone would drop them, and "…:07+00:00" is shorter than its neighbours
    assert timestamp(datetime(2026, 11, 30, 1, 19, 7, tzinfo=UTC)) == (
        "2026-11-30T01:19:07.000000+00:00"
    )


def test_a_cursor_names_the_entry_it_was_made_from() -> None:
    key = {
        "task_id": {"S": "abc"},
        "owner": {"S": "alice"},
        "created_at": {"S": "2026-11-30T01:19:07.000000+00:00"},
    }
    assert decode_cursor(encode_cursor(key), "alice") == key
    with pytest.raises(InvalidCursor, match="another caller's listing"):
        decode_cursor(encode_cursor(key), "bob")
