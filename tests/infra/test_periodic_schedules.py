"""The code's @periodic declarations and template.yaml's schedules agree, one to one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app import catalog
from app.tasks import periodic_template
from app.tasks.periodic import EXECUTION_ID, SCHEDULED_TIME, PeriodicSchedules, PeriodicTask
from app.tasks.periodic import schedules as declared_schedules
from app.tasks.schedules import SCHEDULE_PREFIX
from infra.local.template import load_template, logical_ids, properties

Template = dict[str, Any]
SCHEDULE = "AWS::Scheduler::Schedule"

assert catalog  # imported so that every task module has made its declarations


def rendered(declarations: PeriodicSchedules, tmp_path: Path) -> dict[str, Any]:
    """What `make periodic-template` prints, read back as template resources."""
    document = tmp_path / "printed.yaml"
    document.write_text("Resources:\n" + periodic_template.schedules_yaml(declarations))
    resources: dict[str, Any] = load_template(document)["Resources"]
    return resources


def disagreements(template: Template, declarations: PeriodicSchedules, tmp_path: Path) -> list[str]:
    """Where the template's schedules and the code's declarations differ."""
    expected = rendered(declarations, tmp_path)
    found = {
        logical_id: template["Resources"][logical_id]
        for logical_id in logical_ids(template, SCHEDULE)
    }
    problems = [
        f"{logical_id}: declared in the code, missing from template.yaml"
        for logical_id in expected.keys() - found.keys()
    ]
    problems += [
        f"{logical_id}: in template.yaml, but no @periodic declares it"
        for logical_id in found.keys() - expected.keys()
    ]
    problems += [
        f"{logical_id}: differs from its declaration (make periodic-template prints it)"
        for logical_id in expected.keys() & found.keys()
        if expected[logical_id] != found[logical_id]
    ]
    return sorted(problems)


def test_every_declaration_has_exactly_its_schedule_and_no_schedule_is_undeclared(
    template: Template, tmp_path: Path
) -> None:
    # GIVEN the periodic tasks the code declares (at least the expired-results sweep)
    keys = [declared.key for declared in declared_schedules]
    assert "expired-results" in keys
    # WHEN they are compared with template.yaml
    # THEN each has its schedule, as printed, and the template has no other
    assert disagreements(template, declared_schedules, tmp_path) == []
    assert len(logical_ids(template, SCHEDULE)) == len(keys)


def test_a_change_on_either_side_is_a_disagreement(template: Template, tmp_path: Path) -> None:
    # GIVEN the code's declarations, one changed, one added
    changed = PeriodicSchedules()
    for declared in declared_schedules:
        changed.add(declared)
    first = next(iter(declared_schedules))
    template["Resources"][first.logical_id]["Properties"]["ScheduleExpression"] = "rate(2 days)"
    changed.add(PeriodicTask("new-report", "rate(1 hour)", "new_report", 1, {}))
    # AND a schedule in the template that nothing declares
    template["Resources"]["PeriodicOrphanSchedule"] = template["Resources"][first.logical_id]
    # WHEN they are compared THEN each difference is named
    assert disagreements(template, changed, tmp_path) == [
        f"{first.logical_id}: differs from its declaration (make periodic-template prints it)",
        "PeriodicNewReportSchedule: declared in the code, missing from template.yaml",
        "PeriodicOrphanSchedule: in template.yaml, but no @periodic declares it",
    ]


@pytest.mark.parametrize("declared", list(declared_schedules), ids=lambda d: d.key)
def test_each_schedule_sends_its_firing_to_the_task_queue(
    template: Template, declared: PeriodicTask
) -> None:
    props = properties(template, declared.logical_id)
    target = props["Target"]
    # THEN it lives in the stack's group and fires exactly on its expression (no window)
    assert props["GroupName"] == {"Ref": "TaskScheduleGroup"}
    assert props["ScheduleExpression"] == declared.expression
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    # AND it sends to the task queue as the scheduler's role
    assert target["Arn"] == {"Fn::GetAtt": ["TaskQueue", "Arn"]}
    assert target["RoleArn"] == {"Fn::GetAtt": ["TaskSchedulerRole", "Arn"]}
    # AND its message is the firing: the declared task and arguments, and the context
    # attributes EventBridge Scheduler fills in
    body = json.loads(target["Input"])
    assert body["periodic"] == declared.key
    assert (body["name"], body["version"]) == (declared.task, declared.version)
    assert body["arguments"] == declared.arguments
    assert body["scheduled_time"] == SCHEDULED_TIME
    assert body["execution_id"] == EXECUTION_ID
    # AND a FIFO task queue gets a message group, a standard one none
    assert target["SqsParameters"] == {
        "Fn::If": [
            "FifoQueues",
            {"MessageGroupId": f"periodic-{declared.key}"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    # AND a firing the queue refuses for 24 h goes to the dead-letter queue, which
    # EventBridge Scheduler accepts only when it is a standard queue
    assert target["DeadLetterConfig"] == {
        "Fn::If": [
            "FifoQueues",
            {"Ref": "AWS::NoValue"},
            {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}},
        ]
    }
    # AND it is named periodic-<key>: never task-..., the only names the API may touch
    assert props["Name"] == f"periodic-{declared.key}"
    assert not props["Name"].startswith(SCHEDULE_PREFIX)


def test_the_scheduler_role_may_only_send_to_the_task_queue_and_its_dead_letters(
    template: Template,
) -> None:
    role = properties(template, "TaskSchedulerRole")
    statements = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    assert statements == [
        {
            "Sid": "SendDueTasks",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": {"Fn::GetAtt": ["TaskQueue", "Arn"]},
        },
        {
            "Sid": "DeadLetterUndeliveredTasks",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        },
    ]
    assert "ManagedPolicyArns" not in role
    # AND the dead-letter queue's policy denies it nothing (only plain HTTP, to everyone)
    [dlq_policy] = [
        properties(template, policy_id)
        for policy_id in logical_ids(template, "AWS::SQS::QueuePolicy")
        if properties(template, policy_id)["Queues"] == [{"Ref": "DeadLetterQueue"}]
    ]
    denials = [
        statement
        for statement in dlq_policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
    ]
    assert [statement["Condition"] for statement in denials] == [
        {"Bool": {"aws:SecureTransport": "false"}}
    ]


def test_the_command_prints_the_templates_schedules(
    template: Template, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # WHEN `python -m app.tasks.periodic_template` runs
    assert periodic_template.main() == 0
    printed = capsys.readouterr().out
    # THEN it prints each schedule resource, with its comment, as template.yaml holds it
    document = tmp_path / "printed.yaml"
    document.write_text("Resources:\n" + printed)
    resources = load_template(document)["Resources"]
    assert set(resources) == set(logical_ids(template, SCHEDULE))
    for logical_id, definition in resources.items():
        assert definition == template["Resources"][logical_id]
        assert "  # Periodic task " in printed.split(f"  {logical_id}:")[0].splitlines()[-2]
