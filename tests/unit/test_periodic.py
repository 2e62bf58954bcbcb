"""Periodic task declarations and the decision that turns a schedule's firing into a task."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from app.api.identity import IdentityRefused, caller_from_event
from app.tasks.periodic import (
    SYSTEM_OWNER,
    PeriodicFiring,
    PeriodicSchedules,
    PeriodicTask,
    Refused,
    accept,
    parse_firing,
)
from app.tasks.registry import TaskRegistry, TaskResult
from app.tasks.schedule_expression import InvalidScheduleExpression


class Report(BaseModel):
    days: int = 7


class Needs(BaseModel):
    target: str


def declared(schedules: PeriodicSchedules, key: str) -> PeriodicTask:
    found = schedules.get(key)
    assert found is not None
    return found


def firing(
    declaration: PeriodicTask, when: str = "2026-11-30T03:15:00Z", **changes: object
) -> PeriodicFiring:
    """The Input of ``declaration``'s schedule as EventBridge Scheduler delivers it."""
    body = json.dumps(declaration.input())
    body = body.replace("<aws.scheduler.scheduled-time>", when)
    body = body.replace("<aws.scheduler.execution-id>", "d32c5kddcf5bb8c3")
    parsed = parse_firing(body)
    assert parsed is not None
    return parsed.model_copy(update=changes)


def test_a_periodic_declaration_sits_above_the_task_and_keeps_it() -> None:
    # GIVEN a registry and schedules
    registry, schedules = TaskRegistry(), PeriodicSchedules()

    # WHEN a task is declared periodic, with and without explicit arguments
    @schedules.periodic("rate(1 hour)")
    @registry.task("weekly_report")
    def weekly(arguments: Report) -> TaskResult:
        return {"days": arguments.days}

    @schedules.periodic("cron(0 9 ? * MON *)", arguments=Report(days=30), key="monthly")
    @registry.task("monthly_report", version=2)
    def monthly(arguments: Report) -> TaskResult:
        return {"days": arguments.days}

    # THEN the task is still the registry's, and each schedule is declared with its arguments
    assert weekly(Report()) == {"days": 7}
    assert registry.get("monthly_report", 2) is monthly
    assert declared(schedules, "weekly-report") == PeriodicTask(
        "weekly-report", "rate(1 hour)", "weekly_report", 1, {"days": 7}
    )
    assert declared(schedules, "monthly") == PeriodicTask(
        "monthly", "cron(0 9 ? * MON *)", "monthly_report", 2, {"days": 30}
    )
    assert declared(schedules, "monthly").logical_id == "PeriodicMonthlySchedule"
    assert [d.key for d in schedules] == ["monthly", "weekly-report"]


def test_declaration_mistakes_fail_at_import_with_what_to_fix() -> None:
    registry, schedules = TaskRegistry(), PeriodicSchedules()

    @registry.task("needs_target")
    def needs(arguments: Needs) -> TaskResult:
        return {}

    # An expression AWS would refuse
    with pytest.raises(InvalidScheduleExpression, match="rate"):
        schedules.periodic("rate(5 minute)")
    # A model with required fields and no arguments given
    with pytest.raises(TypeError, match="Needs has required fields"):
        schedules.periodic("rate(1 day)")(needs)
    # Arguments of another model
    with pytest.raises(TypeError, match="takes Needs, not Report"):
        schedules.periodic("rate(1 day)", arguments=Report())(needs)  # type: ignore[arg-type]
    # A key that cannot name a schedule and a task id
    with pytest.raises(ValueError, match="must be 1-38 lower-case"):
        schedules.periodic("rate(1 day)", arguments=Needs(target="x"), key="Bad_Key")(needs)
    # Below @task instead of above it
    with pytest.raises(TypeError, match="goes above @task"):
        schedules.periodic("rate(1 day)")(lambda arguments: {})  # type: ignore[arg-type]
    # The same key twice
    schedules.periodic("rate(1 day)", arguments=Needs(target="x"))(needs)
    with pytest.raises(ValueError, match="declared twice"):
        schedules.periodic("rate(2 days)", arguments=Needs(target="y"))(needs)


def test_every_delivery_of_one_firing_is_the_same_task_of_the_system_owner() -> None:
    # GIVEN a declared periodic task
    schedules = PeriodicSchedules()
    registry = TaskRegistry()
    schedules.periodic("rate(1 hour)")(registry.task("weekly_report")(_report))
    declaration = declared(schedules, "weekly-report")
    # WHEN one firing is delivered twice (another execution id), and the next firing once
    first = accept(firing(declaration), declaration)
    again = accept(firing(declaration, execution_id="another-attempt"), declaration)
    later = accept(firing(declaration, when="2026-11-30T04:15:00Z"), declaration)
    # THEN both deliveries are one task id, the next firing another, all the system's
    assert not isinstance(first, Refused)
    assert not isinstance(again, Refused)
    assert not isinstance(later, Refused)
    assert first.task_id == again.task_id == "periodic-weekly-report-20261130T031500Z"
    assert later.task_id == "periodic-weekly-report-20261130T041500Z"
    assert first.owner == SYSTEM_OWNER
    assert (first.name, first.version, first.arguments) == ("weekly_report", 1, {"days": 7})
    assert first.enqueued_at == datetime(2026, 11, 30, 3, 15, tzinfo=UTC)
    assert first.correlation_id == "d32c5kddcf5bb8c3"


def test_a_firing_that_matches_no_declaration_is_refused() -> None:
    schedules, registry = PeriodicSchedules(), TaskRegistry()
    schedules.periodic("rate(1 hour)")(registry.task("weekly_report")(_report))
    declaration = declared(schedules, "weekly-report")
    # WHEN firings differ from the declaration THEN each is refused, saying how
    assert accept(firing(declaration), None) == Refused(
        "no periodic task 'weekly-report' is declared in this deployment"
    )
    other_task = accept(firing(declaration, name="process_file"), declaration)
    assert isinstance(other_task, Refused)
    assert "runs weekly_report version 1, not process_file version 1" in other_task.reason
    other_arguments = accept(firing(declaration, arguments={"days": 9999}), declaration)
    assert isinstance(other_arguments, Refused)
    assert "arguments differ" in other_arguments.reason
    # AND a body without a filled-in scheduled time is no firing at all
    assert parse_firing(json.dumps(declaration.input())) is None


def test_no_caller_can_be_the_system_owner() -> None:
    # GIVEN a token whose subject is the periodic tasks' owner
    event = {"requestContext": {"authorizer": {"jwt": {"claims": {"sub": SYSTEM_OWNER}}}}}
    # WHEN the API reads the caller THEN it is refused, never that owner
    with pytest.raises(IdentityRefused) as refused:
        caller_from_event(event, auth_enabled=True)
    assert refused.value.status_code == 403
    # AND with auth off every caller is the local owner, never the system
    assert caller_from_event(event, auth_enabled=False).owner != SYSTEM_OWNER


def _report(arguments: Report) -> TaskResult:
    return {"days": arguments.days}
