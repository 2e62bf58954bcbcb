"""Creates the template's queues, tables, buckets and schedules on a local AWS endpoint (moto).

Every setting comes from template.yaml's own properties: this module only maps CloudFormation
property names onto API parameters, so a change to the template changes the local stack too.
Works the same against ``moto.mock_aws`` in-process and against moto's server: boto3 finds the
endpoint in ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

from infra.local.template import (
    Physical,
    PhysicalResource,
    Resolver,
    Template,
    TemplateError,
    properties,
    references,
    resource,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

QUEUE = "AWS::SQS::Queue"
TABLE = "AWS::DynamoDB::Table"
BUCKET = "AWS::S3::Bucket"
SCHEDULE_GROUP = "AWS::Scheduler::ScheduleGroup"
SCHEDULE = "AWS::Scheduler::Schedule"
# Named only (its ARN is what a schedule's target needs): moto enforces no IAM policy.
ROLE = "AWS::IAM::Role"
# A secret's value is generated here, once per local stack, as GenerateSecretString would.
SECRET = "AWS::SecretsManager::Secret"
SUPPORTED_TYPES = (QUEUE, TABLE, BUCKET, SCHEDULE_GROUP, SCHEDULE, ROLE, SECRET)

DEFAULT_ACCOUNT_ID = "123456789012"

# CloudFormation AWS::SQS::Queue properties that are SQS queue attributes of the same name.
_QUEUE_ATTRIBUTES: tuple[QueueAttributeNameType, ...] = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)
_EXPLICIT_NAME = {
    QUEUE: "QueueName",
    TABLE: "TableName",
    BUCKET: "BucketName",
    SCHEDULE_GROUP: "Name",
    SCHEDULE: "Name",
    ROLE: "RoleName",
    SECRET: "Name",
}
# AWS::Scheduler::Schedule properties that are CreateSchedule parameters of the same name.
_SCHEDULE_PARAMETERS = (
    "ActionAfterCompletion",
    "Description",
    "EndDate",
    "FlexibleTimeWindow",
    "KmsKeyArn",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "State",
    "Target",
)


def physical_name(logical_id: str, *, prefix: str = "local", suffix: str = "") -> str:
    """The local name of a resource: ``TaskQueue`` becomes ``local-task-queue[-suffix]``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", logical_id).lower()
    return "-".join(part for part in (prefix, words, suffix) if part)


def resource_name(
    template: Template,
    logical_id: str,
    *,
    prefix: str = "local",
    suffix: str = "",
    resolver: Resolver | None = None,
) -> str:
    """A resource's local name: its explicit name in the template, else a derived one.

    A FIFO queue's name ends in ``.fifo``; whether a queue is FIFO may depend on parameters
    (``FifoQueue: !If [...]``), which ``resolver`` knows (without one, their defaults apply).
    """
    definition = resource(template, logical_id)
    props = properties(template, logical_id)
    explicit = props.get(_EXPLICIT_NAME.get(definition.get("Type", ""), ""))
    flag = (resolver or Resolver(template, Physical())).resolve(
        {"FifoQueue": props.get("FifoQueue", False)}
    )
    fifo = str(flag.get("FifoQueue", False)).lower() == "true"
    if explicit is not None and resolver is not None:
        name = resolver.resolve_string(explicit).removesuffix(".fifo")
        name = f"{name}-{suffix}" if suffix else name
    else:
        name = physical_name(logical_id, prefix=prefix, suffix=suffix)
    return f"{name}.fifo" if fifo else name


