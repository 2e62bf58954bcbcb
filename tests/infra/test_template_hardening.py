"""template.yaml keeps its production hardening: auth, throttling, logs, alarms, FIFO option.

Each promise is checked on the template as written and, where SAM expands it (the HTTP API's
OpenAPI document, the functions' IAM roles), on SAM's own translation of it too, so that an
edit cannot drop one without a test failing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.template import (
    TEMPLATE_PATH,
    Physical,
    Resolver,
    function_properties,
    logical_ids,
    properties,
    resource,
    sqs_event_settings,
)
from tests.sam_cli import run_sam_python

Template = dict[str, Any]

API = "HttpApi"
AUTHORIZER = "JwtAuthorizer"
PUBLIC_ROUTES = {("GET", "/health"), ("GET", "/docs"), ("GET", "/openapi.json")}
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example"
AUDIENCE = "example-client-id"
AUTH_ON = {"AuthEnabled": "true", "JwtIssuer": ISSUER, "JwtAudience": AUDIENCE}
AUTH_OFF = {"AuthEnabled": "false"}
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"

# What `sam validate` (without --lint) does: SAM's transform, offline, printed as JSON.
TRANSLATE = """
import json, sys
import boto3
from samcli.lib.translate.sam_template_validator import SamTemplateValidator
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader

with open(sys.argv[1], encoding="utf-8") as stream:
    template = yaml_parse(stream.read())
loader = ManagedPolicyLoader(boto3.client("iam", region_name="us-east-1"))
validator = SamTemplateValidator(template, loader, region="us-east-1")
print(json.dumps(yaml_parse(validator.get_translated_template_if_valid())))
"""


def resolve(template: Template, value: Any, parameters: dict[str, str] | None = None) -> Any:
    """``value`` with its parameter-driven intrinsics evaluated; None if it is AWS::NoValue."""
    return Resolver(template, Physical(), parameters).resolve({"value": value}).get("value")


def http_api_events(template: Template) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(function, event name, event properties) of every HttpApi event in the template."""
    for function_id in logical_ids(template, "AWS::Serverless::Function"):
        events = function_properties(template, function_id).get("Events") or {}
        for name, event in events.items():
            if event.get("Type") == "HttpApi":
                yield function_id, name, event.get("Properties") or {}


def route(event: dict[str, Any]) -> tuple[str, str]:
    return str(event["Method"]).upper(), str(event["Path"])


def openapi_methods(body: dict[str, Any]) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
    """((METHOD, path), operation) of every operation in an OpenAPI document."""
    for path, item in body["paths"].items():
        for method, operation in item.items():
            name = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            yield (name, path), operation


def cfn_lint_config(definition: dict[str, Any]) -> dict[str, Any]:
    """A resource's cfn-lint settings (Metadata.cfn-lint.config), empty when it has none."""
    config: dict[str, Any] = ((definition.get("Metadata") or {}).get("cfn-lint") or {}).get(
        "config"
    ) or {}
    return config


# -- authentication ------------------------------------------------------------------------------


def test_auth_is_on_by_default_and_needs_an_issuer_and_audience(template: Template) -> None:
    # GIVEN the auth parameters
    parameters = template["Parameters"]
    # THEN auth is on unless a stage turns it off, and only "true"/"false" are accepted
    assert parameters["AuthEnabled"]["Default"] == "true"
    assert set(parameters["AuthEnabled"]["AllowedValues"]) == {"true", "false"}
    assert template["Conditions"]["AuthOn"] == {"Fn::Equals": [{"Ref": "AuthEnabled"}, "true"]}
    # AND with auth on, CloudFormation refuses to deploy without an issuer and an audience
    rule = template["Rules"]["JwtSettingsWhenAuthEnabled"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "AuthEnabled"}, "true"]}
    asserted = [assertion["Assert"] for assertion in rule["Assertions"]]
    assert asserted == [
        {"Fn::Not": [{"Fn::Equals": [{"Ref": name}, ""]}]} for name in ("JwtIssuer", "JwtAudience")
    ]
    assert re.fullmatch(parameters["JwtIssuer"]["AllowedPattern"], ISSUER)
    assert not re.fullmatch(parameters["JwtIssuer"]["AllowedPattern"], "http://insecure.example")


