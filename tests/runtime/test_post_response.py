"""Post-response BackgroundTasks under the real awslambdaric, against the Lambda API emulator.

The seed app (tests/runtime/fixtures/seed_app.py) wrapped in PostResponseHandler answers before
its background tasks run; its internal extension keeps each invoke open until they end, or
cancels them before the deadline. The API function itself is run from template.yaml's Handler
against moto's server.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
    log: SeedLog,
    *,
    function_timeout: float = 10.0,
    registration_open: bool = True,
    max_concurrency: int | None = None,
    snapstart: bool = False,
) -> AbstractContextManager[tuple[LambdaEmulator, RuntimeProcess]]:
    return run_function(
        SEED_HANDLER,
        {"SEED_LOG": str(log.path), "POWERTOOLS_SERVICE_NAME": "seed"},
        function_timeout=function_timeout,
        registration_open=registration_open,
        max_concurrency=max_concurrency,
        snapstart=snapstart,
    )


def eventually[T](probe: Callable[[], T], within: float = 5.0) -> T:
    """``probe()`` once it is truthy, or its last value after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not (value := probe()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


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
        # ... and nothing else: a deadline is not an application error, so no traceback
        assert "Traceback" not in process.output()
        assert "CancelledError" not in process.output()

        # WHEN the function is invoked again
        following = emulator.invoke(load_event("items-no-query"))

        # THEN it serves and releases normally
        assert body(following) == {"query": None}
        following.wait_released(timeout=5)
        assert not following.timed_out
        assert emulator.timed_out_invokes == []


def test_an_app_error_after_the_response_started_is_mangums_500_not_a_timeout(
    seed: tuple[LambdaEmulator, RuntimeProcess],
) -> None:
    # GIVEN the seed app on Lambda, with 10 s to go per invoke
    emulator, process = seed

    # WHEN a route starts its response, then fails before the body is complete
    result = emulator.invoke(http_event("/broken-stream", method="GET"))

    # THEN the client gets Mangum's 500 at once, not a 504 about the function timeout
    assert result.payload["statusCode"] == 500
    assert result.payload["body"] == "Internal Server Error"
    assert result.responded_at - result.dispatched_at < 1
    # ... and the error was logged once, as a structured line with its traceback
    errors = [r for r in log_records(process) if r.get("level") == "ERROR"]
    assert [r["message"] for r in errors] == ["the application raised an error"]
    assert "the stream broke" in errors[0]["exception"]
    result.wait_released(timeout=5)


def test_no_response_before_the_deadline_is_a_504(seed_log: SeedLog) -> None:
    # GIVEN the seed app on a function with a 2 s timeout
    with seed_function(seed_log, function_timeout=2) as (emulator, process):
        # WHEN a route takes 10 s to answer
        result = emulator.invoke(http_event("/hang/10"))
        released = result.wait_released(timeout=5)

        # THEN the client gets a 504 just before the deadline, the environment was not killed
        assert result.payload["statusCode"] == 504
        assert "function timeout" in body(result)["detail"]
        assert 1.2 <= result.responded_at - result.dispatched_at < 2
        assert released - result.dispatched_at < 2
        assert not result.killed
        # ... with one structured error line, no traceback
        assert [r["message"] for r in log_records(process) if r.get("level") == "ERROR"] == [
            "no response before the function timeout; request cancelled"
        ]
        assert "Traceback" not in process.output()


def test_a_cancelled_plain_def_task_resumes_only_inside_a_later_invoke(
    seed_log: SeedLog,
) -> None:
    # GIVEN the seed app on a function with a 2 s timeout
    with seed_function(seed_log, function_timeout=2) as (emulator, _):
        # WHEN a plain def task of 3 s is cancelled at the deadline (a thread cannot be stopped)
        result = emulator.invoke(http_event("/slow/3"))
        result.wait_released(timeout=5)
        assert not result.timed_out

        # THEN the environment is frozen, so the task does not finish on its own, even once
        # its 3 s are long over
        time.sleep(3.5 - (time.monotonic() - result.dispatched_at))
        assert emulator.frozen
        assert seed_log.lines() == []

        # WHEN the next invoke thaws the environment
        following = emulator.invoke(http_event("/slow/0.5"))
        following.wait_released(timeout=5)

        # THEN the old task resumed inside it and finished there, before the new one
        assert seed_log.lines() == ["slow done 3", "slow done 0.5"]


def test_lifespan_starts_once_per_environment_and_again_after_a_re_init(
    seed: tuple[LambdaEmulator, RuntimeProcess],
) -> None:
    # GIVEN the seed app on Lambda, which has served two requests
    emulator, _ = seed
    first = body(emulator.invoke(http_event("/lifespan", method="GET")))
    second = body(emulator.invoke(http_event("/lifespan", method="GET")))

    # THEN its lifespan started once for both (not once per invocation, as in plain Mangum)
    assert first == second
    assert first["startups"] == 1

    # WHEN the runtime process dies during an invoke
    crashed = emulator.invoke(http_event("/crash"))

    # THEN the caller gets Lambda's error, and the environment is reset
    assert crashed.error_type == "Runtime.ExitError"
    crashed.wait_released(timeout=5)

    # WHEN the function is invoked again
    after = body(emulator.invoke(http_event("/lifespan", method="GET")))

    # THEN a new process ran a new Init, lifespan startup included
    assert emulator.inits == 2
    assert after["pid"] != first["pid"]
    assert after["startups"] == 1


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
            scheduler=boto3.client("scheduler", endpoint_url=endpoint, region_name=REGION),
            secretsmanager=boto3.client(
                "secretsmanager", endpoint_url=endpoint, region_name=REGION
            ),
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


# -- Lambda Managed Instances -----------------------------------------------------------------


def test_managed_instances_answer_concurrent_invokes_before_their_work(
    seed_log: SeedLog,
) -> None:
    # GIVEN the seed app on Managed Instances, with two runtime workers
    with seed_function(seed_log, max_concurrency=2) as (emulator, process):
        # WHEN two requests, each with a 1 s background task, arrive at once
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: emulator.invoke(http_event("/slow/1")), range(2)))
        log_at_responses = seed_log.lines()

        # THEN each was answered before its work could end, the second while the first's work
        # was still going
        first, second = sorted(results, key=lambda r: r.dispatched_at)
        assert second.dispatched_at < first.dispatched_at + 0.5
        for result in results:
            assert body(result) == {"scheduled": 1.0}
            assert result.responded_at - result.dispatched_at < 0.5
        assert log_at_responses == []
        # ... the work then finished in the process, with no extension and nothing frozen
        assert eventually(lambda: seed_log.lines() == ["slow done 1", "slow done 1"])
        assert emulator.extensions == []
        assert emulator.freezes == 0
        assert "could not register" not in process.output()


