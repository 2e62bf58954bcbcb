"""EventBridge Scheduler's rate and cron expressions, checked where a periodic task is declared."""

import pytest

from app.tasks.schedule_expression import InvalidScheduleExpression, validate


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
        "cron(15 3 * * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0 9 ? * MON-FRI *)",
        "cron(0 18 ? * 6L 2026-2030)",
        "cron(0 10 L * ? *)",
        "cron(0 10 15W * ? *)",
        "cron(30 8 ? * 2#1 *)",
        "cron(0 0,12 1 JAN,jul ? *)",
        "cron(5-10 * ? * SUN *)",
    ],
)
def test_expressions_aws_accepts_are_accepted(expression: str) -> None:
    # WHEN a valid expression is checked THEN it comes back unchanged
    assert validate(expression) == expression


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("every 5 minutes", r"'rate\(value unit\)' or 'cron\("),
        ("rate(5 minute)", r"write rate\(5 minutes\)"),
        ("rate(1 minutes)", r"write rate\(1 minute\)"),
        ("rate(0 hours)", "positive integer"),
        ("rate(1.5 hours)", "positive integer"),
        ("rate(2 weeks)", "minute\\(s\\), hour\\(s\\) or day\\(s\\)"),
        ("rate(5  minutes)", "write rate"),
        ("cron(0 12 * * ?)", "six fields"),
        ("cron(0 12 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 12 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(60 12 * * ? *)", "minutes '60' must be 0-59"),
        ("cron(0 24 * * ? *)", "hours '24' must be 0-23"),
        ("cron(0 12 32 * ? *)", "day-of-month '32' must be 1-31"),
        ("cron(0 12 * 13 ? *)", "month '13' must be 1-12 or JAN-DEC"),
        ("cron(0 12 ? * 8 *)", "day-of-week '8' must be 1-7 or SUN-SAT"),
        ("cron(0 12 ? * 2#6 *)", "1st to 5th weekday"),
        ("cron(0 12 * * ? 1969)", "year '1969' must be 1970-2199"),
        ("cron(? 12 * * ? *)", "minutes '\\?' cannot be '\\?'"),
        ("cron(0/0 12 * * ? *)", "step that is not a positive integer"),
    ],
)
def test_a_mistake_is_refused_with_what_to_fix(expression: str, message: str) -> None:
    # WHEN an expression AWS would refuse is checked THEN the error says what is wrong
    with pytest.raises(InvalidScheduleExpression, match=message):
        validate(expression)