def test_jwt_authorizer_is_the_apis_default(template: Template) -> None:
    # GIVEN the HTTP API's auth settings
    auth = properties(template, API)["Auth"]
    # THEN one JWT authorizer reads the Authorization header and is every route's default
    assert set(auth["Authorizers"]) == {AUTHORIZER}
    authorizer = auth["Authorizers"][AUTHORIZER]
    assert authorizer["IdentitySource"] == "$request.header.Authorization"
    assert auth["DefaultAuthorizer"] == AUTHORIZER
    # AND it checks the issuer and audience the stage is deployed with
    jwt = resolve(template, authorizer["JwtConfiguration"], AUTH_ON)
    assert jwt == {"issuer": ISSUER, "audience": [AUDIENCE]}


def test_only_health_and_the_docs_are_public(template: Template) -> None:
    # GIVEN every HttpApi event of every function
    events = list(http_api_events(template))
    assert events
    public = {
        route(event)
        for _, _, event in events
        if (event.get("Auth") or {}).get("Authorizer") == "NONE"
    }
    # THEN exactly /health and the docs opt out of the authorizer
    assert public == PUBLIC_ROUTES
    for function_id, name, event in events:
        # AND every route belongs to the authorized API (an event without ApiId would make SAM
        # create a second, implicit API with no authorizer at all)
        assert event.get("ApiId") == {"Ref": API}, (function_id, name)
        # AND every other route uses the default authorizer (no other authorizer, no NONE)
        if route(event) not in PUBLIC_ROUTES:
            assert (event.get("Auth") or {}).get("Authorizer") in (None, AUTHORIZER), name


def test_catch_all_routes_need_a_token_unless_auth_is_off(template: Template) -> None:
    # GIVEN the operations the template defines itself (the catch-all routes)
    body = properties(template, API)["DefinitionBody"]
    operations = dict(openapi_methods(body))
    assert set(operations) == {("ANY", "/"), ("ANY", "/{proxy+}")}
    for operation in operations.values():
        # THEN with auth on (the default) they need the JWT authorizer
        assert resolve(template, operation["security"]) == [{AUTHORIZER: []}]
        assert resolve(template, operation["security"], AUTH_ON) == [{AUTHORIZER: []}]
        # AND only AuthEnabled=false makes them public
        assert resolve(template, operation["security"], AUTH_OFF) == [{"NONE": []}]


def test_the_public_routes_are_the_apps_health_check_and_docs() -> None:
    # GIVEN the FastAPI app
    from app.api.main import create_app

    app = create_app()
    operations = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    # THEN the routes the template leaves public are where the app serves them
    assert {("GET", app.docs_url), ("GET", app.openapi_url)} | {("GET", "/health")} == (
        PUBLIC_ROUTES
    )
    assert ("GET", "/health") in operations


# -- throttling and logs -------------------------------------------------------------------------


def test_every_route_is_throttled_stage_wide(template: Template) -> None:
    settings = properties(template, API)["DefaultRouteSettings"]
    assert int(settings["ThrottlingBurstLimit"]) > 0
    assert int(settings["ThrottlingRateLimit"]) > 0


def test_api_access_logs_are_json_in_a_log_group_that_expires(template: Template) -> None:
    # GIVEN the HTTP API's access log settings
    settings = properties(template, API)["AccessLogSettings"]
    # THEN they go to the stack's own log group, which expires
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert resource(template, "ApiAccessLogGroup")["Type"] == "AWS::Logs::LogGroup"
    assert int(properties(template, "ApiAccessLogGroup")["RetentionInDays"]) > 0
    # AND each line is JSON naming the request, route, status and any authorizer error
    line = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", settings["Format"]))
    fields = set(re.findall(r"\$context\.([A-Za-z.]+)", settings["Format"]))
    assert {"requestId", "routeKey", "status", "authorizer.error"} <= fields
    assert len(line) == len(fields)


