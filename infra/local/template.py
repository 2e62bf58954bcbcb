"""template.yaml as data, for the local stack.

The loader reads CloudFormation's short tags (``!Ref``, ``!GetAtt``, ``!Sub`` ...) as their
long forms, and a small resolver evaluates the intrinsics that the functions' settings and the
queue/table/bucket properties use, against the *local* physical resources. Everything the local
stack creates or exports is derived from the template through this module, so there is no
second copy of any setting to drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

Template = Mapping[str, Any]
"""A loaded template: the YAML document with short tags turned into long-form intrinsics."""

_SAM_FUNCTION = "AWS::Serverless::Function"
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_NO_VALUE = object()


class TemplateError(ValueError):
    """The template uses something the local stack cannot evaluate, or lacks what it needs."""


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """A SafeLoader that keeps dates as strings and understands CloudFormation short tags."""


def _construct_short_tag(loader: Any, tag_suffix: str, node: Any) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix in ("Ref", "Condition"):
        return {tag_suffix: value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_short_tag)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _CfnLoader.construct_yaml_str)


def load_template(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """Read a CloudFormation/SAM template, turning short tags into long-form intrinsics."""
    with Path(path).open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=_CfnLoader)  # a SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
    return document


@dataclass(frozen=True)
class PhysicalResource:
    """What CloudFormation's ``Ref`` and ``Fn::GetAtt`` return for one created resource."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Physical:
    """The local stack's physical resources, keyed by the template's logical ids."""

    region: str = "us-east-1"
    account_id: str = "123456789012"
    stack_name: str = "local"
    resources: dict[str, PhysicalResource] = field(default_factory=dict)

    def ref(self, logical_id: str) -> str:
        """``Ref`` of a resource: a queue's URL, a table's or bucket's name."""
        return self._get(logical_id).ref

    def attribute(self, logical_id: str, name: str) -> str:
        """``Fn::GetAtt`` of a resource, e.g. ``attribute("TaskQueue", "Arn")``."""
        resource = self._get(logical_id)
        try:
            return resource.attributes[name]
        except KeyError:
            raise TemplateError(
                f"the local stack has no attribute {name!r} for {logical_id}"
            ) from None

    def _get(self, logical_id: str) -> PhysicalResource:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TemplateError(f"{logical_id} has not been created in the local stack") from None


def resource(template: Template, logical_id: str) -> Mapping[str, Any]:
    """One resource's definition (Type, Properties ...)."""
    try:
        found: Mapping[str, Any] = template["Resources"][logical_id]
    except KeyError:
        raise TemplateError(f"template has no resource {logical_id!r}") from None
    return found


def properties(template: Template, logical_id: str) -> Mapping[str, Any]:
    """One resource's Properties (empty when it has none)."""
    props: Mapping[str, Any] = resource(template, logical_id).get("Properties") or {}
    return props


def logical_ids(template: Template, resource_type: str) -> list[str]:
    """Logical ids of every resource of one type, in template order."""
    return [
        logical_id
        for logical_id, definition in template["Resources"].items()
        if definition.get("Type") == resource_type
    ]


