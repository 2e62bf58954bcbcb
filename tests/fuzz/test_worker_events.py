"""Hypothesis feeds the worker malformed SQS records, mixed with good ones in one batch.

Bad records are whatever a queue can hold that is not a task the worker can run: random
text, binary-looking text, JSON of the wrong shape, envelopes with wrong types, extra fields,
huge ids, unknown task names or bad arguments, under odd record attributes. Good records are
``process_file`` envelopes whose upload and queued status exist. Whatever the mix:

- the handler returns ``{"batchItemFailures": [...]}`` and never raises;
- the failures name only messages of the batch, and never a good one;
- every good task succeeds;
- a body that is not a task envelope is dead-lettered at once (not failed, so not retried),
  whenever its message attributes have Lambda's shape (a map, or none).

The dead-letter copies go through the fuzz stack's SQS rules (see conftest), so a copy that
real SQS would refuse fails the test even though moto would take it.
"""

import itertools
import json
import string
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.tasks.envelope import TaskEnvelope
from app.tasks.status import TaskState
from app.worker.handler import handler
from tests.functional.stack import Stack
from tests.fuzz.conftest import fuzz_settings, generated_cases, sqs_text_problem
from tests.lambda_context import FakeContext

GOOD_UPLOAD = "uploads/local/fuzz/good.txt"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:tasks"
MAX_EXAMPLES = 150

# What SQS can carry: no C0 controls but tab and newlines, no surrogates, no U+FFFE/U+FFFF.
SQS_CHARACTERS = st.characters(
    exclude_categories=["Cs"],
    exclude_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"] + ["\ufffe", "\uffff"],
)
sqs_text = st.text(SQS_CHARACTERS, min_size=1, max_size=80)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def as_sqs_text(data: bytes) -> str:
    """Bytes as the text a producer would have sent: undecodable or disallowed parts replaced."""
    text = data.decode("utf-8", errors="replace")
    return "".join("\ufffd" if sqs_text_problem(c) else c for c in text)


# Envelope fields, each replaceable by a wrong value: the worker must never trust a body.
task_ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True).filter(
    lambda task_id: not task_id.startswith("good")
)
upload_keys = st.one_of(
    st.just(GOOD_UPLOAD),
    st.text(max_size=30).map(lambda rest: f"uploads/local/missing/{rest}"),
    st.sampled_from(
        ["", "/etc/passwd", "uploads/../secret", "uploads/\x00", "results/x", "uploads/"]
    ),
)
ENVELOPE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "format": st.sampled_from([1, 2, "1", None]),
    "task_id": st.one_of(
        task_ids,
        st.text(min_size=65, max_size=300),
        st.integers(min_value=10**20, max_value=10**60),
        st.just(""),
    ),
    "name": st.one_of(st.just("process_file"), st.text(max_size=200), st.integers()),
    "version": st.one_of(st.just(1), st.integers(min_value=-(10**30), max_value=10**30)),
    "arguments": st.one_of(
        upload_keys.map(lambda key: {"file_path": key}),
        st.dictionaries(st.text(max_size=10), json_values, max_size=3),
        json_values,
    ),
    "arguments_key": st.one_of(st.none(), st.text(max_size=40)),
    "attempt": st.one_of(st.just(1), st.integers(min_value=-5, max_value=10**30)),
    "correlation_id": st.one_of(st.none(), st.text(max_size=300)),
    "enqueued_at": st.one_of(st.just("2026-11-27T12:00:00Z"), st.text(max_size=30), st.integers()),
}


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """A ``process_file`` envelope with some fields wrong, missing or added."""
    envelope: dict[str, Any] = {
        "task_id": draw(task_ids),
        "name": "process_file",
        "version": 1,
        "owner": "local",
        "arguments": {"file_path": draw(upload_keys)},
    }
    for field in draw(st.sets(st.sampled_from(sorted(ENVELOPE_FIELDS)), max_size=3)):
        envelope[field] = draw(ENVELOPE_FIELDS[field])
    for field in draw(st.sets(st.sampled_from(sorted(envelope)), max_size=1)):
        del envelope[field]
    if draw(st.booleans()):
        envelope[draw(st.text(max_size=10))] = draw(json_values)
    return envelope


