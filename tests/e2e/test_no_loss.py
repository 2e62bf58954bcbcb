"""No accepted task is lost: every one ends succeeded or dead, and no effect happens twice."""

import pytest

from tests.e2e import no_loss


@pytest.mark.timeout(600)
def test_200_tasks_with_transient_and_permanent_failures_lose_nothing() -> None:
    # GIVEN 200 tasks through the local stack: 10% fail transiently, 1% always fail
    # WHEN they are sent in requests of 25 and the worker runs until each is finished
    outcome = no_loss.run(200)
    # THEN accepted = succeeded + dead, exactly
    assert outcome.accepted == 200
    assert outcome.unfinished == 0
    assert outcome.accepted == outcome.succeeded + outcome.dead
    # AND the dead ones are exactly the always-failing ones, and those are in the DLQ
    assert outcome.always_failing == 2
    assert outcome.dead == outcome.always_failing_dead == 2
    assert outcome.dead_letter_matches_always_failing
    # AND every other task had its effect exactly once
    assert outcome.effects_missing == 0
    assert outcome.effects_twice == 0
