"""No accepted task is lost under faults; no effect happens twice; no refused task runs."""

import pytest

from tests.e2e import no_loss


@pytest.mark.timeout(300)
def test_tasks_under_injected_faults_end_succeeded_or_dead_and_run_once() -> None:
    # GIVEN 120 tasks through embedded AWS, two worker processes with AWS faults injected,
    # tasks that kill their worker (once, or on every receive), refused and lost sends,
    # a forged and an orphan message, and SQS's native redrive after a fix
    outcome = no_loss.run(120)
    # THEN every accepted task ended succeeded or dead, and nothing is left running
    assert outcome.unfinished == {}
    assert outcome.accepted == outcome.succeeded + outcome.dead
    assert outcome.may_run > 0
    assert outcome.refused > 0
    # AND before the fix every task planned to die was dead, a last attempt killed saying why
    assert outcome.planned_dead_were_dead
    assert outcome.crashed_last_reads_dead_with_reason
    # AND after the fix and SQS's redrive only the always-failing ones are still dead
    assert outcome.dead_match_plans, outcome
    # AND every other task had its effect exactly once, the revived ones after the redrive
    assert outcome.effects_missing == 0
    assert outcome.effects_twice == 0, outcome.doubled
    assert outcome.redriven > 0
    # AND nothing refused, forged or without a status ran
    assert outcome.refused_that_ran == 0
    assert outcome.refused_with_status == 0
    assert outcome.forged_and_orphan_ran == 0
    # AND workers really were killed mid-task
    assert outcome.worker_kills > 0
