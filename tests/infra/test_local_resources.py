"""The local stack's resources are built from template.yaml's own properties."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from infra.local.function_process import function_process_environment
from infra.local.resources import create_resources, physical_name
from infra.local.template import (
    Physical,
    function_environment,
    load_template,
    logical_ids,
    properties,
)

Template = dict[str, Any]


@pytest.fixture
def created(template: Template, aws: None) -> Physical:
    return create_resources(template)


def queue_attributes(physical: Physical, queue_id: str) -> dict[str, str]:
    response = boto3.client("sqs").get_queue_attributes(
        QueueUrl=physical.ref(queue_id), AttributeNames=["All"]
    )
    return {str(name): value for name, value in response["Attributes"].items()}


def test_queues_take_their_settings_from_the_template(
    template: Template, created: Physical
) -> None:
    # GIVEN the resources created from template.yaml
    # WHEN the task queue's attributes are read back from SQS
    attributes = queue_attributes(created, "TaskQueue")
    props = properties(template, "TaskQueue")
    # THEN they are the template's values
    assert attributes["VisibilityTimeout"] == str(props["VisibilityTimeout"])
    assert attributes["MessageRetentionPeriod"] == str(props["MessageRetentionPeriod"])
    assert attributes["SqsManagedSseEnabled"] == "true"
    # AND the redrive policy names the dead-letter queue's real ARN
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": created.attribute("DeadLetterQueue", "Arn"),
        "maxReceiveCount": 7,
    }
    dlq = queue_attributes(created, "DeadLetterQueue")
    assert dlq["MessageRetentionPeriod"] == str(
        properties(template, "DeadLetterQueue")["MessageRetentionPeriod"]
    )
    assert dlq["QueueArn"] == created.attribute("DeadLetterQueue", "Arn")


def test_a_parameter_override_reaches_the_redrive_policy(template: Template, aws: None) -> None:
    # WHEN the stack is created with MaxReceiveCount=2
    physical = create_resources(template, parameters={"MaxReceiveCount": "2"})
    # THEN the queue redrives after two receives
    policy = json.loads(queue_attributes(physical, "TaskQueue")["RedrivePolicy"])
    assert policy["maxReceiveCount"] == 2


@pytest.mark.parametrize(("table_id", "ttl_attribute"), [("TaskTable", "expires_at")])
def test_tables_take_key_schema_billing_and_ttl_from_the_template(
    template: Template, created: Physical, table_id: str, ttl_attribute: str
) -> None:
    dynamodb = boto3.client("dynamodb")
    name = created.ref(table_id)
    props = properties(template, table_id)
    # WHEN the table is described
    table = dynamodb.describe_table(TableName=name)["Table"]
    # THEN key schema, attribute definitions and billing are the template's
    assert table["KeySchema"] == props["KeySchema"]
    assert table["AttributeDefinitions"] == props["AttributeDefinitions"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TableArn"] == created.attribute(table_id, "Arn")
    # AND TTL and point-in-time recovery are on
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    assert ttl["AttributeName"] == ttl_attribute
    backups = dynamodb.describe_continuous_backups(TableName=name)
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"


def test_the_task_table_gets_the_templates_key_and_no_index(
    template: Template, created: Physical
) -> None:
    # WHEN the task table is described
    table = boto3.client("dynamodb").describe_table(TableName=created.ref("TaskTable"))["Table"]
    # THEN it has the template's key (owner, task id) and, as there, no index
    assert table["KeySchema"] == properties(template, "TaskTable")["KeySchema"]
    assert not table.get("GlobalSecondaryIndexes")


def test_the_cursor_key_secret_gets_a_value_of_its_own_per_stack(
    template: Template, aws: None
) -> None:
    # WHEN two local stacks are created side by side
    first, second = (create_resources(template, suffix=suffix) for suffix in ("one", "two"))
    # THEN each API's cursor key secret exists, with a long random value of its own
    secrets = boto3.client("secretsmanager")
    values = [
        secrets.get_secret_value(SecretId=stack.ref("CursorKeySecret"))["SecretString"]
        for stack in (first, second)
    ]
    assert values[0] != values[1]
    assert all(len(value) >= 48 for value in values)
    # AND creating a stack again keeps its key, so its cursors stay good
    again = create_resources(template, suffix="one")
    assert (
        secrets.get_secret_value(SecretId=again.ref("CursorKeySecret"))["SecretString"]
        == (values[0])
    )


def test_bucket_is_versioned_and_private(created: Physical) -> None:
    s3 = boto3.client("s3")
    bucket = created.ref("UploadsBucket")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    # AND a client can upload under the uploads prefix
    s3.put_object(Bucket=bucket, Key="uploads/a.csv", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="uploads/a.csv")["Body"].read() == b"x"


def test_names_are_derived_from_logical_ids_with_an_optional_suffix(
    template: Template, aws: None
) -> None:
    # WHEN two stacks are created side by side with different suffixes
    first = create_resources(template, suffix="one")
    second = create_resources(template, suffix="two")
    # THEN their names differ and say which resource they are
    assert physical_name("TaskQueue", suffix="one") == "local-task-queue-one"
    assert first.ref("TaskTable") == "local-task-table-one"
    assert second.ref("TaskTable") == "local-task-table-two"
    assert first.ref("TaskQueue") != second.ref("TaskQueue")


def test_creating_twice_reuses_what_exists(template: Template, aws: None) -> None:
    first = create_resources(template)
    second = create_resources(template)
    assert first.resources == second.resources


def test_function_environment_points_at_the_created_resources(
    template: Template, created: Physical
) -> None:
    # GIVEN the API function's environment resolved against the created stack
    env = function_environment(template, "ApiFunction", created)
    # WHEN a message is sent to the queue and a status item written to the table it names
    boto3.client("sqs").send_message(QueueUrl=env["TASK_QUEUE_URL"], MessageBody="{}")
    boto3.client("dynamodb").put_item(
        TableName=env["TASK_TABLE_NAME"], Item={"owner": {"S": "o"}, "task_id": {"S": "t-1"}}
    )
    # THEN they land in the stack's queue and table
    attributes = queue_attributes(created, "TaskQueue")
    assert attributes["ApproximateNumberOfMessages"] == "1"
    item = boto3.client("dynamodb").get_item(
        TableName=created.ref("TaskTable"), Key={"owner": {"S": "o"}, "task_id": {"S": "t-1"}}
    )
    assert "Item" in item
    assert env["BUCKET_NAME"] == created.ref("UploadsBucket")


def test_each_function_process_gets_its_own_template_variables_only() -> None:
    # GIVEN two functions' environments, and a shell that exported one of the API's variables
    api = {"TASK_QUEUE_URL": "q", "POWERTOOLS_SERVICE_NAME": "api", "SENDER_EMAIL": "a@b.c"}
    worker = {"TASK_QUEUE_URL": "q", "POWERTOOLS_SERVICE_NAME": "worker", "MAX_RECEIVE_COUNT": "5"}
    shell = {"PATH": "/bin", "SENDER_EMAIL": "shell@b.c", "POWERTOOLS_SERVICE_NAME": "shell"}
    every = {"ApiFunction": api, "WorkerFunction": worker}
    # WHEN the worker's process environment is made
    environment = function_process_environment(shell, worker, every)
    # THEN it holds the worker's variables and the shell's others, nothing only the API sets
    assert environment == {
        "PATH": "/bin",
        "TASK_QUEUE_URL": "q",
        "POWERTOOLS_SERVICE_NAME": "worker",
        "MAX_RECEIVE_COUNT": "5",
    }
    # AND the API's holds its own
    assert function_process_environment(shell, api, every)["POWERTOOLS_SERVICE_NAME"] == "api"


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's server on a free loopback port, with boto3 pointed at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    try:
        yield endpoint
    finally:
        server.stop()


def test_resources_are_created_alike_on_motos_server(moto_server: str) -> None:
    # GIVEN moto's server on loopback and AWS_ENDPOINT_URL pointing at it
    template = load_template()
    # WHEN the stack is created through plain boto3 clients
    physical = create_resources(template, suffix="server")
    # THEN the queue URLs are on that endpoint and the redrive policy is the template's
    assert physical.ref("TaskQueue") == f"{moto_server}/123456789012/local-task-queue-server"
    policy = json.loads(queue_attributes(physical, "TaskQueue")["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == physical.attribute("DeadLetterQueue", "Arn")
    table = boto3.client("dynamodb").describe_table(TableName=physical.ref("TaskTable"))
    assert table["Table"]["KeySchema"] == properties(template, "TaskTable")["KeySchema"]


def test_periodic_schedules_keep_their_template_name_and_dead_letter_queue(
    template: Template, created: Physical
) -> None:
    # GIVEN the resources created from template.yaml
    group = created.ref("TaskScheduleGroup")
    # WHEN the periodic schedules are read back from EventBridge Scheduler (moto)
    listed = boto3.client("scheduler").list_schedules(GroupName=group)["Schedules"]
    # THEN each carries the template's explicit name periodic-<key>, never task-...
    names = sorted(schedule["Name"] for schedule in listed)
    assert names == sorted(
        properties(template, logical_id)["Name"]
        for logical_id in logical_ids(template, "AWS::Scheduler::Schedule")
    )
    assert all(name.startswith("periodic-") for name in names)
    # AND sends what it cannot deliver to the (standard) dead-letter queue
    for name in names:
        target = boto3.client("scheduler").get_schedule(Name=name, GroupName=group)["Target"]
        assert target["DeadLetterConfig"] == {"Arn": created.attribute("DeadLetterQueue", "Arn")}
