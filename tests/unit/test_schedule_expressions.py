"""The local scheduler's reading of at(), rate() and AWS's six-field cron() expressions."""

from datetime import UTC, datetime, timedelta

import pytest

from infra.local.schedule_expressions import (
    InvalidExpression,
    Schedule,
    aws_cron,
    latest_due,
)

START = datetime(2026, 3, 2, 8, 0, 30, tzinfo=UTC)  # a Monday


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_at_is_due_once_from_its_time_in_its_timezone() -> None:
    schedule = Schedule("at(2026-03-02T09:15:00)")
    due = at(2026, 3, 2, 9, 15)
    # THEN nothing is due before its time, and its time is due from then on, once
    assert latest_due(schedule, None, due - timedelta(seconds=1)) is None
    assert latest_due(schedule, None, due) == due
    assert latest_due(schedule, None, due + timedelta(hours=5)) == due
    assert latest_due(schedule, due, due + timedelta(hours=5)) is None
    # AND a time in another zone is that zone's wall clock (Paris is UTC+1 in March)
    paris = Schedule("at(2026-03-02T09:15:00)", "Europe/Paris")
    assert latest_due(paris, None, at(2026, 3, 2, 9, 0)) == at(2026, 3, 2, 8, 15)


def test_rate_is_due_every_period_from_its_start_with_no_catch_up() -> None:
    schedule = Schedule("rate(5 minutes)", start=START)
    # THEN the first firing is one period after the start
    assert latest_due(schedule, None, START + timedelta(minutes=4, seconds=59)) is None
    first = latest_due(schedule, None, START + timedelta(minutes=5))
    assert first == START + timedelta(minutes=5)
    # AND after an hour unseen, only the latest due time fires, once
    late = latest_due(schedule, first, START + timedelta(hours=1, minutes=2))
    assert late == START + timedelta(hours=1)
    assert latest_due(schedule, late, START + timedelta(hours=1, minutes=2)) is None
    # AND singular units are read too
    assert latest_due(Schedule("rate(1 hour)", start=START), None, START + timedelta(hours=1))


def test_cron_counts_days_of_week_from_sunday_as_one() -> None:
    # GIVEN 10:00 on MON-FRI written as AWS does (2-6), and "the last Friday" (6L)
    weekdays = Schedule("cron(0 10 ? * 2-6 *)", start=START)
    last_friday = Schedule("cron(0 10 ? * 6L *)", start=START)
    second_tuesday = Schedule("cron(0 10 ? * 3#2 *)", start=START)
    saturday = at(2026, 3, 7, 12)
    # THEN on Saturday the latest due time is Friday's
    assert latest_due(weekdays, None, saturday) == at(2026, 3, 6, 10)
    assert latest_due(last_friday, None, at(2026, 4, 1)) == at(2026, 3, 27, 10)
    assert latest_due(second_tuesday, None, at(2026, 3, 31)) == at(2026, 3, 10, 10)
    # AND names mean the same days
    names = Schedule("cron(0 10 ? * MON-FRI *)", start=START)
    assert latest_due(names, None, saturday) == at(2026, 3, 6, 10)


def test_cron_fires_at_most_once_per_look_and_not_before_its_start() -> None:
    every_minute = Schedule("cron(* * * * ? *)", start=START)
    # THEN nothing is due at its start (08:00:30: 08:00 is before it)
    assert latest_due(every_minute, None, START) is None
    # AND twenty minutes later one firing, the latest minute
    late = latest_due(every_minute, None, START + timedelta(minutes=20))
    assert late == at(2026, 3, 2, 8, 20)
    assert latest_due(every_minute, late, late + timedelta(seconds=59)) is None


def test_cron_honours_its_year_field_and_the_end_date() -> None:
    only_2027 = Schedule("cron(0 0 1 1 ? 2027)", start=START)
    assert latest_due(only_2027, None, at(2026, 12, 31)) is None
    assert latest_due(only_2027, None, at(2028, 6, 1)) == at(2027, 1, 1)
    ended = Schedule("cron(0 12 * * ? *)", start=START, end=at(2026, 3, 3))
    assert latest_due(ended, None, at(2026, 3, 10)) == at(2026, 3, 2, 12)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 10 * * *)", "six fields"),
        ("cron(0 10 * * 2 *)", "must be '?'"),
        ("cron(0 10 ? * ? *)", "must be '?'"),
        ("cron(0 10 ? * 8 *)", "not a day of the week"),
        ("cron(0 10 ? * 2 1900)", "years run from 1970"),
        ("cron(61 10 ? * 2 *)", "not a valid cron"),
        ("rate(5 fortnights)", "not an at(), rate() or cron()"),
        ("at(2026-03-02 09:15)", "not an at(), rate() or cron()"),
    ],
)
def test_expressions_aws_refuses_are_refused_with_the_reason(expression: str, message: str) -> None:
    with pytest.raises(InvalidExpression, match=message.replace("(", r"\(").replace(")", r"\)")):
        latest_due(Schedule(expression, start=START), None, START + timedelta(days=1))


def test_aws_cron_translation() -> None:
    assert aws_cron("0/15 8-17 ? * MON-FRI *") == ("0/15 8-17 * * 1-5", aws_cron("0 0 1 1 ? *")[1])
    assert aws_cron("0 9 ? * 1,7 2026-2027")[0] == "0 9 * * 0,6"
    assert aws_cron("0 9 ? * 1,7 2026-2027")[1] == frozenset({2026, 2027})
    assert aws_cron("0 9 L * ? *")[0] == "0 9 L * *"
