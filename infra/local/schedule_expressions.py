"""EventBridge Scheduler's schedule expressions, evaluated for the local scheduler (pure).

``at(yyyy-mm-ddThh:mm:ss)`` once, ``rate(N minute[s]|hour[s]|day[s])`` every N units from the
schedule's start, and ``cron(minutes hours day-of-month month day-of-week year)``, AWS's
six-field cron: ``?`` in one of the day fields, day-of-week 1-7 from Sunday, ``L``, ``W`` and
``#``, a year field. Cron is evaluated by croniter after a translation of the day-of-week
field (croniter counts 0-6 from Sunday and writes "last Friday" ``L5``) and without the year,
which is checked here.

``latest_due`` answers the one question the scheduler asks: the latest time this expression
was due in ``(since, now]``, if any; occurrences missed in between are not caught up on, as
EventBridge Scheduler does not replay them either.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MAX_YEAR = 2199


class InvalidExpression(ValueError):
    """Not an expression EventBridge Scheduler accepts (or the local scheduler knows)."""


@dataclass(frozen=True)
class Schedule:
    """What decides a schedule's due times."""

    expression: str
    timezone: str = "UTC"
    # When a recurring schedule starts counting (its StartDate, else its creation).
    start: datetime | None = None
    end: datetime | None = None


def is_one_time(expression: str) -> bool:
    return expression.startswith("at(")


def latest_due(schedule: Schedule, since: datetime | None, now: datetime) -> datetime | None:
    """The latest due time in ``(since, now]`` (``since`` None: any time up to now), in UTC."""
    zone = _zone(schedule.timezone)
    expression = schedule.expression.strip()
    if match := _AT.match(expression):
        due = datetime.fromisoformat(match.group(1)).replace(tzinfo=zone).astimezone(UTC)
        return due if due <= now and (since is None or due > since) else None
    if schedule.start is None:
        raise InvalidExpression("a recurring schedule needs its start (or creation) time")
    # A recurring schedule counts from its start; nothing is due before it or after its end.
    since = max(since, schedule.start) if since is not None else schedule.start
    if schedule.end is not None:
        now = min(now, schedule.end)
    if now <= since:
        return None
    if match := _RATE.match(expression):
        period = int(match.group(1)) * _UNITS[match.group(2).removesuffix("s")]
        if period <= 0:
            raise InvalidExpression(f"{expression}: the rate must be at least 1")
        periods = int((now - schedule.start).total_seconds() // period)
        due = schedule.start + timedelta(seconds=periods * period)
        return due if periods >= 1 and due > since else None
    if match := _CRON.match(expression):
        fields, years = aws_cron(match.group(1))
        # croniter's previous occurrence is strictly before its start: one second past now.
        occurrences = croniter(fields, (now + timedelta(seconds=1)).astimezone(zone))
        while True:
            due = occurrences.get_prev(datetime).astimezone(UTC)
            if due <= since:
                return None
            if due.astimezone(zone).year in years:
                return due
    raise InvalidExpression(f"not an at(), rate() or cron() expression: {expression!r}")


def aws_cron(body: str) -> tuple[str, frozenset[int]]:
    """AWS's six cron fields as croniter's five, and the years the sixth allows."""
    fields = body.split()
    if len(fields) != 6:
        raise InvalidExpression(
            f"cron({body}): AWS cron has six fields (minutes hours day-of-month month "
            "day-of-week year)"
        )
    minute, hour, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise InvalidExpression(
            f"cron({body}): one of day-of-month and day-of-week must be '?', not both"
        )
    day_of_month = "*" if day_of_month == "?" else day_of_month
    day_of_week = "*" if day_of_week == "?" else _day_of_week(day_of_week, body)
    cron = f"{minute} {hour} {day_of_month} {month} {day_of_week}"
    if not croniter.is_valid(cron):
        raise InvalidExpression(f"cron({body}) is not a valid cron expression")
    return cron, _years(year, body)


def _day_of_week(field: str, body: str) -> str:
    """AWS's day-of-week (1-7 from Sunday, ``6L`` the last Friday, ``L`` Saturday) in
    croniter's terms (0-6 from Sunday, ``L5``)."""
    if field == "*":
        return field
    translated = []
    for item in field.split(","):
        if item == "L":
            translated.append("6")
        elif match := re.fullmatch(r"(\w+)L", item):
            translated.append(f"L{_day(match.group(1), body)}")
        elif match := re.fullmatch(r"(\w+)#([1-5])", item):
            translated.append(f"{_day(match.group(1), body)}#{match.group(2)}")
        else:
            days, slash, step = item.partition("/")
            if days == "*":
                days = "0-6" if slash else "*"
            else:
                first, dash, last = days.partition("-")
                days = _day(first, body) + (f"-{_day(last, body)}" if dash else "")
                if slash and not dash:
                    days += "-6"
            translated.append(days + (f"/{step}" if slash else ""))
    return ",".join(translated)


def _day(value: str, body: str) -> str:
    upper = value.upper()
    if upper in _DAY_NAMES:
        return str(_DAY_NAMES.index(upper))
    if value.isdigit() and 1 <= int(value) <= 7:
        return str(int(value) - 1)
    raise InvalidExpression(f"cron({body}): {value!r} is not a day of the week (1-7 or SUN-SAT)")


def _years(field: str, body: str) -> frozenset[int]:
    allowed: set[int] = set()
    for item in field.split(","):
        span, slash, step = item.partition("/")
        try:
            if span == "*":
                first, last = 1970, _MAX_YEAR
            elif "-" in span:
                low, high = span.split("-")
                first, last = int(low), int(high)
            else:
                first = int(span)
                last = _MAX_YEAR if slash else first
            stride = int(step) if slash else 1
        except ValueError:
            raise InvalidExpression(f"cron({body}): {item!r} is not a year field") from None
        if not 1970 <= first <= last <= _MAX_YEAR or stride < 1:
            raise InvalidExpression(f"cron({body}): years run from 1970 to {_MAX_YEAR}")
        allowed.update(range(first, last + 1, stride))
    return frozenset(allowed)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        raise InvalidExpression(f"unknown ScheduleExpressionTimezone {name!r}") from None
