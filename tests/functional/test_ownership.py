"""Each caller owns their tasks and uploads: attacks by one verified user on another's work.

Every request goes through the API function's Lambda handler with the claims API Gateway's
JWT authorizer would pass, in HTTP API v2 and REST v1 events.
"""

import base64
import json
from typing import Any

import pytest

from app.config import get_settings
from tests.functional.callers import ALICE, BOB, FORMATS, Format, call, uploads_of
from tests.functional.stack import Stack


def queue(stack: Stack, event_format: Format, claims: dict[str, Any], key: str) -> str:
    response = call(
        stack, event_format, "POST", "/process/", query=f"file_path={key}", claims=claims
    )
    assert response["statusCode"] == 202, response["body"]
    task_id: str = json.loads(response["body"])["task_id"]
    return task_id


@pytest.mark.parametrize("event_format", FORMATS)
def test_another_owners_task_reads_exactly_like_an_unknown_one(
    stack_with_auth: Stack, event_format: Format
) -> None:
    stack = stack_with_auth
    # GIVEN a task Alice queued
    alice_task = queue(stack, event_format, ALICE, uploads_of(ALICE) + "report.csv")
    assert (
        call(stack, event_format, "GET", f"/tasks/{alice_task}", claims=ALICE)["statusCode"] == 200
    )
    # WHEN Bob asks for it, and for an id nobody has
    theirs = call(stack, event_format, "GET", f"/tasks/{alice_task}", claims=BOB)
    unknown = call(stack, event_format, "GET", f"/tasks/{'0' * 32}", claims=BOB)
    # THEN both are the same 404, which tells Bob nothing of Alice's task
    assert theirs["statusCode"] == unknown["statusCode"] == 404
    assert json.loads(theirs["body"])["detail"].replace(alice_task, "ID") == json.loads(
        unknown["body"]
    )["detail"].replace("0" * 32, "ID")
    assert "a1c3e000" not in theirs["body"]
    assert "report.csv" not in theirs["body"]


@pytest.mark.parametrize("event_format", FORMATS)
def test_nobody_queues_another_owners_upload(stack_with_auth: Stack, event_format: Format) -> None:
    stack = stack_with_auth
    # GIVEN Alice's upload in the bucket
    alices = uploads_of(ALICE) + "report.csv"
    stack.upload(alices, b"secret,numbers\n1,2\n")
    # WHEN Bob asks to process it, alone or in a batch with one of his own, or names another
    # owner's key that does not exist
    single = call(stack, event_format, "POST", "/process/", query=f"file_path={alices}", claims=BOB)
    batch = call(
        stack,
        event_format,
        "POST",
        "/process/batch",
        claims=BOB,
        body={"file_paths": [uploads_of(BOB) + "mine.csv", alices]},
    )
    missing = call(
        stack,
        event_format,
        "POST",
        "/process/",
        query=f"file_path={uploads_of(ALICE)}nothing-here.csv",
        claims=BOB,
    )
    outside = call(
        stack, event_format, "POST", "/process/", query="file_path=results/x.csv", claims=BOB
    )
    # THEN every one is a 403 that names only Bob's own prefix, the same whether the object
    # exists or not, and nothing is queued
    for response in (single, batch, missing, outside):
        assert response["statusCode"] == 403, response["body"]
        detail = json.loads(response["body"])["detail"]
        assert detail == f"file_path must name one of your uploads, under '{uploads_of(BOB)}'"
    assert stack.receive_messages() == []
    assert stack.dynamodb.scan(TableName=stack.task_table)["Items"] == []


def test_a_forged_message_cannot_make_the_worker_read_another_owners_upload(
    stack_with_auth: Stack,
) -> None:
    stack = stack_with_auth
    # GIVEN Alice's upload, and a message that claims Bob asked to process it (written to the
    # queue directly, past the API), with a status record that agrees it is Bob's
    alices = uploads_of(ALICE) + "report.csv"
    stack.upload(alices, b"secret\n")
    envelope = {
        "format": 1,
        "task_id": "f0" * 16,
        "name": "process_file",
        "version": 1,
        "owner": BOB["sub"],
        "arguments": {"file_path": alices},
        "arguments_key": None,
        "attempt": 1,
        "correlation_id": "forged",
        "enqueued_at": "2026-11-27T12:00:00Z",
    }
    stack.seed_queued(envelope)
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(envelope))
    # WHEN the worker runs it
    stack.run_worker(stack.queued_event())
    # THEN the task is dead without a retry, and no result of Alice's file exists anywhere
    status = stack.store.get("f0" * 16, owner=BOB["sub"])
    assert status is not None
    assert status.status == "dead"
    assert "your uploads" in (status.last_error or "")
    assert status.result is None
    assert stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix="results/").get("KeyCount") == 0


@pytest.mark.parametrize("event_format", FORMATS)
def test_uploads_are_presigned_under_the_callers_own_prefix(
    stack_with_auth: Stack, event_format: Format
) -> None:
    stack = stack_with_auth
    # WHEN Alice and Bob each ask for an upload, one naming a path that tries to escape
    alice = call(
        stack,
        event_format,
        "POST",
        "/uploads",
        claims=ALICE,
        body={"filename": "../../uploads/b0b/evil name.csv"},
    )
    bob = call(stack, event_format, "POST", "/uploads", claims=BOB)
    # THEN each gets a fresh key under their own prefix, with the file name made harmless
    assert alice["statusCode"] == bob["statusCode"] == 201, alice["body"]
    alice_upload, bob_upload = json.loads(alice["body"]), json.loads(bob["body"])
    assert alice_upload["key"].startswith(uploads_of(ALICE))
    assert alice_upload["key"].endswith("/evil_name.csv")
    assert alice_upload["key"].count("/") == 3
    assert bob_upload["key"].startswith(uploads_of(BOB))
    # AND the presigned POST lets them put exactly that key, within the size limit, briefly
    policy = json.loads(base64.b64decode(alice_upload["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": alice_upload["key"]} in conditions
    assert ["content-length-range", 1, alice_upload["max_bytes"]] in conditions
    assert alice_upload["max_bytes"] == get_settings().max_upload_bytes
    assert alice_upload["expires_in"] == 300
    assert alice_upload["fields"]["key"] == alice_upload["key"]
    # AND the key is one Alice may then have processed, and Bob may not
    key = alice_upload["key"]
    stack.upload(key, b"1\n")
    assert (
        call(stack, event_format, "POST", "/process/", query=f"file_path={key}", claims=ALICE)[
            "statusCode"
        ]
        == 202
    )
    assert (
        call(stack, event_format, "POST", "/process/", query=f"file_path={key}", claims=BOB)[
            "statusCode"
        ]
        == 403
    )