def test_managed_instances_keep_each_request_s_logging_context_while_invokes_overlap(
    seed_log: SeedLog,
) -> None:
    # GIVEN the seed app on Managed Instances, with one worker (so invokes share a process)
    with seed_function(seed_log, max_concurrency=1) as (emulator, process):
        # WHEN a request's task fails after 1 s, and meanwhile a second request's task fails
        first = emulator.invoke(http_event("/slow-boom/1", headers={"x-request-id": "first"}))
        second = emulator.invoke(http_event("/slow-boom/0.2", headers={"x-request-id": "second"}))

        # THEN the second invoke ran while the first one's work was still going
        assert second.dispatched_at < first.dispatched_at + 1

        # ... and each failure was logged with its own request's correlation id and request id
        def failures() -> list[dict[str, Any]]:
            return [r for r in log_records(process) if r.get("message") == "background task failed"]

        assert eventually(lambda: len(failures()) == 2)
        by_correlation = {r["correlation_id"]: r for r in failures()}
        assert by_correlation["first"]["function_request_id"] == first.request_id
        assert by_correlation["second"]["function_request_id"] == second.request_id
        assert "boom after 1 s" in by_correlation["first"]["exception"]


def test_managed_instances_cancel_work_at_its_own_invocation_deadline(seed_log: SeedLog) -> None:
    # GIVEN the seed app on Managed Instances with a 2 s timeout
    with seed_function(seed_log, max_concurrency=1, function_timeout=2) as (emulator, process):
        # WHEN a request schedules 10 s of async work
        result = emulator.invoke(http_event("/async-slow/10"))

        # THEN it is answered at once
        assert result.responded_at - result.dispatched_at < 0.5

        # ... and its work is cancelled before its deadline, logged once with its request id
        def cancelled() -> list[dict[str, Any]]:
            return [r for r in log_records(process) if "cancelled" in r.get("message", "")]

        records = eventually(cancelled, within=4)
        assert [r.get("request_id") for r in records] == [result.request_id]
        assert seed_log.lines() == []
        assert "Traceback" not in process.output()