def planned_physical(
    template: Template,
    *,
    endpoint_url: str = "http://127.0.0.1:4566",
    region: str = "us-east-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
    prefix: str = "local",
    suffix: str = "",
    parameters: Mapping[str, str] | None = None,
) -> Physical:
    """The Physical that ``create_resources`` yields on moto's server, without creating it.

    Used to write ``infra/env.json`` (and to check it stays in step with the template).
    """
    physical = Physical(region=region, account_id=account_id)
    resolver = Resolver(template, physical, parameters)
    for logical_id in _creation_order(template):
        name = resource_name(template, logical_id, prefix=prefix, suffix=suffix, resolver=resolver)
        resource_type = resource(template, logical_id)["Type"]
        if resource_type == QUEUE:
            url = f"{endpoint_url.rstrip('/')}/{account_id}/{name}"
            arn = f"arn:aws:sqs:{region}:{account_id}:{name}"
            physical.resources[logical_id] = _queue(url, arn)
        elif resource_type == TABLE:
            arn = f"arn:aws:dynamodb:{region}:{account_id}:table/{name}"
            physical.resources[logical_id] = PhysicalResource(name, {"Arn": arn})
        elif resource_type == SCHEDULE_GROUP:
            physical.resources[logical_id] = _schedule_group(name, region, account_id)
        elif resource_type == SCHEDULE:
            group = _schedule_group_name(resolver, properties(template, logical_id))
            physical.resources[logical_id] = _schedule(name, group, region, account_id)
        elif resource_type == ROLE:
            physical.resources[logical_id] = _role(name, account_id)
        elif resource_type == SECRET:
            arn = f"arn:aws:secretsmanager:{region}:{account_id}:secret:{name}"
            physical.resources[logical_id] = PhysicalResource(arn, {"Id": arn})
        else:
            physical.resources[logical_id] = _bucket(name, region)
    return physical


def create_resources(
    template: Template,
    *,
    session: boto3.Session | None = None,
    sqs: SQSClient | None = None,
    dynamodb: DynamoDBClient | None = None,
    s3: S3Client | None = None,
    scheduler: EventBridgeSchedulerClient | None = None,
    secretsmanager: Any | None = None,
    prefix: str = "local",
    suffix: str = "",
    parameters: Mapping[str, str] | None = None,
) -> Physical:
    """Create every queue, table, bucket, schedule group and schedule of ``template``; return
    their physical ids (IAM roles are only named: the local stack enforces no IAM).

    Resources are created in dependency order (a dead-letter queue before the queue whose
    RedrivePolicy names it), with names from :func:`resource_name`. Clients not given come
    from ``session``, else from boto3's default session; other resource types are ignored.
    Re-running against the same endpoint reuses what already exists.
    """
    factory = session.client if session is not None else boto3.client
    sqs = sqs or factory("sqs")
    dynamodb = dynamodb or factory("dynamodb")
    s3 = s3 or factory("s3")
    if scheduler is None:
        scheduler = _scheduler_beside(sqs, factory)
    physical = Physical(region=sqs.meta.region_name, account_id=DEFAULT_ACCOUNT_ID)
    resolver = Resolver(template, physical, parameters)
    creators: dict[str, Callable[[str, Mapping[str, Any], str], PhysicalResource]] = {
        QUEUE: lambda _id, props, name: _create_queue(sqs, resolver, props, name),
        TABLE: lambda _id, props, name: _create_table(dynamodb, resolver, props, name),
        BUCKET: lambda _id, props, name: _create_bucket(s3, resolver, props, name),
        SCHEDULE_GROUP: lambda _id, props, name: _create_schedule_group(scheduler, name),
        SCHEDULE: lambda _id, props, name: _create_schedule(scheduler, resolver, props, name),
        ROLE: lambda _id, props, name: _role(name, physical.account_id),
        SECRET: lambda _id, props, name: _create_secret(
            secretsmanager or _client_beside(sqs, factory, "secretsmanager"), name
        ),
    }
    for logical_id in _creation_order(template):
        name = resource_name(template, logical_id, prefix=prefix, suffix=suffix, resolver=resolver)
        create = creators[resource(template, logical_id)["Type"]]
        created = create(logical_id, properties(template, logical_id), name)
        physical.resources[logical_id] = created
        if "Arn" in created.attributes and created.attributes["Arn"].count(":") >= 5:
            account_id = created.attributes["Arn"].split(":")[4]
            physical.account_id = account_id or physical.account_id
    return physical


def _scheduler_beside(sqs: SQSClient, factory: Callable[..., Any]) -> EventBridgeSchedulerClient:
    client: EventBridgeSchedulerClient = _client_beside(sqs, factory, "scheduler")
    return client


