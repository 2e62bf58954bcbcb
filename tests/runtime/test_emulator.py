"""The Runtime/Extensions API emulator, driven by the real awslambdaric client in a subprocess."""

from __future__ import annotations

import http.client
import itertools
import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.runtime.emulator import (
    MAX_INVOKE_PAYLOAD,
    MAX_RESPONSE_PAYLOAD,
    InitError,
    LambdaEmulator,
    RejectedRegistration,
    RequestTooLargeError,
)
from tests.runtime.process import FIXTURES_DIR, RuntimeProcess, run_function

pytestmark = pytest.mark.timeout(30)

EXTENSION = "fixture-extension"


def fixture_function(
    handler: str,
    env: Mapping[str, str] | None = None,
    *,
    function_timeout: float = 10.0,
    registration_open: bool = True,
) -> AbstractContextManager[tuple[LambdaEmulator, RuntimeProcess]]:
    """A function whose task root is tests/runtime/fixtures, as LAMBDA_TASK_ROOT would be."""
    return run_function(
        handler,
        env,
        function_timeout=function_timeout,
        registration_open=registration_open,
        cwd=FIXTURES_DIR,
        pythonpath=[FIXTURES_DIR],
    )


@pytest.fixture
def echo() -> Iterator[tuple[LambdaEmulator, RuntimeProcess]]:
    with fixture_function("echo_handler.handler") as running:
        yield running


def test_invoke_returns_the_handler_payload(echo: tuple[LambdaEmulator, RuntimeProcess]) -> None:
    # GIVEN a function whose handler returns its event
    emulator, _ = echo
    event = {"hello": "world", "n": [1, 2, 3]}

    # WHEN it is invoked
    result = emulator.invoke(event)

    # THEN the caller gets the event back as the payload, and the invoke completes in time
    assert result.payload == event
    assert result.error is None
    assert result.error_type is None
    assert result.dispatched_at <= result.responded_at
    assert result.wait_released(timeout=5) >= result.responded_at
    assert not result.timed_out


def test_runtime_receives_the_invoke_metadata() -> None:
    # GIVEN a function that reports its context, with a 10 s timeout
    with fixture_function("echo_handler.context_handler", function_timeout=10) as (emulator, _):
        # WHEN it is invoked
        before_ms = time.time() * 1000
        result = emulator.invoke({"k": "v"})

    # THEN awslambdaric built the context from the /next headers
    context = result.payload
    assert context["aws_request_id"] == result.request_id
    assert context["invoked_function_arn"].endswith(":function:test-function")
    assert context["function_name"] == "test-function"
    assert context["function_version"] == "$LATEST"
    assert context["trace_env"].startswith("Root=1-")
    assert context["event"] == {"k": "v"}
    # ... and the deadline is dispatch time + function timeout
    assert 5_000 < context["remaining_ms"] <= 10_000
    assert before_ms + 9_000 < result.deadline_ms <= time.time() * 1000 + 10_000


def test_handler_exception_is_delivered_as_an_error() -> None:
    # GIVEN a function whose handler raises ValueError
    with fixture_function("echo_handler.failing_handler") as (emulator, process):
        # WHEN it is invoked
        result = emulator.invoke({"message": "kaput"})
        result.wait_released(timeout=5)
        output = process.output()

    # THEN the caller gets the error document the runtime posted to /error
    assert result.payload is None
    assert result.error_type == "ValueError"
    assert result.error is not None
    assert result.error["errorMessage"] == "boom: kaput"
    assert result.error["requestId"] == result.request_id
    assert result.error["stackTrace"]
    # ... and awslambdaric logged it to stdout
    assert "[ERROR] ValueError: boom: kaput" in output


def test_consecutive_invokes_run_one_after_another(
    echo: tuple[LambdaEmulator, RuntimeProcess],
) -> None:
    # GIVEN a running function
    emulator, _ = echo

    # WHEN it is invoked several times in a row
    results = [emulator.invoke({"i": i}) for i in range(3)]

    # THEN every invoke gets its own request id and payload
    assert [r.payload for r in results] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert len({r.request_id for r in results}) == 3
    # ... and each was dispatched only after the previous one was released
    for previous, following in itertools.pairwise(results):
        assert following.dispatched_at >= previous.wait_released(timeout=5)


