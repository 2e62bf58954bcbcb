"""template.yaml's CloudWatch dashboard, its body resolved as CloudFormation would."""

import json
from typing import Any

from infra.local.resources import planned_physical
from infra.local.template import Physical, PhysicalResource, Resolver, properties

DASHBOARD = "TasksDashboard"
API_ID = "a1b2c3d4e5"


def stack_physical(template: dict[str, Any]) -> Physical:
    """The stack's resources as CloudFormation names them (stack "local"), the API included."""
    physical = planned_physical(template)
    physical.resources["HttpApi"] = PhysicalResource(API_ID)
    return physical


def dashboard_body(template: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's JSON with every ${...} substituted (CloudFormation's Fn::Sub)."""
    resolver = Resolver(template, stack_physical(template))
    text = resolver.resolve_string(properties(template, DASHBOARD)["DashboardBody"])
    body: dict[str, Any] = json.loads(text)
    return body


Metric = tuple[str, str, dict[str, str], str | None]


def graphed_metrics(body: dict[str, Any]) -> list[Metric]:
    """(namespace, metric, dimensions, statistic) of every metric every widget graphs."""
    found: list[Metric] = []
    for widget in body["widgets"]:
        settings = widget["properties"]
        for line in settings.get("metrics", []):
            options = line[-1] if isinstance(line[-1], dict) else {}
            namespace, metric, *pairs = line[:-1] if options else line
            dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
            found.append((namespace, metric, dimensions, options.get("stat", settings.get("stat"))))
    return found