def _client_beside(sqs: SQSClient, factory: Callable[..., Any], service: str) -> Any:
    """A ``service`` client where the queues are: on a local endpoint (moto's server) that
    endpoint, never AWS's; else boto3's own choice (``mock_aws``, ``AWS_ENDPOINT_URL``)."""
    endpoint = sqs.meta.endpoint_url
    if (urlparse(endpoint).hostname or "").endswith(".amazonaws.com"):
        return factory(service, region_name=sqs.meta.region_name)
    return factory(service, endpoint_url=endpoint, region_name=sqs.meta.region_name)


def _create_secret(client: Any, name: str) -> PhysicalResource:
    """The secret ``name`` with a fresh random value (an existing one is kept as it is)."""
    try:
        arn = client.create_secret(Name=name, SecretString=secrets.token_urlsafe(48))["ARN"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceExistsException":
            raise
        arn = client.describe_secret(SecretId=name)["ARN"]
    return PhysicalResource(arn, {"Id": arn})


def _creation_order(template: Template) -> list[str]:
    """Supported resources, each after the supported resources its properties refer to."""
    pending = {
        logical_id: definition
        for logical_id, definition in template["Resources"].items()
        if definition.get("Type") in SUPPORTED_TYPES
    }
    order: list[str] = []
    while pending:
        ready = [
            logical_id
            for logical_id, definition in pending.items()
            if not (references(definition.get("Properties") or {}) & pending.keys())
        ]
        if not ready:
            raise TemplateError(f"circular references among {', '.join(sorted(pending))}")
        for logical_id in ready:
            order.append(logical_id)
            del pending[logical_id]
    return order


def _attribute_value(name: str, value: Any) -> str:
    if name == "RedrivePolicy" and isinstance(value, dict) and "maxReceiveCount" in value:
        value = {**value, "maxReceiveCount": int(value["maxReceiveCount"])}
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _create_queue(
    sqs: SQSClient, resolver: Resolver, props: Mapping[str, Any], name: str
) -> PhysicalResource:
    # Resolved together, so that a property an !If turns into AWS::NoValue is simply absent.
    resolved: Mapping[str, Any] = resolver.resolve(
        {key: props[key] for key in _QUEUE_ATTRIBUTES if key in props}
    )
    attributes: dict[QueueAttributeNameType, str] = {
        key: _attribute_value(key, resolved[key]) for key in _QUEUE_ATTRIBUTES if key in resolved
    }
    if attributes.get("FifoQueue") == "false":
        del attributes["FifoQueue"]  # SQS accepts FifoQueue only as "true"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return _queue(url, arn)


def _queue(url: str, arn: str) -> PhysicalResource:
    return PhysicalResource(url, {"Arn": arn, "QueueName": arn.split(":")[-1], "QueueUrl": url})


def _create_table(
    dynamodb: DynamoDBClient, resolver: Resolver, props: Mapping[str, Any], name: str
) -> PhysicalResource:
    spec = resolver.resolve(dict(props))
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": spec["KeySchema"],
        "AttributeDefinitions": spec["AttributeDefinitions"],
        "BillingMode": spec.get("BillingMode", "PROVISIONED"),
    }
    for key in (
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "ProvisionedThroughput",
        "TableClass",
        "DeletionProtectionEnabled",
    ):
        if key in spec:
            request[key] = spec[key]
    if "StreamSpecification" in spec:
        request["StreamSpecification"] = {"StreamEnabled": True, **spec["StreamSpecification"]}
    if "SSESpecification" in spec:
        sse = spec["SSESpecification"]
        request["SSESpecification"] = {
            "Enabled": str(sse.get("SSEEnabled", False)).lower() == "true",
            **{key: sse[key] for key in ("SSEType", "KMSMasterKeyId") if key in sse},
        }
    try:
        description = dynamodb.create_table(**request)["TableDescription"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        description = dynamodb.describe_table(TableName=name)["Table"]
    dynamodb.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    ttl = spec.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled", False)).lower() == "true":
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    recovery = spec.get("PointInTimeRecoverySpecification") or {}
    if str(recovery.get("PointInTimeRecoveryEnabled", False)).lower() == "true":
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    attributes = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return PhysicalResource(name, attributes)


def _create_bucket(
    s3: S3Client, resolver: Resolver, props: Mapping[str, Any], name: str
) -> PhysicalResource:
    """The bucket, with the settings that change behaviour: versioning, public access block.

    Encryption, lifecycle and ownership rules change nothing a local client can observe.
    """
    region = s3.meta.region_name
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(
                Bucket=name,
                CreateBucketConfiguration={
                    "LocationConstraint": cast("BucketLocationConstraintType", region)
                },
            )
    except ClientError as error:
        if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    versioning = resolver.resolve(props.get("VersioningConfiguration") or {})
    if versioning.get("Status"):
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": versioning["Status"]}
        )
    public_access = resolver.resolve(props.get("PublicAccessBlockConfiguration") or {})
    if public_access:

        def flag(key: str) -> bool:
            return str(public_access.get(key, False)).lower() == "true"

        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": flag("BlockPublicAcls"),
                "IgnorePublicAcls": flag("IgnorePublicAcls"),
                "BlockPublicPolicy": flag("BlockPublicPolicy"),
                "RestrictPublicBuckets": flag("RestrictPublicBuckets"),
            },
        )
    return _bucket(name, region)


