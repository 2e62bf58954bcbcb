"""template.yaml keeps the promises the design makes about it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.config import Settings
from app.tasks.envelope import PAYLOAD_PREFIX, SQS_MAX_MESSAGE_BYTES
from app.tasks.periodic import SYSTEM_OWNER
from app.tasks.schedule_slots import KEY_SUFFIX
from app.tasks.schedules import SCHEDULE_PREFIX
from app.tasks.status import record_key
from infra.local.resources import planned_physical
from infra.local.template import (
    LOCAL_PARAMETERS,
    REPO_ROOT,
    TEMPLATE_PATH,
    Physical,
    Resolver,
    function_environment,
    function_properties,
    function_settings,
    logical_ids,
    properties,
    redrive,
    sqs_event_settings,
)

Template = dict[str, Any]

# SAM policy templates whose expansion names its actions outright (no wildcard), per
# samtranslator's policy_templates.json. SQSSendMessagePolicy is absent on purpose: it
# expands to "sqs:SendMessage*".
WILDCARD_FREE_POLICY_TEMPLATES = {
    "DynamoDBCrudPolicy",
    "DynamoDBReadPolicy",
    "SQSPollerPolicy",
    "S3ReadPolicy",
    "SESCrudPolicy",
}


def role_users(template: Template) -> dict[str, str]:
    """Explicit IAM role -> the function that runs with it (``Role: !GetAtt X.Arn``)."""
    return {
        role["Fn::GetAtt"][0]: function_id
        for function_id in logical_ids(template, "AWS::Serverless::Function")
        if isinstance(role := function_properties(template, function_id).get("Role"), dict)
    }


def statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every inline IAM statement: functions' Policies, explicit roles' policies (under the
    function that uses the role), and resource policies."""
    for function_id in logical_ids(template, "AWS::Serverless::Function"):
        for policy in function_properties(template, function_id).get("Policies") or []:
            if isinstance(policy, dict) and "Statement" in policy:
                for statement in policy["Statement"]:
                    yield function_id, statement
    users = role_users(template)
    for role_id in logical_ids(template, "AWS::IAM::Role"):
        for policy in properties(template, role_id).get("Policies") or []:
            for statement in policy["PolicyDocument"]["Statement"]:
                yield users.get(role_id, role_id), statement
    for logical_id, definition in template["Resources"].items():
        document = (definition.get("Properties") or {}).get("PolicyDocument")
        if document:
            for statement in document["Statement"]:
                yield logical_id, statement


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def policy_templates(template: Template, function_id: str) -> dict[str, list[Any]]:
    """SAM policy templates a function uses, name -> parameters of each use."""
    found: dict[str, list[Any]] = {}
    for policy in function_properties(template, function_id).get("Policies") or []:
        if isinstance(policy, dict) and "Statement" not in policy:
            ((name, parameters),) = policy.items()
            found.setdefault(name, []).append(parameters)
    return found


def allowed(template: Template, function_id: str, physical: Physical) -> dict[str, set[str]]:
    """Inline Allow statements of a function, resolved: action -> resources."""
    resolver = Resolver(template, physical)
    granted: dict[str, set[str]] = {}
    for owner, statement in statements(template):
        if owner != function_id or statement["Effect"] != "Allow":
            continue
        resources = resolver.resolve(statement["Resource"])
        for action in actions(statement):
            granted.setdefault(action, set()).update(
                [resources] if isinstance(resources, str) else resources
            )
    return granted


@pytest.fixture
def physical(template: Template) -> Physical:
    return planned_physical(template)


