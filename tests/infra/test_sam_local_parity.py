"""What `sam local invoke` needs besides the template stays in step with it.

``sam local invoke <LogicalId> -e infra/events/<LogicalId>/<event>.json`` with
``--env-vars infra/env.json`` (samconfig.toml's default) works for every function only when
each function has sample events of the shape its trigger sends, and an env.json entry naming
exactly the variables the template gives it: SAM passes only variables the template declares,
and silently ignores the others, so a stale entry would hide a missing setting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
    SqsModel,
)
from pydantic import BaseModel, ValidationError

from infra.local.resources import planned_physical
from infra.local.template import (
    Template,
    function_environment,
    function_properties,
    load_template,
    logical_ids,
)
from tests.sample_events import EVENTS_DIR, event_files, function_event_params

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_JSON = REPO_ROOT / "infra" / "env.json"

FUNCTIONS = logical_ids(load_template(), "AWS::Serverless::Function")
API_EVENT_TYPES = {"HttpApi", "Api"}


def event_types(template: Template, function_id: str) -> set[str]:
    events = function_properties(template, function_id).get("Events") or {}
    return {str(event.get("Type")) for event in events.values()}


def parses_as(model: type[BaseModel], event: dict[str, Any]) -> bool:
    try:
        model.model_validate(event)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_every_function_has_a_sample_event(function_id: str) -> None:
    # GIVEN a function of template.yaml
    # THEN `sam local invoke` has at least one event to give it
    assert event_files(function_id), f"add a sample event under infra/events/{function_id}/"


def test_events_are_only_for_functions_of_the_template() -> None:
    # GIVEN the event folders
    folders = {path.name for path in EVENTS_DIR.iterdir() if path.is_dir()}
    # THEN each is named after a function (a renamed function leaves no orphan behind)
    assert folders <= set(FUNCTIONS)


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_env_json_names_exactly_the_variables_the_template_sets(
    template: Template, function_id: str
) -> None:
    # GIVEN infra/env.json, and the variables the template gives the function (Globals merged,
    # conditional ones resolved with the parameters' defaults)
    env_json: dict[str, Any] = json.loads(ENV_JSON.read_text())
    declared = function_environment(template, function_id, planned_physical(template))
    # THEN the function has an entry naming every one of them and nothing else
    assert function_id in env_json, f"infra/env.json has no entry for {function_id}"
    entry = env_json[function_id]
    assert set(entry) - set(declared) == set(), "in env.json, not set by the template"
    assert set(declared) - set(entry) == set(), "set by the template, missing from env.json"
    assert all(isinstance(value, str) for value in entry.values())


def test_env_json_names_only_functions_of_the_template() -> None:
    env_json: dict[str, Any] = json.loads(ENV_JSON.read_text())
    # "Parameters" is SAM's section for variables of every function.
    assert set(env_json) - {"Parameters"} <= set(FUNCTIONS)


@pytest.mark.parametrize(
    ("function_id", "event_file"),
    function_event_params(FUNCTIONS),
)
def test_every_sample_event_has_the_shape_its_trigger_sends(
    template: Template, function_id: str, event_file: Path
) -> None:
    event: dict[str, Any] = json.loads(event_file.read_text())
    types = event_types(template, function_id)
    if types and types <= API_EVENT_TYPES:
        # An API Gateway proxy event: HTTP API payload 2.0, or REST API (payload 1.0)
        is_v2 = parses_as(APIGatewayProxyEventV2Model, event)
        is_v1 = parses_as(APIGatewayProxyEventModel, event)
        assert is_v2 != is_v1, f"{event_file.name} must parse as exactly one of v2 or v1"
        assert is_v2 == (event.get("version") == "2.0")
    elif types == {"SQS"}:
        SqsModel.model_validate(event)
    else:
        pytest.fail(f"{function_id} has events of types {sorted(types)}: check their shape here")
