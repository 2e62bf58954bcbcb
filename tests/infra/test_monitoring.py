"""The stack's monitoring: the backlog alarm next to the dead-letter one, and the dashboard."""

from __future__ import annotations

import json
from typing import Any

from infra.local.template import (
    Physical,
    function_environment,
    logical_ids,
    properties,
)
from tests.dashboard import API_ID, DASHBOARD, dashboard_body, graphed_metrics, stack_physical
from tests.infra.test_template_hardening import (  # the SAM translation, offline
    TOPIC,
    resolve,
    translated,
)

Template = dict[str, Any]
ALARM = "OldestTaskAgeAlarm"

__all__ = ["translated"]  # a fixture, used below


def test_the_age_of_the_oldest_task_raises_an_alarm(template: Template) -> None:
    alarm = properties(template, ALARM)
    # THEN it watches the task queue's oldest message, sustained for five minutes
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["TaskQueue", "QueueName"]}}
    ]
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Maximum", "GreaterThanThreshold")
    assert int(alarm["Period"]) * int(alarm["EvaluationPeriods"]) == 300
    assert alarm["TreatMissingData"] == "notBreaching"
    # AND its threshold is a parameter, half an hour unless a stage says otherwise
    assert alarm["Threshold"] == {"Ref": "OldestTaskAgeAlarmSeconds"}
    parameter = template["Parameters"]["OldestTaskAgeAlarmSeconds"]
    assert (parameter["Type"], parameter["Default"]) == ("Number", 1800)
    assert parameter["MinValue"] >= 60
    # AND it tells the same topic as the dead-letter alarm, and nobody when none is named
    dead_letters = properties(template, "DeadLetterQueueAlarm")
    for actions in ("AlarmActions", "OKActions"):
        assert alarm[actions] == dead_letters[actions]
        assert resolve(template, alarm[actions]) is None
        assert resolve(template, alarm[actions], {"AlarmTopicArn": TOPIC}) == [TOPIC]


def test_the_dashboard_graphs_the_queues_the_tasks_and_the_api(template: Template) -> None:
    # GIVEN the dashboard's body as CloudFormation substitutes it
    body = dashboard_body(template)
    physical = stack_physical(template)
    queue = physical.attribute("TaskQueue", "QueueName")
    dead_letter_queue = physical.attribute("DeadLetterQueue", "QueueName")
    namespace = physical.stack_name
    # THEN it is valid JSON with the queue depth, the oldest task's age and the DLQ depth
    graphed = {(ns, name, json.dumps(dims), stat) for ns, name, dims, stat in graphed_metrics(body)}

    def line(ns: str, name: str, dimensions: dict[str, str], stat: str) -> tuple[str, ...]:
        return (ns, name, json.dumps(dimensions), stat)

    sqs = "AWS/SQS"
    assert (
        line(sqs, "ApproximateNumberOfMessagesVisible", {"QueueName": queue}, "Maximum") in graphed
    )
    assert line(sqs, "ApproximateAgeOfOldestMessage", {"QueueName": queue}, "Maximum") in graphed
    assert (
        line(sqs, "ApproximateNumberOfMessagesVisible", {"QueueName": dead_letter_queue}, "Maximum")
        in graphed
    )
    # AND the tasks sent (by the API), succeeded, failed and dead (by the worker), summed
    assert line(namespace, "TasksSent", {"service": "api"}, "Sum") in graphed
    for name in ("TasksSucceeded", "TasksFailed", "TasksDead"):
        assert line(namespace, name, {"service": "worker"}, "Sum") in graphed
    # AND the task duration's median and 95th percentile
    for stat in ("p50", "p95"):
        assert line(namespace, "TaskDuration", {"service": "worker"}, stat) in graphed
    # AND the HTTP API's 4xx, 5xx and latency, by its id
    api = {"ApiId": API_ID}
    assert line("AWS/ApiGateway", "4xx", api, "Sum") in graphed
    assert line("AWS/ApiGateway", "5xx", api, "Sum") in graphed
    for stat in ("p50", "p95"):
        assert line("AWS/ApiGateway", "Latency", api, stat) in graphed
    # AND every widget is drawn in the stack's region
    assert {widget["properties"]["region"] for widget in body["widgets"]} == {physical.region}


def test_the_dashboards_metrics_are_the_ones_the_functions_publish(template: Template) -> None:
    # GIVEN what each function is told its metrics namespace and service are
    physical: Physical = stack_physical(template)
    api = function_environment(template, "ApiFunction", physical)
    worker = function_environment(template, "WorkerFunction", physical)
    # THEN the dashboard graphs the app's metrics under that namespace and service
    services = {"TasksSent": api, **dict.fromkeys(("TasksSucceeded", "TasksFailed"), worker)}
    services |= dict.fromkeys(("TasksDead", "TaskDuration"), worker)
    for namespace, name, dimensions, _ in graphed_metrics(dashboard_body(template)):
        if namespace.startswith("AWS/"):
            continue
        environment = services[name]
        assert namespace == environment["POWERTOOLS_METRICS_NAMESPACE"], name
        assert dimensions == {"service": environment["POWERTOOLS_SERVICE_NAME"]}, name


def test_the_dashboard_and_both_alarms_survive_sams_translation(translated: Template) -> None:
    # GIVEN the template as SAM translates it for CloudFormation
    alarms = logical_ids(translated, "AWS::CloudWatch::Alarm")
    # THEN both alarms and the dashboard are there, the body still substituted by CloudFormation
    assert {"DeadLetterQueueAlarm", ALARM} <= set(alarms)
    assert logical_ids(translated, "AWS::CloudWatch::Dashboard") == [DASHBOARD]
    body = properties(translated, DASHBOARD)["DashboardBody"]
    assert set(body) == {"Fn::Sub"}
    assert "${TaskQueue.QueueName}" in body["Fn::Sub"]
    assert "${HttpApi}" in body["Fn::Sub"]
    # AND the API it names is the one SAM makes of HttpApi
    assert "HttpApi" in logical_ids(translated, "AWS::ApiGatewayV2::Api")
    # AND each periodic schedule too, in the stack's group
    for schedule in logical_ids(translated, "AWS::Scheduler::Schedule"):
        assert properties(translated, schedule)["GroupName"] == {"Ref": "TaskScheduleGroup"}
    assert logical_ids(translated, "AWS::Scheduler::Schedule")