def test_every_function_logs_to_its_own_expiring_log_group(template: Template) -> None:
    # GIVEN every log group of the template, by name
    groups = {
        json.dumps(properties(template, group_id)["LogGroupName"]): group_id
        for group_id in logical_ids(template, "AWS::Logs::LogGroup")
        if "LogGroupName" in properties(template, group_id)
    }
    functions = logical_ids(template, "AWS::Serverless::Function")
    assert functions
    for function_id in functions:
        props = function_properties(template, function_id)
        # THEN Lambda writes to /aws/lambda/<function name>, the name the stack creates ...
        assert "FunctionName" not in props, function_id
        assert "LogGroup" not in (props.get("LoggingConfig") or {}), function_id
        name = json.dumps({"Fn::Sub": f"/aws/lambda/${{{function_id}}}"})
        assert name in groups, f"{function_id} has no log group of its own"
        # ... with a retention, so logs are not kept (and paid for) forever
        group = properties(template, groups[name])
        assert int(group["RetentionInDays"]) > 0, function_id
    # AND no log group of the stack keeps its logs forever
    for group_id in logical_ids(template, "AWS::Logs::LogGroup"):
        assert int(properties(template, group_id)["RetentionInDays"]) > 0, group_id


# -- dead-letter alarm ---------------------------------------------------------------------------


def test_a_message_in_the_dead_letter_queue_raises_an_alarm(template: Template) -> None:
    # GIVEN the template's alarms on the DLQ
    (alarm_id,) = [
        alarm_id
        for alarm_id in logical_ids(template, "AWS::CloudWatch::Alarm")
        if properties(template, alarm_id).get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}]
    ]
    alarm = properties(template, alarm_id)
    # THEN it fires as soon as one message is visible there
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert alarm["Statistic"] == "Maximum"
    assert int(alarm["EvaluationPeriods"]) * int(alarm["Period"]) <= 300
    # AND it notifies the topic a stage names, and nobody when none is named
    parameter = template["Parameters"]["AlarmTopicArn"]
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], TOPIC)
    for actions in ("AlarmActions", "OKActions"):
        assert resolve(template, alarm[actions]) is None
        assert resolve(template, alarm[actions], {"AlarmTopicArn": TOPIC}) == [TOPIC]


# -- FIFO option ---------------------------------------------------------------------------------


@pytest.mark.parametrize("queue_id", ["TaskQueue", "DeadLetterQueue"])
def test_queue_type_makes_both_queues_fifo_together(template: Template, queue_id: str) -> None:
    parameter = template["Parameters"]["QueueType"]
    assert parameter["Default"] == "Standard"
    assert set(parameter["AllowedValues"]) == {"Standard", "Fifo"}
    props = properties(template, queue_id)
    # THEN by default the queue is a standard one (no FIFO properties at all) ...
    assert resolve(template, props["FifoQueue"]) is None
    assert resolve(template, props["ContentBasedDeduplication"]) is None
    # ... and with QueueType=Fifo a FIFO queue deduplicating by the sender's id; the task
    # queue also by content, which EventBridge Scheduler requires of a FIFO target
    assert resolve(template, props["FifoQueue"], {"QueueType": "Fifo"}) is True
    content_based = resolve(template, props["ContentBasedDeduplication"], {"QueueType": "Fifo"})
    assert content_based is (queue_id == "TaskQueue")
    # AND a named queue's name ends in .fifo exactly when it is a FIFO queue
    if "QueueName" in props:
        standard = resolve(template, props["QueueName"])
        fifo = resolve(template, props["QueueName"], {"QueueType": "Fifo"})
        assert not standard.endswith(".fifo")
        assert fifo == f"{standard}.fifo"


def test_worker_batching_window_is_dropped_for_fifo_queues(template: Template) -> None:
    # Lambda rejects a batching window on an SQS FIFO event source mapping.
    assert sqs_event_settings(template, "WorkerFunction").batching_window_seconds == 1
    fifo = sqs_event_settings(template, "WorkerFunction", parameters={"QueueType": "Fifo"})
    assert fifo.batching_window_seconds == 0
    assert fifo.batch_size <= 10  # SQS FIFO's limit


# -- checker suppressions ------------------------------------------------------------------------


