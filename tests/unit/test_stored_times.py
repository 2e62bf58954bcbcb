"""Stored times: fixed-width text that sorts as the times do (GET /tasks compares them)."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

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
    # THEN their stored text compares as the moments do (DynamoDB compares text)
    assert (timestamp(a) < timestamp(b)) == (a < b)
    assert (timestamp(a) == timestamp(b)) == (a == b)


def test_a_whole_second_keeps_its_microseconds() -> None:
    # isoformat() alone would drop them, and "…:07+00:00" is shorter than its neighbours
    assert timestamp(datetime(2026, 11, 30, 1, 19, 7, tzinfo=UTC)) == (
        "2026-11-30T01:19:07.000000+00:00"
    )