def test_invoke_is_released_only_after_the_extension_calls_next() -> None:
    # GIVEN a function with an internal extension that works 1 s after each response
    with fixture_function("extension_handler.handler") as (emulator, _):
        assert emulator.extensions == [EXTENSION]

        # WHEN it is invoked
        first = emulator.invoke({"extension_sleep": 1.0})
        not_yet_released = first.released_at
        second = emulator.invoke({"extension_sleep": 0})

        # THEN the caller had the response while the extension was still working
        assert first.payload["registration"]["status"] == 200
        assert not_yet_released is None
        # ... the invoke was released only when the extension came back to /next
        released = first.wait_released(timeout=5)
        assert 0.8 <= released - first.responded_at < 5
        # ... and the next invoke waited for that release
        assert second.dispatched_at >= released
        assert second.wait_released(timeout=5) >= second.responded_at


def test_an_extension_busy_at_the_deadline_gets_the_environment_killed_and_re_initialised() -> None:
    # GIVEN a 0.5 s function whose extension keeps working for 1.5 s after the response
    with fixture_function("extension_handler.handler", function_timeout=0.5) as (
        emulator,
        process,
    ):
        # WHEN it is invoked
        result = emulator.invoke({"extension_sleep": 1.5})
        on_time_so_far = not result.timed_out
        released = result.wait_released(timeout=5)
        first_pid = process.pid

        # THEN the response came in time, but at the deadline the process was killed
        assert on_time_so_far
        assert result.killed
        assert result.timed_out
        assert released - result.dispatched_at < 1.2
        assert emulator.timed_out_invokes == [result.request_id]
        assert process.returncode == -signal.SIGKILL

        # WHEN the function is invoked again
        following = emulator.invoke({"extension_sleep": 0})

        # THEN a fresh process ran a new Init (its extension registered again) and served it
        assert emulator.inits == 2
        assert process.pid != first_pid
        assert following.payload["registration"]["status"] == 200
        assert emulator.extensions == [EXTENSION]
        following.wait_released(timeout=5)
        assert not following.timed_out


def test_a_handler_running_past_the_deadline_times_out_and_the_next_invoke_re_inits() -> None:
    # GIVEN a function with a 1 s timeout that has served one invoke
    with fixture_function("echo_handler.sleeping_handler", function_timeout=1) as (emulator, _):
        first = emulator.invoke({"sleep": 0})
        first.wait_released(timeout=5)

        # WHEN an invoke sleeps past the timeout
        late = emulator.invoke({"sleep": 5})

        # THEN its caller gets Lambda's timeout error at the deadline
        assert late.error_type == "Sandbox.Timedout"
        assert late.error is not None
        assert "Task timed out after 1.00 seconds" in late.error["errorMessage"]
        assert 0.95 <= late.responded_at - late.dispatched_at < 1.5

        # ... and the next invoke is served by a new process
        following = emulator.invoke({"sleep": 0})
        assert following.payload["pid"] != first.payload["pid"]
        assert emulator.inits == 2


def _process_state(pid: int | None, expect: str = "T", within: float = 2.0) -> str:
    """The kernel's state letter for ``pid`` (T when stopped), once it is ``expect`` or after
    ``within`` seconds: a signal takes effect shortly after it is sent."""
    assert pid is not None
    deadline = time.monotonic() + within
    while True:
        stat = Path(f"/proc/{pid}/stat").read_text()
        state = stat.rsplit(")", 1)[1].split()[0]
        if state == expect or time.monotonic() > deadline:
            return state
        time.sleep(0.01)


def test_the_process_is_frozen_between_invokes_and_thawed_to_serve(
    echo: tuple[LambdaEmulator, RuntimeProcess],
) -> None:
    # GIVEN a function that has served an invoke
    emulator, process = echo
    first = emulator.invoke({"n": 1})
    first.wait_released(timeout=5)

    # WHEN nothing is left to do
    # THEN the process is stopped, as Lambda freezes an idle environment
    assert emulator.frozen
    assert _process_state(process.pid) == "T"

    # WHEN it is invoked again
    second = emulator.invoke({"n": 2})

    # THEN it was thawed to serve, and frozen again once back in /next
    assert second.payload == {"n": 2}
    second.wait_released(timeout=5)
    assert emulator.freezes >= 2
    assert _process_state(process.pid) == "T"


def test_payloads_over_lambdas_6_mb_limits_are_refused(
    echo: tuple[LambdaEmulator, RuntimeProcess],
) -> None:
    # GIVEN a running function
    emulator, _ = echo

    # WHEN an invoke carries more than 6 MB
    # THEN the Invoke API refuses it, and nothing is dispatched
    with pytest.raises(RequestTooLargeError, match="smaller than 6291456 bytes") as refused:
        emulator.invoke(b'"' + b"x" * MAX_INVOKE_PAYLOAD + b'"')
    assert refused.value.status == 413