# -- SnapStart ---------------------------------------------------------------------------------


def test_after_a_snapstart_restore_work_still_runs_after_the_response(seed_log: SeedLog) -> None:
    # GIVEN the seed app published with SnapStart: Init ran, the snapshot was taken
    with seed_function(seed_log, snapstart=True) as (emulator, process):
        # THEN Init, before the snapshot, warmed the app with a request through it
        assert seed_log.lines() == ["warmed"]

        # WHEN the snapshot is restored with the extension's registration, and invoked
        emulator.restore(keep_extensions=True)
        result = emulator.invoke(http_event("/slow/1"))
        log_at_response = seed_log.lines()
        released = result.wait_released(timeout=10)

        # THEN the response came before the work, which the extension held the invoke for
        assert result.responded_at - result.dispatched_at < 0.5
        assert log_at_response == ["warmed"]
        assert released - result.dispatched_at >= 0.95
        assert seed_log.lines() == ["warmed", "slow done 1"]
        assert any(
            r.get("message") == "restored from a SnapStart snapshot" for r in log_records(process)
        )


def test_a_restore_that_loses_the_extension_falls_back_to_work_before_the_response(
    seed_log: SeedLog,
) -> None:
    # GIVEN the seed app published with SnapStart
    with seed_function(seed_log, snapstart=True) as (emulator, process):
        # WHEN the restore does not carry the extension's registration over, and it is invoked
        emulator.restore(keep_extensions=False)
        result = emulator.invoke(http_event("/slow/0.5"))
        log_at_response = seed_log.lines()
        result.wait_released(timeout=5)

        # THEN the work ran before the response, as nothing could hold the invoke open
        assert result.responded_at - result.dispatched_at >= 0.45
        assert log_at_response == ["warmed", "slow done 0.5"]
        assert not result.timed_out
        # ... and the function said so in a clear log line
        assert eventually(
            lambda: any(
                "background tasks now run before each response" in r.get("message", "")
                for r in log_records(process)
            )
        )


def test_the_api_function_warms_before_its_snapstart_snapshot_and_serves_after_restore() -> None:
    # GIVEN the API function from template.yaml, published with SnapStart (no AWS call needed)
    settings = function_settings(load_template(), "ApiFunction")
    env = {**FAKE_CREDENTIALS, "POWERTOOLS_SERVICE_NAME": "api", "SENDER_EMAIL": "a@example.com"}
    with run_function(settings.handler, env, function_name="ApiFunction", snapstart=True) as (
        emulator,
        process,
    ):
        # THEN before the snapshot its hook sent one request through the app, successfully
        warmed = [r for r in log_records(process) if r.get("message", "").startswith("warmed")]
        assert [r.get("warm_path") for r in warmed] == ["/health"]
        assert "warm-up request failed" not in process.output()

        # WHEN the snapshot is restored and the health check invoked
        emulator.restore()
        result = emulator.invoke(load_event("health"))

        # THEN it answers, and the after-restore hook ran with post-response work available
        assert body(result) == {"status": "ok"}
        restored = [
            r
            for r in log_records(process)
            if r.get("message") == "restored from a SnapStart snapshot"
        ]
        assert [r.get("post_response") for r in restored] == [True]
