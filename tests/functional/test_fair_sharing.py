"""Fair sharing on a standard queue: every task message carries its owner as MessageGroupId.

SQS fair queues (standard queues, 2025) balance consumers' share across message groups, so
one owner's burst does not hold back the others. moto stores and returns the group of a
standard queue's messages, and (like SQS) keeps no order within one; it does not model the
fair scheduling itself, which only AWS does.
"""

import json
from typing import Any

from app import aws
from app.tasks.redrive import redrive_dead_tasks
from app.tasks.sender import TaskRequest
from tests.functional import sample_tasks
from tests.functional.callers import ALICE, BOB, call, uploads_of
from tests.functional.stack import Stack


def groups(stack: Stack) -> dict[str, str]:
    """task id -> MessageGroupId of every visible task message, as SQS returns them."""
    return {
        json.loads(message["Body"])["task_id"]: message["Attributes"]["MessageGroupId"]
        for message in stack.receive_messages()
    }


def test_each_owners_tasks_carry_the_owner_as_their_group(stack_with_auth: Stack) -> None:
    stack = stack_with_auth
    # WHEN Alice queues a batch of three and Bob one task, through the API
    batch = call(
        stack,
        "http-api-v2",
        "POST",
        "/process/batch",
        body={"file_paths": [uploads_of(ALICE) + f"{n}.csv" for n in range(3)]},
        claims=ALICE,
    )
    single = call(
        stack,
        "http-api-v2",
        "POST",
        "/process/",
        query=f"file_path={uploads_of(BOB)}report.csv",
        claims=BOB,
    )
    assert batch["statusCode"] == single["statusCode"] == 202
    alice_ids = json.loads(batch["body"])["task_ids"]
    bob_id = json.loads(single["body"])["task_id"]
    # THEN every message SQS returns carries its owner as the message group
    assert groups(stack) == {
        **dict.fromkeys(alice_ids, ALICE["sub"]),
        bob_id: BOB["sub"],
    }


def test_a_delayed_task_keeps_its_delay_and_its_group(
    stack: Stack, sqs_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    # WHEN a task is sent with a delay
    sender = stack.task_sender()
    sender.send(sample_tasks.measure_blob, sample_tasks.Blob(text="x"), delay_seconds=60)
    # THEN the queue accepted one entry with both
    [(name, params)] = sqs_calls
    assert name == "SendMessageBatch"
    [entry] = params["Entries"]
    assert (entry["MessageGroupId"], entry["DelaySeconds"]) == ("local", 60)
    assert "MessageDeduplicationId" not in entry  # a standard queue refuses one


def test_one_owners_burst_is_not_serialised_on_a_standard_queue(stack: Stack) -> None:
    # GIVEN ten tasks of one owner: one message group
    sender = stack.task_sender()
    ids = sender.send_many(
        [TaskRequest(sample_tasks.meet, sample_tasks.Together(label=str(n))) for n in range(10)]
    )
    # WHEN the event source mapping receives THEN one receive holds all ten (a FIFO queue would
    # hand out one group's messages one at a time), and the worker runs them side by side
    event = stack.queued_event()
    assert {record["attributes"]["MessageGroupId"] for record in event["Records"]} == {"local"}
    assert len(event["Records"]) == 10
    sample_tasks.together.reset()
    assert stack.run_worker(event) == {"batchItemFailures": []}
    assert {stack.task_status(task_id)["status"] for task_id in ids} == {"succeeded"}


def test_a_redriven_task_keeps_its_owner_as_its_group(stack: Stack) -> None:
    # GIVEN a task that died at once and waits in the dead-letter queue
    sender = stack.task_sender()
    task_id = sender.send(
        sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=1, permanent=True)
    )
    stack.run_worker(stack.queued_event())
    # WHEN an operator redrives it
    report = redrive_dead_tasks(
        sqs=aws.sqs(),
        store=stack.store,
        dead_letter_queue_url=stack.dead_letter_queue_url,
        queue_url=stack.queue_url,
        wait_seconds=0,
    )
    # THEN the requeued message is in its owner's group again
    assert report.requeued == [task_id]
    assert groups(stack) == {task_id: "local"}