def test_a_response_over_6_mb_becomes_a_function_error() -> None:
    # GIVEN a function whose handler returns as many characters as asked
    with fixture_function("echo_handler.sized_handler") as (emulator, _):
        # WHEN its response is over Lambda's limit (6 MiB + 100 bytes)
        result = emulator.invoke({"size": MAX_RESPONSE_PAYLOAD})

        # THEN the caller gets Lambda's error instead of the payload
        assert result.payload is None
        assert result.error_type == "Function.ResponseSizeTooLarge"
        assert result.error is not None
        assert f"({MAX_RESPONSE_PAYLOAD + 2} bytes) exceeded" in result.error["errorMessage"]

        # ... awslambdaric exits on the 413, so that environment is reset
        result.wait_released(timeout=5)
        assert result.killed

        # ... and a response just under the limit goes through (in a fresh environment)
        fits = emulator.invoke({"size": MAX_RESPONSE_PAYLOAD - 2})
        assert emulator.inits == 2
        assert isinstance(fits.payload, str)
        assert len(fits.payload) == MAX_RESPONSE_PAYLOAD - 2


def test_managed_instances_refuse_event_subscriptions_and_overlap_invokes() -> None:
    # GIVEN a function on Managed Instances with two runtime workers, whose module registers
    # an INVOKE extension at import
    with run_function(
        "extension_handler.handler",
        cwd=FIXTURES_DIR,
        pythonpath=[FIXTURES_DIR],
        max_concurrency=2,
    ) as (emulator, _):
        # WHEN it is invoked
        result = emulator.invoke({})

        # THEN every worker's registration was refused (internal extensions get no events)
        assert result.payload["registration"]["status"] == 403
        assert result.payload["registration"]["body"]["errorMessage"] == (
            "No events allowed for internal extensions"
        )
        assert emulator.extensions == []

    # GIVEN two workers of a handler that sleeps
    with run_function(
        "echo_handler.sleeping_handler",
        cwd=FIXTURES_DIR,
        pythonpath=[FIXTURES_DIR],
        max_concurrency=2,
    ) as (emulator, process):
        # WHEN two 1 s invokes arrive at once
        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(lambda _: emulator.invoke({"sleep": 1}), range(2))

        # THEN they ran at the same time, in two worker processes, and nothing was frozen
        assert second.dispatched_at < first.responded_at
        assert first.dispatched_at < second.responded_at
        assert first.payload["pid"] != second.payload["pid"]
        assert emulator.freezes == 0
        assert _process_state(process.pid, expect="T", within=0.5) != "T"


def test_snapstart_runs_the_hooks_around_the_snapshot_and_serves_after_restore() -> None:
    # GIVEN a SnapStart version of a function with before-snapshot and after-restore hooks
    with run_function(
        "snapstart_handler.handler",
        cwd=FIXTURES_DIR,
        pythonpath=[FIXTURES_DIR],
        snapstart=True,
    ) as (emulator, process):
        # WHEN Init is over, the runtime waits for the restore and the environment is frozen
        assert emulator.frozen
        assert _process_state(process.pid) == "T"

        # WHEN the snapshot is restored and the function invoked
        emulator.restore()
        result = emulator.invoke({})

        # THEN the before-snapshot hook ran before the snapshot, the after-restore hook after
        assert result.payload["calls"] == ["before_snapshot", "after_restore"]
        assert emulator.init_errors == []


def test_registration_after_the_first_next_is_rejected() -> None:
    # GIVEN a running function (so the runtime has called /next and registration is closed)
    with fixture_function("echo_handler.register_extension_handler") as (emulator, _):
        # WHEN the handler tries to register an extension during an invoke
        result = emulator.invoke({"name": "late-extension", "events": ["INVOKE"]})

        # THEN the registration is refused with 403 and recorded
        assert result.payload["status"] == 403
        assert result.payload["body"]["errorType"] == "Extension.RegistrationClosed"
        assert emulator.extensions == []
        assert emulator.rejected_registrations == [
            RejectedRegistration(
                name="late-extension",
                events=["INVOKE"],
                status=403,
                error_type="Extension.RegistrationClosed",
                error_message="Extension registration closed already",
            )
        ]


def test_registration_closed_from_the_start_rejects_an_import_time_extension() -> None:
    # GIVEN an environment whose registration phase is already over
    with fixture_function("extension_handler.handler", registration_open=False) as (emulator, _):
        # WHEN the function module registers its extension at import, then is invoked
        result = emulator.invoke({"extension_sleep": 5})

        # THEN the registration got 403, the function still works and no extension holds it back
        assert result.payload["registration"]["status"] == 403
        assert [r.status for r in emulator.rejected_registrations] == [403]
        assert emulator.extensions == []
        assert result.wait_released(timeout=2) - result.responded_at < 1