def _create_schedule_group(scheduler: EventBridgeSchedulerClient, name: str) -> PhysicalResource:
    # Looked up first: moto's CreateScheduleGroup replaces a group that exists (AWS refuses
    # with a ConflictException), and with it every schedule a restored stack kept.
    try:
        arn = scheduler.get_schedule_group(Name=name)["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    else:
        return PhysicalResource(name, {"Arn": arn})
    try:
        arn = scheduler.create_schedule_group(Name=name)["ScheduleGroupArn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConflictException":
            raise
        arn = scheduler.get_schedule_group(Name=name)["Arn"]
    return PhysicalResource(name, {"Arn": arn})


def _schedule_group(name: str, region: str, account_id: str) -> PhysicalResource:
    return PhysicalResource(
        name, {"Arn": f"arn:aws:scheduler:{region}:{account_id}:schedule-group/{name}"}
    )


def _schedule_group_name(resolver: Resolver, props: Mapping[str, Any]) -> str:
    return resolver.resolve_string(props["GroupName"]) if "GroupName" in props else "default"


def _create_schedule(
    scheduler: EventBridgeSchedulerClient,
    resolver: Resolver,
    props: Mapping[str, Any],
    name: str,
) -> PhysicalResource:
    """A schedule as CloudFormation would create it; one that exists is left as it is."""
    resolved: Mapping[str, Any] = resolver.resolve(
        {key: props[key] for key in _SCHEDULE_PARAMETERS if key in props}
    )
    group = _schedule_group_name(resolver, props)
    request: dict[str, Any] = {
        key: resolved[key] for key in _SCHEDULE_PARAMETERS if key in resolved
    }
    target = dict(request.get("Target") or {})
    retry = target.get("RetryPolicy")
    if retry:  # numbers arrive as template strings or ints
        target["RetryPolicy"] = {key: int(value) for key, value in retry.items()}
    request["Target"] = target
    try:
        arn = scheduler.create_schedule(Name=name, GroupName=group, **request)["ScheduleArn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConflictException":
            raise
        arn = scheduler.get_schedule(Name=name, GroupName=group)["Arn"]
    return PhysicalResource(name, {"Arn": arn})


def _schedule(name: str, group: str, region: str, account_id: str) -> PhysicalResource:
    return PhysicalResource(
        name, {"Arn": f"arn:aws:scheduler:{region}:{account_id}:schedule/{group}/{name}"}
    )


def _role(name: str, account_id: str) -> PhysicalResource:
    return PhysicalResource(name, {"Arn": f"arn:aws:iam::{account_id}:role/{name}"})


def _bucket(name: str, region: str) -> PhysicalResource:
    return PhysicalResource(
        name,
        {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        },
    )
