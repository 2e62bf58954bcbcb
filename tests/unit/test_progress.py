"""Progress reports: what a task may report, and what it is told when it gets it wrong."""

import math

import pytest

from app.tasks.context import TaskContext
from app.tasks.progress import MAX_MESSAGE_BYTES, MAX_MESSAGE_CHARS, progress


@pytest.mark.parametrize("fraction", [0, 0.5, 1, 1.0])
def test_fractions_from_0_to_1_are_reports(fraction: float) -> None:
    assert progress(fraction, "ok").fraction == fraction


@pytest.mark.parametrize("fraction", [-0.01, 1.01, 50, math.nan, math.inf])
def test_a_fraction_outside_0_to_1_is_a_value_error_that_says_so(fraction: float) -> None:
    with pytest.raises(ValueError, match=r"between 0 and 1 \(1 = done\), not "):
        progress(fraction)


@pytest.mark.parametrize("fraction", ["0.5", True, None])
def test_a_fraction_that_is_no_number_is_a_type_error(fraction: object) -> None:
    with pytest.raises(TypeError, match="must be a number"):
        progress(fraction)  # type: ignore[arg-type]  # the mistake under test


def test_a_long_message_is_cut_to_its_limit_and_says_so() -> None:
    report = progress(0.5, "x" * 1000)
    assert report.message is not None
    assert len(report.message) == MAX_MESSAGE_CHARS
    assert report.message.endswith("…")


@pytest.mark.parametrize("character", ["é", "\u20ac", "\U0001f600"])
def test_a_message_of_multibyte_characters_is_cut_to_its_bytes_too(character: str) -> None:
    # GIVEN a message of 200 characters of two, three or four bytes each
    # WHEN it is reported THEN it is cut whole characters at a time to the byte limit
    report = progress(0.5, character * MAX_MESSAGE_CHARS)
    assert report.message is not None
    assert len(report.message.encode()) <= MAX_MESSAGE_BYTES
    assert report.message.endswith("…")
    assert set(report.message[:-1]) == {character}


def test_a_task_called_outside_a_worker_may_report_and_is_still_checked() -> None:
    # GIVEN a context made by hand, as a unit test of a task would
    context = TaskContext(
        task_id="t1", owner="alice", attempt=1, correlation_id=None, remaining_millis=lambda: 1
    )
    # THEN a report goes nowhere, and a wrong one is still an error
    context.progress(0.5, "half")
    with pytest.raises(ValueError, match="between 0 and 1"):
        context.progress(2)