def test_internal_extension_cannot_register_for_shutdown() -> None:
    # GIVEN a function module whose import-time extension asks for SHUTDOWN as well
    env = {"FIXTURE_EXTENSION_EVENTS": "INVOKE,SHUTDOWN"}
    with fixture_function("extension_handler.handler", env) as (emulator, _):
        # WHEN the function is invoked
        result = emulator.invoke({})

        # THEN the registration was refused with 403 (as every refusal is) and an error
        # document, and recorded
        registration = result.payload["registration"]
        assert registration["status"] == 403
        assert registration["body"]["errorType"] == "Extension.InvalidEventType"
        assert "SHUTDOWN" in registration["body"]["errorMessage"]
        assert [(r.name, r.status) for r in emulator.rejected_registrations] == [(EXTENSION, 403)]
        assert emulator.extensions == []


def test_init_error_is_reported_to_the_caller() -> None:
    # GIVEN a handler name that does not exist in the module
    # WHEN the runtime starts
    # THEN it posts an init error, and waiting for readiness fails with it
    with (
        pytest.raises(InitError) as raised,
        fixture_function("echo_handler.no_such_handler"),
    ):
        pass  # pragma: no cover - init fails before the body runs
    [error] = raised.value.errors
    assert (error.source, error.kind) == ("runtime", "init")
    assert error.error_type == "Runtime.HandlerNotFound"
    assert "no_such_handler" in error.body["errorMessage"]


def test_extension_api_uses_keep_alive_and_rejects_unknown_identifiers() -> None:
    # GIVEN an emulator and one HTTP/1.1 client connection
    with LambdaEmulator(handler="h.handler") as emulator:
        conn = http.client.HTTPConnection(emulator.runtime_api, timeout=5)
        try:
            # WHEN an unknown extension asks for its next event
            conn.request(
                "GET",
                "/2020-01-01/extension/event/next",
                headers={"Lambda-Extension-Identifier": str(uuid.uuid4())},
            )
            response = conn.getresponse()
            forbidden = (response.status, json.loads(response.read()))
            first_socket = conn.sock

            # ... and then registers on the same connection
            conn.request(
                "POST",
                "/2020-01-01/extension/register",
                body=json.dumps({"events": ["INVOKE"]}),
                headers={"Lambda-Extension-Name": "probe"},
            )
            response = conn.getresponse()
            registered = (response.status, json.loads(response.read()))
            identifier = response.getheader("Lambda-Extension-Identifier")
            content_length = response.getheader("Content-Length")
            reused = conn.sock is first_socket and first_socket is not None
        finally:
            conn.close()

    # THEN the unknown identifier is refused with an error document
    assert forbidden[0] == 403
    assert forbidden[1]["errorType"] == "Extension.UnknownExtensionIdentifier"
    # ... the registration succeeds with an identifier and the function metadata
    assert registered == (
        200,
        {"functionName": "test-function", "functionVersion": "$LATEST", "handler": "h.handler"},
    )
    assert identifier is not None
    uuid.UUID(identifier)
    assert emulator.extensions == ["probe"]
    # ... and both replies were framed for keep-alive on one connection
    assert content_length is not None
    assert reused


def test_invoke_without_a_runtime_times_out_with_a_clear_message() -> None:
    # GIVEN an emulator with no runtime process attached
    # WHEN an invoke is attempted
    # THEN it times out, saying that nothing waits in /next
    with (
        LambdaEmulator() as emulator,
        pytest.raises(TimeoutError, match=r"not waiting in /next: \['runtime'\]"),
    ):
        emulator.invoke({}, timeout=0.3)


def test_stop_wakes_a_blocked_next() -> None:
    # GIVEN a client blocked in the runtime's /next
    emulator = LambdaEmulator()
    emulator.start()
    outcome: list[str] = []

    def poll_next() -> None:
        conn = http.client.HTTPConnection(emulator.runtime_api, timeout=10)
        try:
            conn.request("GET", "/2018-06-01/runtime/invocation/next")
            outcome.append(f"status {conn.getresponse().status}")
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(type(exc).__name__)
        finally:
            conn.close()

    client = threading.Thread(target=poll_next)
    client.start()
    emulator.wait_ready(timeout=5)

    # WHEN the emulator stops
    started = time.monotonic()
    emulator.stop()
    client.join(timeout=5)

    # THEN it returns promptly and the blocked request ends without an invoke
    assert time.monotonic() - started < 3
    assert not client.is_alive()
    assert len(outcome) == 1
    assert not outcome[0].startswith("status"), outcome
