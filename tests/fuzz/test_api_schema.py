"""Schemathesis against the app's own OpenAPI schema, in-process (ASGI), over moto.

Every operation is fuzzed from a fixed seed, with data that fits its schema and, where it
takes input, data that does not. No response may be a 5xx, documented responses must match
the schema, and every 4xx must say what was wrong: a JSON ``detail`` (for 422, a list whose
items each carry ``loc`` and ``msg``). The backing moto stack holds to SQS's message rules
(see conftest). With the settings below, the runs send 541 generated requests in all; the
pytest summary lists them per operation.
"""

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, CheckFunction, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import aws
from app.api.main import app
from app.tasks.envelope import TaskEnvelope
from app.tasks.lifecycle import TaskState
from tests.functional.stack import Stack
from tests.fuzz.conftest import fuzz_settings, generated_cases

Operation = APIOperation[Any, Any, Any, Any]


def load_operations() -> dict[str, Operation]:
    """The app's operations, by label ("GET /health"), from its own /openapi.json."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations: dict[str, Operation] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"schemathesis cannot read an operation: {result.err()}"
        operations[result.ok().label] = result.ok()
    return operations


OPERATIONS = load_operations()

# Per operation and mode; Hypothesis stops early only when an input space is exhausted.
MAX_EXAMPLES = 45
# The floor each run must reach (GET /health takes no input: one request is all there is);
# over RUNS, they add up to the number of requests the module promises to send.
MIN_EXAMPLES = {"GET /health": 1}
MIN_TOTAL = 500

COMMON_CHECKS: list[CheckFunction] = [
    not_a_server_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Not `positive_data_acceptance`: the schema cannot say that file paths must lie under the
# uploads prefix, nor which email domains email-validator refuses, so some schema-valid
# requests are rightly 422s (checked below to explain themselves). Not `status_code_conformance`
# for invalid data: FastAPI answers a body it cannot decode with a 400 that no operation lists.
CHECKS = {
    GenerationMode.POSITIVE: [*COMMON_CHECKS, status_code_conformance],
    GenerationMode.NEGATIVE: [*COMMON_CHECKS, negative_data_rejection],
}

UPLOADS = "uploads/local/"
# Valid in a key, and not all of them in an SQS body: astral and combining characters are
# accepted; noncharacters, DEL, C1 controls, separators and format characters are refused by
# the app (invisible or misleading in a key), before SQS could refuse them.
ODDITIES = ["", "\U0001f600", "e\u0301"]
REFUSED_ODDITIES = ["\uffff", "\ufffe", "\x7f", "\x85", "\u2028", "\ufeff"]


def takes_input(label: str) -> bool:
    operation = OPERATIONS[label]
    return any(True for _ in operation.iter_parameters()) or len(operation.body) > 0


# Data that violates the schema exists only for operations that take some input.
RUNS = [
    (label, mode)
    for label in sorted(OPERATIONS)
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or takes_input(label)
]


def under_uploads(case: Case[Any], oddity: str) -> Case[Any]:
    """The case with its file paths made acceptable keys (under the uploads prefix, without
    control characters or ".." segments) that hold ``oddity``, so that they get queued."""

    def key(path: object) -> str:
        name = "".join(char for char in str(path) if char >= " ").replace("..", "._")
        return f"{UPLOADS}{oddity}{name}"

    if case.query and "file_path" in case.query:
        case.query["file_path"] = key(case.query["file_path"])
    body = case.body
    if isinstance(body, dict) and isinstance(paths := body.get("file_paths"), list):
        body["file_paths"] = [key(path) for path in paths]
    return case


def seed_statuses(stack: Stack) -> list[str]:
    """One task in each state, so that GET /tasks/{id} also answers 200 with each shape."""
    store, name = stack.store, "process_file"
    for task_id in ("queued", "running", "succeeded", "failed", "dead"):
        store.create_queued(task_id, name, correlation_id=f"fuzz-{task_id}", owner="local")
        if task_id != "queued":
            store.claim(
                task_id,
                owner="local",
                receive_count=1,
                max_receives=5,
                lease_token=task_id,
                lease_seconds=3600,
            )
    store.finish(
        "succeeded",
        "succeeded",
        TaskState.SUCCEEDED,
        result={"size_bytes": 3, "ratio": 0.5, "rows": [1, 2.5, "x"]},
        owner="local",
    )
    store.finish(
        "failed",
        "failed",
        TaskState.FAILED,
        error="UploadMissingError: not there",
        retry_in=2,
        owner="local",
    )
    store.finish(
        "dead", "dead", TaskState.DEAD, error="PermanentTaskError: invalid arguments", owner="local"
    )
    return ["queued", "running", "succeeded", "failed", "dead"]


def cases(operation: Operation, mode: GenerationMode, stack: Stack) -> st.SearchStrategy[Case[Any]]:
    """Schemathesis's cases, plus (for valid data) some that get past the app's own checks."""
    generated = operation.as_strategy(generation_mode=mode)
    if mode is not GenerationMode.POSITIVE:
        return generated
    if operation.label == "GET /tasks/{task_id}":
        known = st.sampled_from(seed_statuses(stack)).flatmap(
            lambda task_id: operation.as_strategy(
                generation_mode=mode, path_parameters={"task_id": task_id}
            )
        )
        return st.one_of(generated, known)
    if operation.label.startswith("POST /process/"):
        accepted = st.builds(under_uploads, generated, st.sampled_from(ODDITIES))
        return st.one_of(generated, accepted)
    return generated


def assert_explains_client_error(response: Response) -> None:
    """A 4xx carries a JSON ``detail`` that tells the client what to change."""
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), response.text
    detail = response.json().get("detail")
    assert detail, f"{response.status_code} without a detail: {response.text}"
    if response.status_code == 422 or isinstance(detail, list):
        assert isinstance(detail, list), response.text
        for item in detail:
            assert item.get("loc"), f"an error item without a location: {item}"
            assert item.get("msg"), f"an error item without a message: {item}"
    else:
        assert isinstance(detail, str), response.text
        assert detail.strip(), response.text


def test_the_floors_add_up_to_the_promised_total() -> None:
    floors = sum(MIN_EXAMPLES.get(label, MAX_EXAMPLES) for label, _ in RUNS)
    assert floors >= MIN_TOTAL


@pytest.mark.parametrize(("label", "mode"), RUNS, ids=[f"{label} {mode}" for label, mode in RUNS])
def test_operation(fuzz_stack: Stack, label: str, mode: GenerationMode) -> None:
    operation = OPERATIONS[label]
    sent = 0
    statuses: Counter[int] = Counter()

    # The moto stack is shared by the run's examples on purpose: it only ever grows.
    @fuzz_settings(MAX_EXAMPLES)
    @given(case=cases(operation, mode, fuzz_stack))
    def send(case: Case[Any]) -> None:
        nonlocal sent
        sent += 1
        response = case.call()
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS[mode])
        if 400 <= response.status_code < 500:
            assert_explains_client_error(response)

    send()
    generated_cases[f"API {label} ({mode})"] = sent
    print(f"{label} ({mode}): {sent} generated requests, statuses {dict(statuses)}")
    assert sent >= MIN_EXAMPLES.get(label, MAX_EXAMPLES)


def test_astral_and_combining_characters_in_file_paths_are_queued_unchanged(
    fuzz_stack: Stack,
) -> None:
    for oddity in ODDITIES[1:]:
        # GIVEN a valid upload key holding an astral or a combining character
        key = f"{UPLOADS}{oddity}.csv"
        single = OPERATIONS["POST /process/"].Case(query={"file_path": key})
        batch = OPERATIONS["POST /process/batch"].Case(body={"file_paths": [key, key]})
        for case in (single, batch):
            # WHEN it is sent for processing
            response = case.call()
            # THEN it is queued (202), not refused by SQS (a 503 that no retry would fix)
            case.validate_response(response, checks=CHECKS[GenerationMode.POSITIVE])
            assert response.status_code == 202, f"{oddity!r}: {response.text}"
        # AND the queued envelopes carry the key unchanged
        messages = fuzz_stack.sqs.receive_message(
            QueueUrl=fuzz_stack.queue_url, MaxNumberOfMessages=10
        ).get("Messages", [])
        assert len(messages) == 3, oddity
        for message in messages:
            envelope = TaskEnvelope.model_validate_json(message["Body"])
            assert envelope.arguments == {"file_path": key}
            fuzz_stack.sqs.delete_message(
                QueueUrl=fuzz_stack.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )


def test_file_paths_with_invisible_characters_are_refused_saying_which(
    fuzz_stack: Stack,
) -> None:
    for oddity in REFUSED_ODDITIES:
        # GIVEN a key holding a control, format, separator or non-character
        key = f"{UPLOADS}{oddity}.csv"
        single = OPERATIONS["POST /process/"].Case(query={"file_path": key})
        batch = OPERATIONS["POST /process/batch"].Case(body={"file_paths": [key, key]})
        for case in (single, batch):
            # WHEN it is sent for processing THEN it is a 422 naming the code point
            response = case.call()
            assert response.status_code == 422, f"{oddity!r}: {response.text}"
            assert f"U+{ord(oddity):04X}" in response.text
    # AND nothing was queued
    assert not fuzz_stack.sqs.receive_message(QueueUrl=fuzz_stack.queue_url).get("Messages")


def test_a_task_in_each_state_is_shown_as_the_schema_says(fuzz_stack: Stack) -> None:
    operation = OPERATIONS["GET /tasks/{task_id}"]
    for task_id in seed_statuses(fuzz_stack):
        case = operation.Case(path_parameters={"task_id": task_id})
        response = case.call()
        case.validate_response(response, checks=CHECKS[GenerationMode.POSITIVE])
        assert response.status_code == 200, response.text
        assert response.json()["status"] == task_id


def test_a_failing_background_email_leaves_the_response_alone(fuzz_stack: Stack) -> None:
    # GIVEN SES refusing to send: the sender is no longer verified
    aws.ses().delete_identity(Identity=fuzz_stack.sender)
    for case in (
        OPERATIONS["POST /send-notification/{email}"].Case(path_parameters={"email": "a@b.io"}),
        OPERATIONS["POST /send-notification/"].Case(query={"email": "a@b.io"}),
    ):
        # WHEN a notification is requested
        response = case.call()
        # THEN the response is the usual 200 (the email is sent after it), not a 5xx
        case.validate_response(response, checks=CHECKS[GenerationMode.POSITIVE])
        assert response.status_code == 200, response.text
    # AND each failed send was logged
    failures = [line for line in fuzz_stack.logs if line["message"] == "background task failed"]
    assert len(failures) == 2
