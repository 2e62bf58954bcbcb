"""EventBridge Scheduler's recurring expressions, checked where a periodic task is declared.

``rate(value unit)`` and ``cron(minutes hours day-of-month month day-of-week year)``, as AWS
documents them for schedules (UTC): a mistake fails the import of the task's module with a
message saying what is wrong, not a deploy or a schedule that never fires.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

_RATE = re.compile(r"^rate\((?P<value>\S+) (?P<unit>\S+)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]*)\)$")
_UNITS = {"minute": "minutes", "hour": "hours", "day": "days"}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


class InvalidScheduleExpression(ValueError):
    """Not a rate(...) or cron(...) expression EventBridge Scheduler accepts."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # JAN..DEC or SUN..SAT, numbered from ``low``
    question: bool = False  # "?" allowed (day-of-month, day-of-week)
    last: bool = False  # "L" allowed
    weekday: bool = False  # "W" allowed (nearest weekday, day-of-month)
    nth: bool = False  # "#" allowed (the nth weekday, day-of-week)


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31, question=True, last=True, weekday=True),
    _Field("month", 1, 12, names=tuple(_MONTHS)),
    _Field("day-of-week", 1, 7, names=tuple(_DAYS), question=True, last=True, nth=True),
    _Field("year", 1970, 2199),
)


def validate(expression: str) -> str:
    """``expression`` unchanged if EventBridge Scheduler takes it as a recurring schedule."""
    if expression.startswith("rate("):
        _rate(expression)
    elif expression.startswith("cron("):
        _cron(expression)
    else:
        raise InvalidScheduleExpression(
            f"{expression!r}: a periodic schedule is 'rate(value unit)' or "
            "'cron(minutes hours day-of-month month day-of-week year)'"
        )
    return expression


def _rate(expression: str) -> None:
    match = _RATE.match(expression)
    if not match:
        raise InvalidScheduleExpression(
            f"{expression!r}: write rate(<value> <unit>), e.g. rate(5 minutes)"
        )
    value, unit = match["value"], match["unit"]
    if not value.isdigit() or int(value) < 1:
        raise InvalidScheduleExpression(f"{expression!r}: the value must be a positive integer")
    if unit not in {*_UNITS, *_UNITS.values()}:
        raise InvalidScheduleExpression(
            f"{expression!r}: the unit is minute(s), hour(s) or day(s), not {unit!r}"
        )
    wanted = next(s for s, plural in _UNITS.items() if unit in (s, plural))
    wanted = wanted if int(value) == 1 else _UNITS[wanted]
    if unit != wanted:
        raise InvalidScheduleExpression(f"{expression!r}: write rate({value} {wanted})")


def _cron(expression: str) -> None:
    match = _CRON.match(expression)
    fields = match["fields"].split(" ") if match else []
    if len(fields) != len(_FIELDS) or "" in fields:
        raise InvalidScheduleExpression(
            f"{expression!r}: cron takes six fields separated by single spaces: "
            "minutes hours day-of-month month day-of-week year"
        )
    for field, text in zip(_FIELDS, fields, strict=True):
        _cron_field(expression, field, text)
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise InvalidScheduleExpression(
            f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'"
        )


def _cron_field(expression: str, field: _Field, text: str) -> None:
    def wrong(why: str) -> InvalidScheduleExpression:
        return InvalidScheduleExpression(f"{expression!r}: {field.name} {text!r} {why}")

    if text == "?":
        if not field.question:
            raise wrong("cannot be '?' (only day-of-month and day-of-week can)")
        return
    if text == "L" and field.last:
        return
    if field.weekday and re.fullmatch(r"(\d{1,2}|L)W", text):
        _number(text[:-1] if text != "LW" else str(field.low), field, wrong)
        return
    if field.nth and "#" in text:
        day, _, nth = text.partition("#")
        _number(day, field, wrong)
        if nth not in {"1", "2", "3", "4", "5"}:
            raise wrong("must name the 1st to 5th weekday after '#'")
        return
    if field.last and text.endswith("L") and field.nth:
        _number(text[:-1], field, wrong)  # e.g. 6L: the last Friday
        return
    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) < 1):
            raise wrong("has a step that is not a positive integer")
        if base == "*":
            continue
        first, dash, last = base.partition("-")
        _number(first, field, wrong)
        if dash:
            _number(last, field, wrong)


def _number(text: str, field: _Field, wrong: Callable[[str], InvalidScheduleExpression]) -> None:
    if text.upper() in field.names:
        return
    if not text.isdigit() or not field.low <= int(text) <= field.high:
        names = f" or {field.names[0]}-{field.names[-1]}" if field.names else ""
        raise wrong(f"must be {field.low}-{field.high}{names}, with , - * / where allowed")