def test_every_ignored_cfn_lint_rule_gives_a_reason(template: Template) -> None:
    # GIVEN the template's text and its resource-level cfn-lint ignores
    lines = TEMPLATE_PATH.read_text().splitlines()
    ignored = [
        (logical_id, rule)
        for logical_id, definition in template["Resources"].items()
        for rule in cfn_lint_config(definition).get("ignore_checks", [])
    ]
    assert "cfn-lint" not in (template.get("Metadata") or {}), "ignore per resource, not globally"
    for logical_id, rule in ignored:
        # THEN each ignored rule is listed under a comment of at least a sentence
        (index,) = [i for i, line in enumerate(lines) if line.strip() == f"- {rule}"]
        comment = []
        while lines[index - 1].strip().startswith("#"):
            index -= 1
            comment.append(lines[index].strip("# "))
        assert len(" ".join(comment).split()) >= 8, (logical_id, rule)


# -- SAM's translation -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def translated() -> Template:
    """template.yaml as SAM translates it (the pinned SAM CLI under .tools/sam), offline."""
    translated = run_sam_python(TRANSLATE, str(TEMPLATE_PATH), timeout=90)
    document: Template = json.loads(translated)
    return document


def test_translated_api_authorizes_every_route_but_the_public_ones(translated: Template) -> None:
    # GIVEN the HTTP API's OpenAPI document as SAM writes it
    (api_id,) = logical_ids(translated, "AWS::ApiGatewayV2::Api")
    body = properties(translated, api_id)["Body"]
    operations = dict(openapi_methods(body))
    assert set(operations) > PUBLIC_ROUTES
    # THEN the authorizer is API Gateway's JWT authorizer for the stage's issuer and audience
    scheme = body["components"]["securitySchemes"][AUTHORIZER]["x-amazon-apigateway-authorizer"]
    assert scheme["type"] == "jwt"
    assert resolve(translated, scheme["jwtConfiguration"], AUTH_ON) == {
        "issuer": ISSUER,
        "audience": [AUDIENCE],
    }
    for key, operation in operations.items():
        # AND every operation says who may call it
        security = operation["security"]
        if key in PUBLIC_ROUTES:
            # the public ones: anybody, whatever AuthEnabled says
            assert security == [{"NONE": []}], key
        else:
            # every other one: a token holder, unless the stage turned auth off
            assert resolve(translated, security) == [{AUTHORIZER: []}], key
            assert resolve(translated, security, AUTH_ON) == [{AUTHORIZER: []}], key
            assert resolve(translated, security, AUTH_OFF) == [{"NONE": []}], key
    # AND with auth off, no operation is left attached to the authorizer
    for operation in operations.values():
        assert AUTHORIZER not in json.dumps(resolve(translated, operation["security"], AUTH_OFF))


def test_translated_stage_throttles_and_logs_every_request(translated: Template) -> None:
    (stage_id,) = logical_ids(translated, "AWS::ApiGatewayV2::Stage")
    stage = properties(translated, stage_id)
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert stage["AccessLogSettings"]["DestinationArn"] == {
        "Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]
    }
    # AND no other API (an implicit one, without authorizer or throttle) exists
    assert logical_ids(translated, "AWS::ApiGatewayV2::Api") == [stage["ApiId"]["Ref"]]


def test_translated_functions_each_have_an_expiring_log_group(translated: Template) -> None:
    names = {
        json.dumps(properties(translated, group_id)["LogGroupName"]): group_id
        for group_id in logical_ids(translated, "AWS::Logs::LogGroup")
        if "LogGroupName" in properties(translated, group_id)
    }
    functions = logical_ids(translated, "AWS::Lambda::Function")
    assert functions
    for function_id in functions:
        group_id = names[json.dumps({"Fn::Sub": f"/aws/lambda/${{{function_id}}}"})]
        assert int(properties(translated, group_id)["RetentionInDays"]) > 0