def test_short_tags_load_as_long_form_intrinsics(template: Template) -> None:
    # GIVEN template.yaml, written with !Ref / !GetAtt / !Sub
    # WHEN it is loaded
    # THEN the tags read as CloudFormation's long forms and dates stay strings
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    queue = sqs_event_settings(template, "WorkerFunction")
    assert queue.queue_id == "TaskQueue"
    assert properties(template, "TaskQueue")["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }


def test_functions_run_python_313_on_a_parameterised_architecture(template: Template) -> None:
    # GIVEN the template's parameters and function globals
    architecture = template["Parameters"]["Architecture"]
    globals_ = template["Globals"]["Function"]
    # THEN arm64 is the default, x86_64 may be chosen, and both functions use the parameter
    assert architecture["Default"] == "arm64"
    assert set(architecture["AllowedValues"]) == {"arm64", "x86_64"}
    assert globals_["Architectures"] == [{"Ref": "Architecture"}]
    for function_id in ("ApiFunction", "WorkerFunction"):
        props = function_properties(template, function_id)
        assert props["Runtime"] == "python3.13"
        assert props["Tracing"] == "Active"
        assert props["CodeUri"] == "functions/"
    assert function_settings(template, "ApiFunction").handler == "app.api.handler.handler"
    assert function_settings(template, "WorkerFunction").handler == "app.worker.handler.handler"


def test_task_queue_visibility_is_at_least_six_worker_timeouts(template: Template) -> None:
    # GIVEN the worker's timeout and its queue
    worker = function_settings(template, "WorkerFunction")
    event = sqs_event_settings(template, "WorkerFunction")
    visibility = int(properties(template, event.queue_id)["VisibilityTimeout"])
    # THEN AWS's rule holds, with room for the batching window
    assert visibility >= 6 * worker.timeout_seconds + event.batching_window_seconds


def test_worker_reports_partial_batch_failures_with_bounded_concurrency(
    template: Template,
) -> None:
    # WHEN the worker's SQS event is read
    event = sqs_event_settings(template, "WorkerFunction")
    # THEN one failed message does not redeliver its batch, and scaling is capped
    assert event.report_batch_item_failures
    assert event.batch_size == 10
    assert 0 <= event.batching_window_seconds <= 300
    assert event.maximum_concurrency is not None
    assert 2 <= event.maximum_concurrency <= 1000
    assert event.enabled


def test_task_queue_redrives_to_the_dlq_after_the_max_receive_count(
    template: Template, physical: Physical
) -> None:
    # GIVEN the task queue's redrive policy and the worker's environment
    policy = redrive(template, "TaskQueue")
    worker_env = function_environment(template, "WorkerFunction", physical)
    # THEN the DLQ receives after MaxReceiveCount (default 7), the count the worker is told
    assert policy is not None
    assert policy.dead_letter_queue_id == "DeadLetterQueue"
    assert policy.max_receive_count == 7
    assert template["Parameters"]["MaxReceiveCount"]["Default"] == 7
    assert worker_env["MAX_RECEIVE_COUNT"] == "7"
    assert worker_env["DEAD_LETTER_QUEUE_URL"] == physical.ref("DeadLetterQueue")
    # AND the API gives tasks' one-time schedules the DLQ for deliveries the Scheduler gave up
    api_env = function_environment(template, "ApiFunction", physical)
    assert api_env["DEAD_LETTER_QUEUE_ARN"] == physical.attribute("DeadLetterQueue", "Arn")
    # AND an override moves both together
    overridden = redrive(template, "TaskQueue", {"MaxReceiveCount": "3"})
    assert overridden is not None
    assert overridden.max_receive_count == 3


def test_dead_letter_queue_keeps_messages_longer_than_the_task_queue(template: Template) -> None:
    dlq = properties(template, "DeadLetterQueue")
    queue = properties(template, "TaskQueue")
    assert int(dlq["MessageRetentionPeriod"]) == 14 * 24 * 3600
    assert int(queue.get("MessageRetentionPeriod", 4 * 24 * 3600)) < int(
        dlq["MessageRetentionPeriod"]
    )


def test_both_queues_take_the_largest_message_the_sender_sends_inline(
    template: Template,
) -> None:
    # GIVEN the largest message the API sends without a claim check (1 MiB, its attributes
    # included), which the worker copies whole to the dead-letter queue when it dead-letters
    # WHEN the queues' sizes are read THEN each takes it, stated outright: a queue made before
    # 2025 kept 256 KiB, and an update changes only what the template names
    for queue in ("TaskQueue", "DeadLetterQueue"):
        assert int(properties(template, queue)["MaximumMessageSize"]) == SQS_MAX_MESSAGE_BYTES


def test_data_is_encrypted_at_rest(template: Template) -> None:
    for queue_id in logical_ids(template, "AWS::SQS::Queue"):
        assert properties(template, queue_id)["SqsManagedSseEnabled"] is True
    for table_id in logical_ids(template, "AWS::DynamoDB::Table"):
        assert properties(template, table_id)["SSESpecification"]["SSEEnabled"] is True
    for bucket_id in logical_ids(template, "AWS::S3::Bucket"):
        rules = properties(template, bucket_id)["BucketEncryption"]
        assert rules["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]


def test_the_task_table_is_keyed_as_the_status_store_and_listing_read_it(
    template: Template,
) -> None:
    # GIVEN the task table's properties
    props = properties(template, "TaskTable")
    # THEN its key is the owner, then the (time-ordered) task id, as app.tasks.status writes
    # it and app.tasks.listing queries it
    assert record_key("alice", "t-1") == {"owner": {"S": "alice"}, "task_id": {"S": "t-1"}}
    assert props["KeySchema"] == [
        {"AttributeName": "owner", "KeyType": "HASH"},
        {"AttributeName": "task_id", "KeyType": "RANGE"},
    ]
    assert sorted(d["AttributeName"] for d in props["AttributeDefinitions"]) == [
        "owner",
        "task_id",
    ]
    # AND it has no index, so that a status write bills the record alone
    assert "GlobalSecondaryIndexes" not in props
    assert "LocalSecondaryIndexes" not in props


@pytest.mark.parametrize(
    ("table_id", "key", "ttl"),
    [("TaskTable", ["owner", "task_id"], "expires_at")],
)
def test_tables_are_on_demand_with_ttl_and_point_in_time_recovery(
    template: Template, table_id: str, key: list[str], ttl: str
) -> None:
    props = properties(template, table_id)
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert [part["AttributeName"] for part in props["KeySchema"]] == key
    for name in key:
        assert {"AttributeName": name, "AttributeType": "S"} in props["AttributeDefinitions"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_bucket_is_private_versioned_and_tls_only(template: Template) -> None:
    props = properties(template, "UploadsBucket")
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    # AND a bucket policy denies every request not made over TLS
    (policy_id,) = logical_ids(template, "AWS::S3::BucketPolicy")
    assert properties(template, policy_id)["Bucket"] == {"Ref": "UploadsBucket"}
    (statement,) = properties(template, policy_id)["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_no_policy_grants_a_wildcard_action(template: Template) -> None:
    # GIVEN every IAM statement in the template
    found = list(statements(template))
    assert found
    for owner, statement in found:
        # THEN no statement names "*" as an action, and no Allow uses a wildcard at all
        assert "*" not in actions(statement), owner
        if statement["Effect"] == "Allow":
            assert not [action for action in actions(statement) if "*" in action], owner
    # AND the SAM policy templates used expand to named actions only
    for function_id in ("ApiFunction", "WorkerFunction"):
        assert set(policy_templates(template, function_id)) <= WILDCARD_FREE_POLICY_TEMPLATES


def test_policy_templates_are_scoped_to_one_resource_of_the_stack(template: Template) -> None:
    resources = set(template["Resources"])
    for function_id in ("ApiFunction", "WorkerFunction"):
        for uses in policy_templates(template, function_id).values():
            for parameters in uses:
                (value,) = parameters.values()
                target = value.get("Ref") or value["Fn::GetAtt"][0]
                assert target in resources, (function_id, parameters)


def test_api_function_may_enqueue_store_status_and_send_email(
    template: Template, physical: Physical
) -> None:
    # WHEN the API function's grants are resolved against the stack
    granted = allowed(template, "ApiFunction", physical)
    bucket = physical.attribute("UploadsBucket", "Arn")
    # THEN it uses no SAM policy template (their expansions grant Scan, Query, Batch*)
    assert policy_templates(template, "ApiFunction") == {}
    # AND it sends to the task queue only
    assert granted["sqs:SendMessage"] == {physical.attribute("TaskQueue", "Arn")}
    # AND stores claim-checked task arguments and presigns uploads, under the app's prefixes
    assert granted["s3:PutObject"] == {f"{bucket}/{PAYLOAD_PREFIX}*", f"{bucket}/uploads/*"}
    # AND presigns downloads of large results, nothing else of S3
    assert granted["s3:GetObject"] == {f"{bucket}/results/*"}
    assert sorted(action for action in granted if action.startswith("s3:")) == [
        "s3:GetObject",
        "s3:PutObject",
    ]
    # AND reads and writes task records item by item (UpdateItem: a cancel, or marking a
    # refused task), queries the table (a caller's own partition: app.tasks.listing; no
    # Scan), and counts quotas, nothing else
    task_table = physical.attribute("TaskTable", "Arn")
    quota_table = physical.attribute("QuotaTable", "Arn")
    assert {a: r for a, r in granted.items() if a.startswith("dynamodb:")} == {
        "dynamodb:GetItem": {task_table},
        "dynamodb:PutItem": {task_table},
        "dynamodb:DeleteItem": {task_table},
        "dynamodb:Query": {task_table},
        "dynamodb:UpdateItem": {quota_table, task_table},
    }
    # AND reads the one secret that signs listing cursors, nothing else of Secrets Manager
    assert {a: r for a, r in granted.items() if a.startswith("secretsmanager:")} == {
        "secretsmanager:GetSecretValue": {physical.ref("CursorKeySecret")}
    }
    # AND creates and deletes the tasks' own schedules (task-<id>) in the stack's schedule
    # group only, never the periodic ones, and nothing else of EventBridge Scheduler
    group = physical.ref("TaskScheduleGroup")
    schedules = f"arn:aws:scheduler:us-east-1:123456789012:schedule/{group}/{SCHEDULE_PREFIX}*"
    for periodic_id in logical_ids(template, "AWS::Scheduler::Schedule"):
        name = properties(template, periodic_id)["Name"]
        assert not name.startswith(SCHEDULE_PREFIX), name
    assert {a: r for a, r in granted.items() if a.startswith("scheduler:")} == {
        "scheduler:CreateSchedule": {schedules},
        "scheduler:DeleteSchedule": {schedules},
    }
    # AND may pass the scheduler's role, and only that one, and only to EventBridge Scheduler
    assert {a: r for a, r in granted.items() if a.startswith("iam:")} == {
        "iam:PassRole": {physical.attribute("TaskSchedulerRole", "Arn")}
    }
    [pass_role] = [
        st
        for owner, st in statements(template)
        if owner == "ApiFunction" and "iam:PassRole" in actions(st)
    ]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    # AND sends mail only as the sender: SendEmail (no raw MIME), From pinned by condition
    identity = "arn:aws:ses:us-east-1:123456789012:identity"
    assert granted["ses:SendEmail"] == {
        f"{identity}/noreply@example.com",
        f"{identity}/example.com",
    }
    assert "ses:SendRawEmail" not in granted
    [ses] = [
        st
        for owner, st in statements(template)
        if owner == "ApiFunction" and "ses:SendEmail" in actions(st)
    ]
    assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}


def test_worker_runs_with_its_own_role_of_exact_grants(
    template: Template, physical: Physical
) -> None:
    # GIVEN the worker: an explicit role, so SAM adds no AWSLambdaSQSQueueExecutionRole
    worker = function_properties(template, "WorkerFunction")
    assert worker["Role"] == {"Fn::GetAtt": ["WorkerRole", "Arn"]}
    assert "Policies" not in worker
    granted = allowed(template, "WorkerFunction", physical)
    bucket = physical.attribute("UploadsBucket", "Arn")
    queue = physical.attribute("TaskQueue", "Arn")
    # THEN it consumes the task queue (what the event source mapping and the backoff call)
    for action in (
        "ReceiveMessage",
        "DeleteMessage",
        "GetQueueAttributes",
        "ChangeMessageVisibility",
    ):
        assert granted[f"sqs:{action}"] == {queue}
    # AND dead-letters into the DLQ only
    assert granted["sqs:SendMessage"] == {physical.attribute("DeadLetterQueue", "Arn")}
    # AND reads, updates and (periodic runs' only) creates task records one at a time (no
    # Scan, Query, Batch*), and gives back owners' scheduled-task slots
    task_table = physical.attribute("TaskTable", "Arn")
    quota_table = physical.attribute("QuotaTable", "Arn")
    assert {a: r for a, r in granted.items() if a.startswith("dynamodb:")} == {
        "dynamodb:GetItem": {task_table},
        "dynamodb:UpdateItem": {task_table, quota_table},
        "dynamodb:PutItem": {task_table},
    }
    # AND of the quota table, only the scheduled-task counters, never an hourly quota
    [release] = [
        st
        for owner, st in statements(template)
        if owner == "WorkerFunction" and st["Resource"] == {"Fn::GetAtt": ["QuotaTable", "Arn"]}
    ]
    assert actions(release) == ["dynamodb:UpdateItem"]
    assert release["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"*{KEY_SUFFIX}"]}
    }
    [create] = [
        st
        for owner, st in statements(template)
        if owner == "WorkerFunction" and "dynamodb:PutItem" in actions(st)
    ]
    assert create["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [SYSTEM_OWNER]}
    }
    # AND reads uploads and claim-checked arguments, writes results, nothing else in the bucket
    assert granted["s3:GetObject"] == {
        f"{bucket}/uploads/*",
        f"{bucket}/{PAYLOAD_PREFIX}*",
        f"{bucket}/results/*",
    }
    # AND renews claim-checked arguments' age by copying them onto themselves
    assert granted["s3:PutObject"] == {f"{bucket}/results/*", f"{bucket}/{PAYLOAD_PREFIX}*"}
    # AND deletes only results (the expired-results sweep)
    assert granted["s3:DeleteObject"] == {f"{bucket}/results/*"}
    assert granted["s3:ListBucket"] == {bucket}
    # AND its managed policies are only the logs and X-Ray ones SAM gives every function
    arns = properties(template, "WorkerRole")["ManagedPolicyArns"]
    assert [arn["Fn::Sub"].rsplit("/", 1)[1] for arn in arns] == [
        "AWSLambdaBasicExecutionRole",
        "AWSXrayWriteOnlyAccess",
    ]


def test_queues_deny_plain_http_and_only_the_api_and_scheduler_send_tasks(
    template: Template,
) -> None:
    policies = {
        properties(template, policy_id)["Queues"][0]["Ref"]: properties(template, policy_id)
        for policy_id in logical_ids(template, "AWS::SQS::QueuePolicy")
    }
    # THEN both queues refuse every request not made over TLS
    for queue_id in ("TaskQueue", "DeadLetterQueue"):
        statements_ = policies[queue_id]["PolicyDocument"]["Statement"]
        [tls] = [st for st in statements_ if st["Sid"] == "DenyInsecureTransport"]
        assert tls["Effect"] == "Deny"
        assert tls["Principal"] == "*"
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # AND anyone but the API's role, the scheduler's (and the redrive principal, when given) is
    # denied sending
    [senders] = [
        st
        for st in policies["TaskQueue"]["PolicyDocument"]["Statement"]
        if st["Sid"] == "OnlyTheApiSendsTasks"
    ]
    assert senders["Effect"] == "Deny"
    assert senders["Action"] == "sqs:SendMessage"
    allowed_principals = senders["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    api_role = {"Fn::GetAtt": ["ApiFunctionRole", "Arn"]}
    scheduler_role = {"Fn::GetAtt": ["TaskSchedulerRole", "Arn"]}
    assert resolve_if(template, allowed_principals, "HasRedrivePrincipal", True) == [
        api_role,
        scheduler_role,
        {"Ref": "RedrivePrincipalArn"},
    ]
    assert resolve_if(template, allowed_principals, "HasRedrivePrincipal", False) == [
        api_role,
        scheduler_role,
    ]
    # AND only the task queue may use the DLQ as its dead-letter queue
    allow = properties(template, "DeadLetterQueue")["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    [source] = allow["sourceQueueArns"]
    task_queue_name = properties(template, "TaskQueue")["QueueName"]
    for fifo in (True, False):
        name = resolve_if(template, task_queue_name, "FifoQueues", fifo)["Fn::Sub"]
        arn = resolve_if(template, source, "FifoQueues", fifo)["Fn::Sub"]
        assert arn.endswith(":" + name)


def resolve_if(template: Template, value: Any, condition: str, outcome: bool) -> Any:
    """``value``'s branch of an ``Fn::If`` on ``condition``, as if it were ``outcome``."""
    name, when_true, when_false = value["Fn::If"]
    assert name == condition
    assert condition in template["Conditions"]
    return when_true if outcome else when_false


def test_template_prefixes_are_the_apps(template: Template) -> None:
    # GIVEN the app's defaults and the template's parameters
    parameters = template["Parameters"]
    # THEN both sides name the same prefixes, so IAM grants match the keys the app uses
    assert parameters["UploadsPrefix"]["Default"] == Settings.model_fields["uploads_prefix"].default
    assert parameters["ResultsPrefix"]["Default"] == Settings.model_fields["results_prefix"].default
    # AND claim-checked payloads expire once no message can refer to them any more
    rules = properties(template, "UploadsBucket")["LifecycleConfiguration"]["Rules"]
    (payload_rule,) = [rule for rule in rules if rule.get("Prefix") == PAYLOAD_PREFIX]
    dlq_retention_days = properties(template, "DeadLetterQueue")["MessageRetentionPeriod"] / 86400
    assert payload_rule["ExpirationInDays"] > dlq_retention_days


def test_every_setting_of_the_app_is_given_by_the_template(
    template: Template, physical: Physical
) -> None:
    # GIVEN the app's settings (field names are the variable names, case-insensitively)
    fields = {name.upper() for name in Settings.model_fields}
    # WHEN both functions' environments are resolved
    api = function_environment(template, "ApiFunction", physical)
    worker = function_environment(template, "WorkerFunction", physical)
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
    # THEN together they set every setting, and nothing the app does not read
    assert (api.keys() | worker.keys()) == fields | powertools
    assert api["POWERTOOLS_SERVICE_NAME"] == "api"
    assert worker["POWERTOOLS_SERVICE_NAME"] == "worker"
    assert api["TASK_QUEUE_URL"] == worker["TASK_QUEUE_URL"] == physical.ref("TaskQueue")
    assert {"SENDER_EMAIL"} <= api.keys()
    assert {"DEAD_LETTER_QUEUE_URL", "MAX_RECEIVE_COUNT"} <= worker.keys()


def test_env_json_matches_the_template_for_the_local_stack(
    template: Template, physical: Physical
) -> None:
    # GIVEN infra/env.json, for `sam local invoke --env-vars`
    env_json = json.loads((REPO_ROOT / "infra" / "env.json").read_text())
    # THEN it has one entry per function, with every variable the template sets for it,
    # valued as the local stack creates them
    functions = logical_ids(template, "AWS::Serverless::Function")
    assert set(env_json) == set(functions)
    for function_id in functions:
        assert env_json[function_id] == function_environment(
            template, function_id, physical, LOCAL_PARAMETERS
        )


def test_outputs_name_everything_a_user_or_test_needs(template: Template) -> None:
    assert {
        "ApiUrl",
        "TaskQueueUrl",
        "DeadLetterQueueUrl",
        "TaskTableName",
        "BucketName",
        "ApiFunctionName",
        "WorkerFunctionName",
    } <= set(template["Outputs"])


def test_every_resource_says_why_it_exists(template: Template) -> None:
    # GIVEN the template's text
    lines = TEMPLATE_PATH.read_text().splitlines()
    for logical_id in template["Resources"]:
        (index,) = [i for i, line in enumerate(lines) if line == f"  {logical_id}:"]
        # THEN the line above each resource is a comment
        assert re.match(r"^  # \S", lines[index - 1]), logical_id


def test_every_skipped_checkov_check_gives_a_reason(template: Template) -> None:
    skips = [
        (logical_id, skip)
        for logical_id, definition in template["Resources"].items()
        for skip in ((definition.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
    ]
    assert skips
    for logical_id, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), logical_id
        assert len(skip.get("comment", "").split()) >= 5, (logical_id, skip["id"])


def test_resolver_evaluates_sub_select_split_and_pseudo_parameters(
    template: Template, physical: Physical
) -> None:
    resolver = Resolver(template, physical, {"SenderEmail": "tasks@mail.example.org"})
    assert (
        resolver.resolve(
            {
                "Fn::Sub": [
                    "${AWS::Partition}:${AWS::Region}:${Domain}:${UploadsBucket.Arn}:${!Literal}",
                    {"Domain": {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "SenderEmail"}]}]}},
                ]
            }
        )
        == "aws:us-east-1:mail.example.org:arn:aws:s3:::local-uploads-bucket:${Literal}"
    )
    assert resolver.resolve({"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "x"]]}) == "local-x"
