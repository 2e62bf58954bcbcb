"""The app behind each URL prefix API Gateway puts before its routes, with AWS's own events.

Where API Gateway puts the prefix (app.lambda_runtime.prefixes): a REST API's stage on its
default endpoint in ``requestContext.path`` only; an HTTP API's named stage in ``rawPath``; a
custom domain's mapping (HTTP API mapping key, REST base path mapping) in the path, named by
no field, so the deployment names it (``ApiBasePath`` → ``API_BASE_PATH``, off by default).
In each case the route is found, ``/docs`` points at the prefixed ``openapi.json`` (whose
``servers`` carry the prefix), and a queued task's ``Location`` is a URL the client can follow.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.config import get_settings
from tests.functional.stack import Stack
from tests.lambda_context import FakeContext
from tests.published_events import PublishedEvent, http_api_payload_1, retarget, sam

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
UPLOAD = "uploads/local/report.csv"


@dataclass(frozen=True)
class Deployment:
    """How the client reaches the API: which event, under which prefix, with which base path."""

    name: str
    source: Callable[[], PublishedEvent]
    prefix: str  # what the client's URL has before the app's routes
    base_path: str = ""  # ApiBasePath
    stage: str | None = None  # requestContext.stage, when not the published event's
    domain: str | None = None  # requestContext.domainName: a custom domain

    def event(self, method: str, route: str, query: str = "") -> dict[str, Any]:
        """The request ``method prefix+route`` as API Gateway sends it for this deployment."""
        published = self.source().copy()
        rest = "version" not in published  # payload 1.0 has the REST fields, the HTTP API's paths
        # A REST API's path is the route alone on its default endpoint (the stage is only in
        # requestContext.path), the whole client path behind a custom domain.
        path = route if rest and self.domain is None else self.prefix + route
        event = retarget(published, method, path, query)
        context = event["requestContext"]
        if self.stage is not None:
            context["stage"] = self.stage
        if rest:
            stage = context["stage"]
            context["path"] = f"/{stage}{route}" if self.domain is None else path
        if self.domain is not None:
            context["domainName"] = self.domain
            context["domainPrefix"] = self.domain.split(".")[0]
        return event


def http_api() -> PublishedEvent:
    return sam("apigateway", "http-api-proxy")


def rest_api() -> PublishedEvent:
    return sam("apigateway", "aws-proxy")


DEPLOYMENTS = [
    # SAM's REST event is on the default endpoint, stage "prod"
    Deployment("rest-default-endpoint", rest_api, prefix="/prod"),
    # SAM's HTTP API event is on the $default stage: no prefix
    Deployment("http-api-default-stage", http_api, prefix=""),
    Deployment("http-api-named-stage", http_api, prefix="/dev", stage="dev"),
    Deployment("http-api-payload-1.0-named-stage", http_api_payload_1, prefix="/dev", stage="dev"),
    # A custom domain maps to a stage without the stage in the URL
    Deployment(
        "http-api-custom-domain",
        http_api,
        prefix="/v1",
        base_path="v1",
        stage="dev",
        domain="api.example.com",
    ),
    Deployment(
        "http-api-custom-domain-two-levels",
        http_api,
        prefix="/orders/v1",
        base_path="orders/v1",
        domain="api.example.com",
    ),
    Deployment(
        "rest-custom-domain", rest_api, prefix="/v1", base_path="v1", domain="api.example.com"
    ),
]


@pytest.fixture
def deployed(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Handler]]:
    """The API function's handler, with API_BASE_PATH (from ApiBasePath) set as given."""
    from app.api.handler import handler

    def load(base_path: str) -> Handler:
        monkeypatch.setenv("API_BASE_PATH", base_path)
        get_settings.cache_clear()
        return handler

    yield load
    monkeypatch.delenv("API_BASE_PATH")
    get_settings.cache_clear()


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d.name for d in DEPLOYMENTS])
def test_routes_docs_and_locations_carry_the_clients_prefix(
    stack: Stack, deployed: Callable[[str], Handler], deployment: Deployment
) -> None:
    # GIVEN the API function deployed this way, and one of the caller's uploads
    handler = deployed(deployment.base_path)
    stack.upload(UPLOAD, b"a,b\n")
    prefix = deployment.prefix

    def call(method: str, route: str, query: str = "") -> dict[str, Any]:
        return handler(deployment.event(method, route, query), FakeContext())

    # WHEN the client asks for {prefix}/health THEN the route answers
    health = call("GET", "/health")
    assert health["statusCode"] == 200, health["body"]
    assert json.loads(health["body"]) == {"status": "ok"}
    # WHEN it opens {prefix}/docs THEN the page loads the schema from under the prefix
    docs = call("GET", "/docs")
    assert docs["statusCode"] == 200
    assert f"url: '{prefix}/openapi.json'" in docs["body"]
    # ... and the schema names the prefix as its server
    schema = json.loads(call("GET", "/openapi.json")["body"])
    assert schema.get("servers") == ([{"url": prefix}] if prefix else None)
    # WHEN it queues a task THEN the Location is the status URL under the prefix
    accepted = call("POST", "/process/", f"file_path={UPLOAD}")
    assert accepted["statusCode"] == 202, accepted["body"]
    task_id = json.loads(accepted["body"])["task_id"]
    location = accepted["headers"]["location"]
    assert location == f"{prefix}/tasks/{task_id}"
    assert json.loads(accepted["body"])["status_url"] == location
    # ... which, followed, is the task's status
    assert location.startswith(prefix)
    status = call("GET", location.removeprefix(prefix))
    assert status["statusCode"] == 200, status["body"]
    assert json.loads(status["body"])["status"] == "queued"


def test_without_a_base_path_a_custom_domain_mapping_is_not_guessed(
    stack: Stack, deployed: Callable[[str], Handler]
) -> None:
    # GIVEN the default deployment (ApiBasePath empty) behind a mapping key "v1"
    handler = deployed("")
    mapped = Deployment("unset", http_api, prefix="/v1", domain="api.example.com")
    # WHEN a client calls api.example.com/v1/health
    response = handler(mapped.event("GET", "/health"), FakeContext())
    # THEN no prefix is stripped on a guess: the path reaches the router as sent
    assert response["statusCode"] == 404


def test_with_a_base_path_the_default_endpoint_still_serves(
    stack: Stack, deployed: Callable[[str], Handler]
) -> None:
    # GIVEN ApiBasePath=v1, and a request on the HTTP API's own endpoint ($default stage)
    handler = deployed("v1")
    direct = Deployment("direct", http_api, prefix="")
    # WHEN the client calls .../health there THEN it is served, links without a prefix
    response = handler(direct.event("GET", "/docs"), FakeContext())
    assert response["statusCode"] == 200
    assert "url: '/openapi.json'" in response["body"]


def test_a_custom_domain_whose_path_starts_like_the_stage_keeps_it(
    stack: Stack, deployed: Callable[[str], Handler]
) -> None:
    # GIVEN an HTTP API stage named "tasks", mapped at the root of a custom domain
    handler = deployed("")
    mapped = Deployment("root", http_api, prefix="", stage="tasks", domain="api.example.com")
    # WHEN a client calls api.example.com/tasks (the task listing)
    response = handler(mapped.event("GET", "/tasks"), FakeContext())
    # THEN the stage's name is not taken for a prefix: the listing answers
    assert response["statusCode"] == 200, response["body"]
    assert "tasks" in json.loads(response["body"])