bodies = st.one_of(
    sqs_text,
    st.binary(min_size=1, max_size=120).map(as_sqs_text),
    json_values.map(json.dumps),
    envelopes().map(json.dumps),
    envelopes()
    .map(lambda envelope: json.dumps(envelope, ensure_ascii=False))
    .filter(lambda text: sqs_text_problem(text) is None),
)

# Lambda's record attributes: usually right, sometimes absent, non-numeric, huge or mistyped.
receive_counts = st.one_of(
    st.integers(min_value=1, max_value=10).map(str),
    st.integers(min_value=10**6, max_value=10**40).map(str),
    st.text(max_size=10),
    st.integers(),
    st.none(),
)
record_attributes = st.one_of(
    st.fixed_dictionaries(
        {"SentTimestamp": st.just("1795780800000")},
        optional={"ApproximateReceiveCount": receive_counts, "SenderId": sqs_text},
    ),
    st.none(),
    json_values,
)
attribute_names = st.one_of(
    st.sampled_from(["correlation_id", "task_name", "dead_letter_reason"]),
    st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9_-]{0,40}", fullmatch=True).filter(
        lambda name: not name.lower().startswith(("aws", "amazon"))
    ),
)
string_attributes = st.builds(
    lambda value: {
        "stringValue": value,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    },
    sqs_text,
)
binary_attributes = st.builds(
    lambda value: {"binaryValue": value, "dataType": "Binary"},
    st.from_regex(r"([A-Za-z0-9+/]{4}){1,10}", fullmatch=True),
)
well_formed_message_attributes = st.dictionaries(
    attribute_names, string_attributes | binary_attributes, max_size=10
)
message_attributes = st.one_of(
    well_formed_message_attributes,
    st.dictionaries(attribute_names, json_values, max_size=3),
    st.none(),
    json_values.filter(lambda value: not isinstance(value, dict)),
)


@st.composite
def bad_records(draw: st.DrawFn, index: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": f"bad-{index}",
        "receiptHandle": draw(st.text(string.ascii_letters, min_size=1, max_size=40)),
        "body": draw(bodies),
        "attributes": draw(record_attributes),
        "messageAttributes": draw(message_attributes),
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }
    for name in draw(st.sets(st.sampled_from(["attributes", "messageAttributes"]))):
        del record[name]  # Lambda always sends both; a worker must cope without
    return record


good_ids = itertools.count()