def parameter_values(
    template: Template, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every parameter's value: the override if given, else its Default, as a string."""
    overrides = dict(overrides or {})
    values: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if name in overrides:
            values[name] = overrides.pop(name)
        elif "Default" in spec:
            values[name] = _as_string(spec["Default"])
    if overrides:
        raise TemplateError(f"unknown parameter(s): {', '.join(sorted(overrides))}")
    return values


class Resolver:
    """Evaluates the intrinsics the local stack needs against local physical resources.

    Supported: Ref (parameters, pseudo parameters, resources), Fn::GetAtt, Fn::Sub, Fn::Join,
    Fn::Select, Fn::Split, Fn::If with the template's Conditions (Fn::Equals, Fn::Not,
    Fn::And, Fn::Or, Condition), and AWS::NoValue. Anything else raises TemplateError.
    """

    def __init__(
        self,
        template: Template,
        physical: Physical,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self._template = template
        self._physical = physical
        self._parameters = parameter_values(template, parameters)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic evaluated (AWS::NoValue entries dropped)."""
        resolved = self._resolve(value)
        if resolved is _NO_VALUE:
            raise TemplateError("AWS::NoValue cannot be a whole value")
        return resolved

    def resolve_string(self, value: Any) -> str:
        """``value`` evaluated and rendered as CloudFormation would pass it on (a string)."""
        return _as_string(self.resolve(value))

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = (self._resolve(item) for item in value)
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key.startswith("Fn::"):
                return self._function(key, argument)
        resolved = {key: self._resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self._physical.region,
            "AWS::AccountId": self._physical.account_id,
            "AWS::StackName": self._physical.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self._physical.region}:{self._physical.account_id}"
                f":stack/{self._physical.stack_name}/local"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in (self._template.get("Parameters") or {}):
            if name not in self._parameters:
                raise TemplateError(f"parameter {name} has no Default and no override")
            spec = self._template["Parameters"][name]
            if str(spec.get("Type", "")).startswith("CommaDelimitedList"):
                return [item.strip() for item in self._parameters[name].split(",")]
            return self._parameters[name]
        return self._physical.ref(name)

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Fn::GetAtt":
            logical_id, attribute = argument
            return self._physical.attribute(logical_id, self._resolve(attribute))
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Join":
            delimiter, items = argument
            return _as_string(self._resolve(delimiter)).join(
                _as_string(item) for item in self._resolve(items)
            )
        if name == "Fn::Select":
            index, items = argument
            return self._resolve(items)[int(self._resolve(index))]
        if name == "Fn::Split":
            delimiter, source = argument
            return _as_string(self._resolve(source)).split(_as_string(self._resolve(delimiter)))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self._resolve(when_true if self._condition(condition) else when_false)
        raise TemplateError(f"the local stack cannot evaluate {name}")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, raw_variables = argument
            variables = {key: self._resolve(value) for key, value in raw_variables.items()}

        def substitute(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return _as_string(variables[expression])
            if "." in expression and not expression.startswith("AWS::"):
                logical_id, attribute = expression.split(".", 1)
                return self._physical.attribute(logical_id, attribute)
            return _as_string(self._ref(expression))

        return _SUB_VARIABLE.sub(substitute, text)

    def truth(self, expression: Any) -> bool:
        """A condition expression (a Condition's, a Rule's RuleCondition or Assert) evaluated."""
        return self._truth(expression)

    def _condition(self, name: str) -> bool:
        conditions = self._template.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"template has no condition {name!r}")
        return self._truth(conditions[name])

    def _truth(self, expression: Any) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, argument),) = expression.items()
            if key == "Condition":
                return self._condition(argument)
            if key == "Fn::Equals":
                left, right = (_as_string(self._resolve(item)) for item in argument)
                return left == right
            if key == "Fn::Not":
                return not self._truth(argument[0])
            if key == "Fn::And":
                return all(self._truth(item) for item in argument)
            if key == "Fn::Or":
                return any(self._truth(item) for item in argument)
        raise TemplateError(f"unsupported condition expression: {expression!r}")


def _as_string(value: Any) -> str:
    """A value as CloudFormation renders it into a string property."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rule for maps: merged key by key, the resource's own value winning."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def function_properties(template: Template, logical_id: str) -> dict[str, Any]:
    """A SAM function's Properties with the template's Globals.Function merged in."""
    if resource(template, logical_id).get("Type") != _SAM_FUNCTION:
        raise TemplateError(f"{logical_id} is not an {_SAM_FUNCTION}")
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    return _merge(globals_, properties(template, logical_id))


# The parameters every local run uses (the local stack, sam local's env.json, the functional
# tests): there is no API Gateway, hence no authorizer, so every caller is the local owner.
LOCAL_PARAMETERS: Mapping[str, str] = {"AuthEnabled": "false"}


def function_environment(
    template: Template,
    logical_id: str,
    physical: Physical,
    parameters: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment variables a function gets (Globals merged), resolved locally."""
    variables = (function_properties(template, logical_id).get("Environment") or {}).get(
        "Variables"
    ) or {}
    resolver = Resolver(template, physical, parameters)
    resolved = resolver.resolve(variables)
    return {name: _as_string(value) for name, value in resolved.items()}


@dataclass(frozen=True)
class FunctionSettings:
    """The runtime settings of a function that an in-process invoke imitates."""

    handler: str
    timeout_seconds: int
    memory_size_mb: int


def function_settings(template: Template, logical_id: str) -> FunctionSettings:
    """Handler, Timeout (default 3 s) and MemorySize (default 128 MB), Globals merged."""
    props = function_properties(template, logical_id)
    if "Handler" not in props:
        raise TemplateError(f"{logical_id} has no Handler")
    return FunctionSettings(
        handler=str(props["Handler"]),
        timeout_seconds=int(props.get("Timeout", 3)),
        memory_size_mb=int(props.get("MemorySize", 128)),
    )


@dataclass(frozen=True)
class SqsEventSettings:
    """A function's SQS event source mapping, as the template declares it."""

    event_id: str
    queue_id: str
    batch_size: int
    batching_window_seconds: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None
    enabled: bool


# The SQS event properties read below; evaluated (they may be !If on parameters), unlike Queue.
_SQS_EVENT_SETTINGS = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
    "Enabled",
)


def sqs_event_settings(
    template: Template,
    function_id: str,
    event_id: str | None = None,
    parameters: Mapping[str, str] | None = None,
) -> SqsEventSettings:
    """The SQS event of a function (its only one unless ``event_id`` names it).

    Defaults are SAM's: BatchSize 10, MaximumBatchingWindowInSeconds 0, Enabled true. Settings
    may depend on parameters (``!If``), evaluated with ``parameters`` over their defaults.
    """
    events = function_properties(template, function_id).get("Events") or {}
    sqs_events = {name: event for name, event in events.items() if event.get("Type") == "SQS"}
    if event_id is None:
        if len(sqs_events) != 1:
            raise TemplateError(
                f"{function_id} has {len(sqs_events)} SQS events; name the one to use"
            )
        ((event_id, event),) = sqs_events.items()
    elif event_id in sqs_events:
        event = sqs_events[event_id]
    else:
        raise TemplateError(f"{function_id} has no SQS event {event_id!r}")
    raw: Mapping[str, Any] = event.get("Properties") or {}
    props: Mapping[str, Any] = Resolver(template, Physical(), parameters).resolve(
        {key: raw[key] for key in _SQS_EVENT_SETTINGS if key in raw}
    )
    scaling = props.get("ScalingConfig") or {}
    maximum_concurrency = scaling.get("MaximumConcurrency")
    return SqsEventSettings(
        event_id=event_id,
        queue_id=_arn_reference(raw.get("Queue"), f"{function_id}.Events.{event_id}.Queue"),
        batch_size=int(props.get("BatchSize", 10)),
        batching_window_seconds=int(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures="ReportBatchItemFailures"
        in (props.get("FunctionResponseTypes") or []),
        maximum_concurrency=None if maximum_concurrency is None else int(maximum_concurrency),
        enabled=bool(props.get("Enabled", True)),
    )


@dataclass(frozen=True)
class Redrive:
    """A queue's redrive policy: where messages go, and after how many receives."""

    dead_letter_queue_id: str
    max_receive_count: int


def redrive(
    template: Template, queue_id: str, parameters: Mapping[str, str] | None = None
) -> Redrive | None:
    """The RedrivePolicy of a queue in the template, or None if it has none."""
    policy = properties(template, queue_id).get("RedrivePolicy")
    if policy is None:
        return None
    if isinstance(policy, str):
        policy = json.loads(policy)
    count = policy.get("maxReceiveCount")
    if isinstance(count, dict) and "Ref" in count:
        count = parameter_values(template, parameters)[count["Ref"]]
    return Redrive(
        dead_letter_queue_id=_arn_reference(
            policy.get("deadLetterTargetArn"), f"{queue_id}.RedrivePolicy.deadLetterTargetArn"
        ),
        max_receive_count=int(count),
    )


def references(value: Any) -> set[str]:
    """Logical ids that ``value`` refers to through Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
                found.add(argument)
            elif key == "Fn::GetAtt":
                found.add(str(argument[0]))
            elif key == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                local = set() if isinstance(argument, str) else set(argument[1])
                for expression in _SUB_VARIABLE.findall(text):
                    name = expression.split(".", 1)[0]
                    if not name.startswith(("!", "AWS::")) and name not in local:
                        found.add(name)
                if not isinstance(argument, str):
                    found |= references(argument[1])
            else:
                found |= references(argument)
    return found


def _arn_reference(value: Any, where: str) -> str:
    """The logical id behind ``!GetAtt X.Arn``; a literal ARN names nothing local."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute == "Arn":
            return str(logical_id)
    raise TemplateError(f"{where} must be !GetAtt <LogicalId>.Arn of a resource in the template")