def test_translated_roles_allow_no_wildcard_action(translated: Template) -> None:
    # GIVEN every inline statement of the roles SAM makes (policy templates expanded)
    found = [
        (role_id, statement)
        for role_id in logical_ids(translated, "AWS::IAM::Role")
        for policy in properties(translated, role_id).get("Policies") or []
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    assert found
    for role_id, statement in found:
        if statement["Effect"] != "Allow":
            continue
        action = statement["Action"]
        # THEN each Allow names its actions outright
        for name in [action] if isinstance(action, str) else action:
            assert "*" not in name, (role_id, statement)


# -- least privilege, on SAM's translation -------------------------------------------------------

# Managed policies a role may carry, with what AWS documents they allow: logs and X-Ray only
# (neither supports narrower resources for these calls). Any other managed policy fails the
# test below until someone audits it here, as AWSLambdaSQSQueueExecutionRole (receive and
# delete on every queue) or AmazonDynamoDBFullAccess would.
AUDITED_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    },
    "AWSXrayWriteOnlyAccess": {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    },
}
DATA_PLANE = ("sqs:", "dynamodb:", "s3:", "ses:")


def managed_policy_name(arn: Any) -> str:
    text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
    return str(text).rsplit("/", 1)[-1]


def resource_texts(resource: Any) -> list[str]:
    """Each resource of a statement as text (intrinsics as their JSON), to look for wildcards."""
    items = resource if isinstance(resource, list) else [resource]
    return [item if isinstance(item, str) else json.dumps(item) for item in items]


def test_translated_roles_grant_no_wildcard_data_plane_access(translated: Template) -> None:
    roles = logical_ids(translated, "AWS::IAM::Role")
    assert set(roles) >= {"ApiFunctionRole", "WorkerRole"}
    for role_id in roles:
        role = properties(translated, role_id)
        # GIVEN every managed policy SAM or the template attached
        for arn in role.get("ManagedPolicyArns") or []:
            name = managed_policy_name(arn)
            # THEN each is one audited above, and grants no data-plane action at all
            assert name in AUDITED_MANAGED_POLICIES, (role_id, name)
            assert not [a for a in AUDITED_MANAGED_POLICIES[name] if a.startswith(DATA_PLANE)]
        # AND every inline Allow on SQS, DynamoDB, S3 or SES names resources of this stack
        for policy in role.get("Policies") or []:
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement["Effect"] != "Allow":
                    continue
                action = statement["Action"]
                names = [action] if isinstance(action, str) else action
                if not [name for name in names if name.startswith(DATA_PLANE)]:
                    continue
                for text in resource_texts(statement["Resource"]):
                    assert text != "*", (role_id, statement)
                    # A wildcard only ends an S3 key prefix inside the stack's bucket.
                    if "*" in text:
                        assert text.endswith('*"}'), (role_id, statement)
                        assert "${UploadsBucket.Arn}/" in text, (role_id, statement)


def test_translated_worker_runs_with_its_own_role(translated: Template) -> None:
    # THEN SAM generated no role for the worker (it would carry AWSLambdaSQSQueueExecutionRole)
    (worker,) = [
        function_id
        for function_id in logical_ids(translated, "AWS::Lambda::Function")
        if properties(translated, function_id)["Handler"] == "app.worker.handler.handler"
    ]
    assert properties(translated, worker)["Role"] == {"Fn::GetAtt": ["WorkerRole", "Arn"]}
    assert f"{worker}Role" not in translated["Resources"]
    # AND its event source mapping reads the task queue with that role's grants
    (mapping,) = logical_ids(translated, "AWS::Lambda::EventSourceMapping")
    assert properties(translated, mapping)["EventSourceArn"] == {"Fn::GetAtt": ["TaskQueue", "Arn"]}
    statements = [
        statement
        for policy in properties(translated, "WorkerRole")["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    polling = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    [consume] = [st for st in statements if polling <= set(st["Action"])]
    assert consume["Resource"] == {"Fn::GetAtt": ["TaskQueue", "Arn"]}


def test_translated_api_role_sends_email_only_as_the_sender(translated: Template) -> None:
    statements = [
        statement
        for policy in properties(translated, "ApiFunctionRole")["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    ses = [st for st in statements if any(a.startswith("ses:") for a in st["Action"])]
    assert [st["Action"] for st in ses] == [["ses:SendEmail"]]
    assert ses[0]["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}
