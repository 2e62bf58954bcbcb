"""Post-response BackgroundTasks under the real awslambdaric, against the Lambda API emulator.

The seed app (tests/runtime/fixtures/seed_app.py) wrapped in PostResponseHandler answers before
its background tasks run; its internal extension keeps each invoke open until they end, or
cancels them before the deadline. The API function itself is run from template.yaml's Handler
against moto's server.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends

from infra.local.resources import create_resources
from infra.local.template import (
    LOCAL_PARAMETERS,
    function_environment,
    function_settings,
    load_template,
)
from tests.runtime.emulator import REGION, InvokeResult, LambdaEmulator
from tests.runtime.process import REPO_ROOT, RuntimeProcess, json_logs, run_function

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

pytestmark = pytest.mark.timeout(60)

EVENTS = REPO_ROOT / "infra" / "events"
SEED_HANDLER = "tests.runtime.fixtures.seed_app.handler"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


# -- helpers -----------------------------------------------------------------------------------


def load_event(name: str, function: str = "ApiFunction") -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / function / f"{name}.json").read_text())
    return event


def http_event(
    path: str, *, method: str = "POST", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The HTTP API (v2) event of send-notification.json, re-targeted at ``method path``."""
    event = copy.deepcopy(load_event("send-notification"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"].update(headers or {})
    return event


def body(result: InvokeResult) -> Any:
    assert result.error is None, result.error
    return json.loads(result.payload["body"])


def log_records(process: RuntimeProcess) -> list[dict[str, Any]]:
    """The structured (Powertools JSON) lines the function wrote, in order."""
    return json_logs(process.output())


@dataclass
class SeedLog:
    """The seed app's log.txt (SEED_LOG), as the background tasks left it so far."""

    path: Path

    def lines(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []


def seed_function(
    log: SeedLog, *, function_timeout: float = 10.0, registration_open: bool = True
) -> AbstractContextManager[tuple[LambdaEmulator, RuntimeProcess]]:
    return run_function(
        SEED_HANDLER,
        {"SEED_LOG": str(log.path), "POWERTOOLS_SERVICE_NAME": "seed"},
        function_timeout=function_timeout,
        registration_open=registration_open,
    )


@pytest.fixture
def seed_log(tmp_path: Path) -> SeedLog:
    return SeedLog(tmp_path / "log.txt")


@pytest.fixture
def seed(seed_log: SeedLog) -> Iterator[tuple[LambdaEmulator, RuntimeProcess]]:
    with seed_function(seed_log) as running:
        yield running


# -- the seed app ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "done"),
    [("/slow/1", "slow done 1"), ("/async-slow/1", "async slow done 1")],
    ids=["sync-task", "async-task"],
)
def test_response_returns_before_the_task_and_the_invoke_is_held_until_it_ends(
    seed: tuple[LambdaEmulator, RuntimeProcess], seed_log: SeedLog, path: str, done: str
) -> None:
    # GIVEN the seed app on Lambda, with a route whose background task takes 1 s
    emulator, _ = seed

    # WHEN it is invoked
    result = emulator.invoke(http_event(path))
    log_at_response = seed_log.lines()
    released = result.wait_released(timeout=10)

    # THEN the response came well before the task could have finished
    assert result.payload["statusCode"] == 200
    assert body(result) == {"scheduled": 1.0}
    assert result.responded_at - result.dispatched_at < 0.5
    assert done not in log_at_response
    # ... the invoke was released only once the task had run its full second
    assert released - result.dispatched_at >= 0.95
    assert seed_log.lines() == [done]
    assert not result.timed_out


def test_consecutive_invokes_each_wait_for_their_own_work(
    seed: tuple[LambdaEmulator, RuntimeProcess], seed_log: SeedLog
) -> None:
    # GIVEN the seed app on Lambda
    emulator, _ = seed

    # WHEN a 1 s task and then a 0.2 s task are requested, one invoke after the other
    first = emulator.invoke(http_event("/slow/1"))
    second = emulator.invoke(http_event("/slow/0.2"))
    second_released = second.wait_released(timeout=10)
    first_released = first.wait_released(timeout=1)

    # THEN the first invoke was held for its own 1 s task
    assert first_released - first.dispatched_at >= 0.95
    # ... the second ran only after that, and was held for its own 0.2 s, not released at once
    # (someone else's finished work) nor kept for a second (someone else's pending work)
    assert second.dispatched_at >= first_released
    assert 0.19 <= second_released - second.dispatched_at < 0.9
    assert second.responded_at - second.dispatched_at < 0.5
    # ... and the tasks finished in request order
    assert seed_log.lines() == ["slow done 1", "slow done 0.2"]
    assert not first.timed_out
    assert not second.timed_out


def test_a_failing_task_is_logged_with_the_correlation_id_and_later_tasks_still_run(
    seed: tuple[LambdaEmulator, RuntimeProcess], seed_log: SeedLog
) -> None:
    # GIVEN the seed app on Lambda, and a client request id
    emulator, process = seed
    correlation_id = f"boom-{uuid.uuid4().hex}"

    # WHEN the route whose first task raises is invoked
    result = emulator.invoke(http_event("/boom", headers={"x-request-id": correlation_id}))
    result.wait_released(timeout=10)

    # THEN the client got its 200, with its id echoed
    assert result.payload["statusCode"] == 200
    assert result.payload["headers"]["x-request-id"] == correlation_id
    # ... the task after the failing one still ran, and the invoke was released
    assert seed_log.lines() == ["after boom"]
    assert not result.timed_out
    # ... and the failure was logged with the request's correlation id and its traceback
    failures = [r for r in log_records(process) if r.get("message") == "background task failed"]
    assert len(failures) == 1
    assert failures[0]["level"] == "ERROR"
    assert failures[0]["correlation_id"] == correlation_id
    assert failures[0]["background_task"] == "failing_task"
    assert "boom in a background task" in failures[0]["exception"]


@pytest.mark.parametrize("path", ["/slow/10", "/async-slow/10"], ids=["sync-task", "async-task"])
def test_work_outliving_the_function_timeout_is_cancelled_before_the_deadline(
    seed_log: SeedLog, path: str
) -> None:
    # GIVEN the seed app on a function with a 2 s timeout
    with seed_function(seed_log, function_timeout=2) as (emulator, process):
        # WHEN a request schedules 10 s of background work
        result = emulator.invoke(http_event(path))
        released = result.wait_released(timeout=5)

        # THEN the response came at once
        assert result.payload["statusCode"] == 200
        # ... and the invoke was released before the deadline, not timed out
        assert released - result.dispatched_at < 2
        assert not result.timed_out
        # ... with an error log line saying the work was cancelled
        cancelled = [
            r
            for r in log_records(process)
            if r.get("level") == "ERROR" and "cancelled" in r.get("message", "")
        ]
        assert [r.get("request_id") for r in cancelled] == [result.request_id]

        # WHEN the function is invoked again
        following = emulator.invoke(load_event("items-no-query"))

        # THEN it serves and releases normally
        assert body(following) == {"query": None}
        following.wait_released(timeout=5)
        assert not following.timed_out
        assert emulator.timed_out_invokes == []


def test_a_request_without_background_work_is_released_at_once(
    seed: tuple[LambdaEmulator, RuntimeProcess],
) -> None:
    # GIVEN the seed app on Lambda
    emulator, _ = seed

    # WHEN a request that schedules nothing (POST /items/ without q) is invoked
    result = emulator.invoke(load_event("items-no-query"))

    # THEN it is answered and released right away
    assert body(result) == {"query": None}
    assert result.wait_released(timeout=5) - result.responded_at < 0.5


def test_without_extension_registration_the_work_runs_before_the_response(
    seed_log: SeedLog,
) -> None:
    # GIVEN an environment whose extension registration is already closed
    with seed_function(seed_log, registration_open=False) as (emulator, process):
        # WHEN a request with a 0.5 s background task is invoked
        result = emulator.invoke(http_event("/slow/0.5"))
        log_at_response = seed_log.lines()
        released = result.wait_released(timeout=5)
        output = process.output()

    # THEN the handler warned that post-response work is unavailable, and registered nothing
    assert "could not register the post-response extension" in output
    assert emulator.extensions == []
    # ... and, like plain Mangum, it still served, finishing the task before responding
    assert body(result) == {"scheduled": 0.5}
    assert result.responded_at - result.dispatched_at >= 0.45
    assert log_at_response == ["slow done 0.5"]
    assert released - result.responded_at < 0.5


def test_a_non_http_event_gets_a_clear_error_and_is_still_released(
    seed: tuple[LambdaEmulator, RuntimeProcess],
) -> None:
    # GIVEN the seed app on Lambda
    emulator, _ = seed

    # WHEN an SQS batch reaches it by mistake
    result = emulator.invoke(load_event("sqs-batch", "WorkerFunction"))

    # THEN the invoke fails with a message saying what the function expects
    assert result.error_type == "UnsupportedEventError"
    assert result.error is not None
    assert "API Gateway HTTP events" in result.error["errorMessage"]
    assert "Records" in result.error["errorMessage"]
    # ... the invoke is released at once, and the next one is served
    assert result.wait_released(timeout=5) - result.responded_at < 0.5
    following = emulator.invoke(load_event("items-no-query"))
    assert body(following) == {"query": None}
    following.wait_released(timeout=5)


# -- the API function from template.yaml -------------------------------------------------------


@dataclass
class ApiFunction:
    emulator: LambdaEmulator
    process: RuntimeProcess
    ses: SESClient
    sender: str

    def sent_count(self) -> int:
        return int(self.ses.get_send_quota()["SentLast24Hours"])


@pytest.fixture(scope="module")
def api_function() -> Iterator[ApiFunction]:
    template = load_template()
    settings = function_settings(template, "ApiFunction")
    sender = str(template["Parameters"]["SenderEmail"]["Default"])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    ses: SESClient = boto3.client("ses", endpoint_url=endpoint, region_name=REGION)
    try:
        ses.verify_email_identity(EmailAddress=sender)
        # The template's tables, queues and bucket (the routes count quotas and queue tasks),
        # and its environment as a stack without an authorizer gets it.
        physical = create_resources(
            template,
            sqs=boto3.client("sqs", endpoint_url=endpoint, region_name=REGION),
            dynamodb=boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION),
            s3=boto3.client("s3", endpoint_url=endpoint, region_name=REGION),
        )
        env = {
            **function_environment(template, "ApiFunction", physical, LOCAL_PARAMETERS),
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": endpoint,
            "SENDER_EMAIL": sender,
            "POWERTOOLS_SERVICE_NAME": "api",
            "POWERTOOLS_METRICS_NAMESPACE": "LambdaBackgroundRuntimeTests",
        }
        with run_function(
            settings.handler,
            env,
            function_timeout=settings.timeout_seconds,
            function_name="ApiFunction",
        ) as (emulator, process):
            yield ApiFunction(emulator, process, ses, sender)
    finally:
        ses.close()
        server.stop()


def sent_to(address: str) -> int:
    messages = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    return sum(address in message.destinations["ToAddresses"] for message in messages)


@pytest.mark.parametrize(
    ("event", "request_id"),
    [
        ("send-notification", "Ab1CdEfGhIJkLmN="),
        ("rest-v1-send-notification", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
    ],
    ids=["http-api-v2", "rest-api-v1"],
)
def test_api_function_emails_after_responding(
    api_function: ApiFunction, event: str, request_id: str
) -> None:
    # GIVEN the API function from template.yaml under awslambdaric, its SES in moto's server
    emulator, process = api_function.emulator, api_function.process
    sent_before = api_function.sent_count()
    to_jane_before = sent_to("jane@example.com")

    # WHEN API Gateway delivers POST /send-notification/jane@example.com
    result = emulator.invoke(load_event(event))
    result.wait_released(timeout=10)

    # THEN the client got the seed's answer
    assert result.payload["statusCode"] == 200
    assert body(result) == {"message": "Notification scheduled"}
    assert not result.timed_out
    # ... and by the release the email had gone out through SES, to the path's address
    assert api_function.sent_count() == sent_before + 1
    assert sent_to("jane@example.com") == to_jane_before + 1
    # ... and the audit entry was logged with API Gateway's request id as correlation id
    audits = [
        r
        for r in log_records(process)
        if r.get("message") == "Email sent to j***@example.com"
        and r.get("correlation_id") == request_id
    ]
    assert len(audits) == 1


def test_api_function_health_is_released_at_once(api_function: ApiFunction) -> None:
    # GIVEN the API function under awslambdaric
    # WHEN the health check is invoked
    result = api_function.emulator.invoke(load_event("health"))

    # THEN it answers ok and the invoke is released right away
    assert body(result) == {"status": "ok"}
    assert result.wait_released(timeout=5) - result.responded_at < 0.5