def good_record(stack: Stack) -> tuple[str, dict[str, Any]]:
    """A queued ``process_file`` task whose upload exists, as Lambda would deliver it."""
    number = next(good_ids)
    task_id = f"good{number}"
    stack.store.create_queued(
        task_id, "process_file", correlation_id=f"corr-{number}", owner="local"
    )
    envelope = TaskEnvelope(
        task_id=task_id,
        name="process_file",
        version=1,
        owner="local",
        arguments={"file_path": GOOD_UPLOAD},
        correlation_id=f"corr-{number}",
    )
    return task_id, {
        "messageId": f"good-{number}",
        "receiptHandle": f"fake-receipt-{number}",
        "body": envelope.model_dump_json(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795780800000"},
        "messageAttributes": {
            "correlation_id": {"stringValue": f"corr-{number}", "dataType": "String"},
            "task_name": {"stringValue": "process_file", "dataType": "String"},
        },
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def is_envelope(body: str) -> bool:
    try:
        TaskEnvelope.model_validate_json(body)
    except ValidationError:
        return False
    return True


def drain_dead_letters(stack: Stack) -> list[dict[str, Any]]:
    """Remove and return what the dead-letter queue holds: each body and string attributes."""
    drained: list[dict[str, Any]] = []
    while True:
        messages = stack.sqs.receive_message(
            QueueUrl=stack.dead_letter_queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return drained
        for message in messages:
            attributes = {
                name: value.get("StringValue")
                for name, value in message.get("MessageAttributes", {}).items()
            }
            drained.append({"body": message["Body"], "attributes": attributes})
            stack.sqs.delete_message(
                QueueUrl=stack.dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )


# A batch whose every record failed before any metric leaves Powertools nothing to publish;
# it warns, which pytest's filterwarnings=error would turn into the handler's exception.
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_bad_records_never_break_the_batch_or_its_good_records(fuzz_stack: Stack) -> None:
    stack = fuzz_stack
    stack.upload(GOOD_UPLOAD, b"one\ntwo\n")
    examples = 0

    @fuzz_settings(MAX_EXAMPLES)
    @given(
        bad=st.integers(min_value=1, max_value=7).flatmap(
            lambda count: st.tuples(*(bad_records(index) for index in range(count)))
        ),
        good_count=st.integers(min_value=0, max_value=3),
        data=st.data(),
    )
    def run(bad: tuple[dict[str, Any], ...], good_count: int, data: st.DataObject) -> None:
        nonlocal examples
        examples += 1
        good = dict(good_record(stack) for _ in range(good_count))
        records = data.draw(st.permutations([*bad, *good.values()]), label="batch order")

        response = handler({"Records": records}, FakeContext(function_name="worker"))

        assert set(response) == {"batchItemFailures"}, response
        failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
        assert set(failed) <= {record["messageId"] for record in records}
        assert len(failed) == len(set(failed)), failed
        for task_id, record in good.items():
            assert record["messageId"] not in failed
            status = stack.store.get(task_id, owner="local")
            assert status is not None, task_id
            assert status.status is TaskState.SUCCEEDED, status
        dead = drain_dead_letters(stack)
        malformed = [
            record
            for record in bad
            if not is_envelope(record["body"])
            and isinstance(record.get("messageAttributes") or {}, dict)
        ]
        for record in malformed:
            assert record["messageId"] not in failed, record
        assert Counter(r["body"] for r in malformed) <= Counter(d["body"] for d in dead)
        for letter in dead:
            assert letter["attributes"].get("dead_letter_reason"), letter

    run()
    generated_cases["worker batches"] = examples
    assert examples >= MAX_EXAMPLES


def test_a_retry_with_a_receipt_handle_sqs_does_not_know_is_logged_not_raised(
    fuzz_stack: Stack,
) -> None:
    # GIVEN a queued task whose upload is missing, delivered with a made-up receipt handle,
    # once on an early receive and once on the worker's last attempt
    stack = fuzz_stack
    outcomes = {}
    for receive_count in ("1", str(stack.attempts)):
        task_id, record = good_record(stack)
        body = json.loads(record["body"])
        body["arguments"]["file_path"] = "uploads/local/fuzz/not-uploaded.txt"
        record["body"] = json.dumps(body)
        record["attributes"]["ApproximateReceiveCount"] = receive_count
        # WHEN the worker handles it
        response = handler({"Records": [record]}, FakeContext(function_name="worker"))
        # THEN nothing was raised: the early one failed (SQS retries it), the last one was
        # dead-lettered by the worker; the status says which
        failures = [{"itemIdentifier": record["messageId"]}] if receive_count == "1" else []
        assert response == {"batchItemFailures": failures}
        status = stack.store.get(task_id, owner="local")
        assert status is not None
        outcomes[receive_count] = status.status
    assert outcomes == {"1": TaskState.FAILED, str(stack.attempts): TaskState.DEAD}
    # AND the refused ChangeMessageVisibility was logged
    refused = [line for line in stack.logs if line["message"] == "could not set the retry delay"]
    assert len(refused) == 1
    assert all("ReceiptHandleIsInvalid" in line.get("exception", "") for line in refused)


def test_a_malformed_message_sqs_could_refuse_a_copy_of_is_still_dead_lettered(
    fuzz_stack: Stack,
) -> None:
    # GIVEN a message that is not an envelope, whose JSON key is a control character (which
    # the reason quotes), with SQS's maximum of ten attributes, the correlation id last
    _, record = good_record(fuzz_stack)
    record["body"] = '{"\\u0000": 1}'
    names = [f"attribute{i}" for i in range(9)] + ["correlation_id"]
    record["messageAttributes"] = {
        name: {"stringValue": f"{name}-value", "dataType": "String"} for name in names
    }
    # WHEN the worker handles it
    response = handler({"Records": [record]}, FakeContext(function_name="worker"))
    # THEN it is not failed but dead-lettered, with its reason and its correlation id
    assert response == {"batchItemFailures": []}
    [dead] = drain_dead_letters(fuzz_stack)
    assert dead["body"] == record["body"]
    assert len(dead["attributes"]) == 10
    assert dead["attributes"]["correlation_id"] == "correlation_id-value"
    reason = dead["attributes"]["dead_letter_reason"]
    assert reason.startswith("not a task envelope: ")
    assert "\ufffd: Extra inputs are not permitted" in reason
