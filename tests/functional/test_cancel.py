"""DELETE /tasks/{id}: its owner cancels a task that has not started, through the API
function's handler; the worker's handler drops a cancelled task's messages; both races.
"""

import json
from datetime import timedelta
from typing import Any

import pytest

from app.tasks import lifecycle
from app.tasks.redrive import redrive_dead_tasks
from infra.local.scheduler import LocalScheduler
from tests.functional import sample_tasks
from tests.functional.callers import ALICE, BOB, call
from tests.functional.schedules import (
    KEY,
    accepted,
    cancel,
    fire_due,
    later,
    process,
    run_at,
    schedule_of,
    task_sender,
    worker_takes_visible,
)
from tests.functional.stack import Stack


def body(response: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


def dead_letters(stack: Stack) -> list[Any]:
    return stack.receive_messages(stack.dead_letter_queue_url)


def test_a_queued_task_cancelled_never_runs_and_its_message_goes(stack: Stack) -> None:
    stack.upload(KEY, b"a\n")
    task_id = accepted(process(stack, ""))
    # WHEN its owner cancels it before a worker took it
    response = cancel(stack, task_id)
    # THEN the answer is its status: cancelled, final
    assert response["statusCode"] == 200, response["body"]
    assert body(response)["status"] == "cancelled"
    assert body(response)["finished_at"] is not None
    # WHEN the worker receives its message
    worker_takes_visible(stack)
    # THEN it is skipped and deleted: not retried, not dead-lettered, never run
    assert stack.receive_messages() == []
    assert dead_letters(stack) == []
    status = stack.task_status(task_id)
    assert status["status"] == "cancelled"
    assert status["attempts"] == 0
    assert status["result"] is None
    assert [line for line in stack.logs if "cancelled by its owner" in line["message"]]


def test_a_scheduled_task_cancelled_loses_its_schedule(stack: Stack) -> None:
    when = later(3600)
    task_id = accepted(process(stack, run_at(when)))
    assert schedule_of(stack, task_id) is not None
    # WHEN its owner cancels it
    response = cancel(stack, task_id)
    # THEN it is cancelled and its schedule deleted: nothing will send it
    assert response["statusCode"] == 200, response["body"]
    assert body(response)["status"] == "cancelled"
    assert schedule_of(stack, task_id) is None
    assert fire_due(when + timedelta(seconds=1)) == []
    assert stack.receive_messages() == []


def test_a_task_waiting_to_retry_can_be_cancelled(stack: Stack) -> None:
    # GIVEN a task whose first attempt failed: it waits for its next
    task_id = task_sender(stack).send(sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=2))
    sample_tasks.attempts_seen.clear()
    worker_takes_visible(stack)
    assert stack.task_status(task_id)["status"] == "failed"
    # WHEN its owner cancels it
    response = cancel(stack, task_id)
    # THEN it is cancelled, and the retry that comes round is dropped without running
    assert response["statusCode"] == 200, response["body"]
    assert body(response)["next_attempt_at"] is None
    worker_takes_visible(stack)
    assert sample_tasks.attempts_seen == [1]
    assert stack.task_status(task_id)["status"] == "cancelled"
    assert stack.receive_messages() == []


@pytest.mark.parametrize("state", ["running", "succeeded", "dead", "cancelled"])
def test_a_task_running_or_ended_answers_409_with_its_state(stack: Stack, state: str) -> None:
    stack.store.create_queued("t1", "process_file", None, owner="local")
    if state == "running":
        stack.store.claim(
            "t1", owner="local", receive_count=1, max_receives=3, lease_token="k", lease_seconds=60
        )
    elif state in ("succeeded", "dead"):
        stack.store.claim(
            "t1", owner="local", receive_count=1, max_receives=3, lease_token="k", lease_seconds=60
        )
        stack.store.finish("t1", "k", lifecycle.TaskState(state))
    else:
        assert cancel(stack, "t1")["statusCode"] == 200
    # WHEN its owner cancels it
    response = cancel(stack, "t1")
    # THEN it is a 409 naming its state, and the task is as it was
    assert response["statusCode"] == 409, response["body"]
    assert f"the task is {state}" in body(response)["detail"]
    assert stack.task_status("t1")["status"] == state


def test_another_owners_task_is_the_same_404_as_an_unknown_one(stack_with_auth: Stack) -> None:
    stack = stack_with_auth
    # GIVEN a task Alice queued
    response = call(
        stack,
        "http-api-v2",
        "POST",
        "/process/",
        query=f"file_path=uploads/{ALICE['sub']}/a.csv",
        claims=ALICE,
    )
    task_id = accepted(response)
    # WHEN Bob cancels Alice's task, and an id nobody has
    theirs = call(stack, "http-api-v2", "DELETE", f"/tasks/{task_id}", claims=BOB)
    unknown = call(stack, "http-api-v2", "DELETE", f"/tasks/{'0' * 32}", claims=BOB)
    # THEN both are the same 404, and Alice's task is untouched
    assert theirs["statusCode"] == unknown["statusCode"] == 404
    assert body(theirs)["detail"].replace(task_id, "ID") == body(unknown)["detail"].replace(
        "0" * 32, "ID"
    )
    mine = call(stack, "http-api-v2", "GET", f"/tasks/{task_id}", claims=ALICE)
    assert body(mine)["status"] == "queued"
    # AND its owner may cancel it
    assert (
        call(stack, "http-api-v2", "DELETE", f"/tasks/{task_id}", claims=ALICE)["statusCode"] == 200
    )


def test_race_a_cancel_after_the_workers_claim_is_409_and_the_task_runs(stack: Stack) -> None:
    # GIVEN a task that, while it runs, has its owner's cancel come in
    answers: list[dict[str, Any]] = []
    task_id = task_sender(stack).send(sample_tasks.during, sample_tasks.Blob(text="cancel-me"))

    def cancel_now() -> int:
        answers.append(cancel(stack, task_id))
        return int(answers[-1]["statusCode"])

    sample_tasks.during_run["cancel-me"] = cancel_now
    # WHEN the worker claims and runs it
    worker_takes_visible(stack)
    # THEN the claim landed first: the cancel was refused as running, and the task finished
    [answer] = answers
    assert answer["statusCode"] == 409, answer["body"]
    assert "the task is running" in body(answer)["detail"]
    assert stack.task_status(task_id)["status"] == "succeeded"


def test_race_a_cancel_before_the_workers_claim_wins_and_the_task_never_runs(
    stack: Stack,
) -> None:
    # GIVEN a task whose message the worker is about to take
    ran: list[str] = []
    task_id = task_sender(stack).send(sample_tasks.during, sample_tasks.Blob(text="never"))
    sample_tasks.during_run["never"] = lambda: ran.append("ran")
    event = stack.queued_event()
    # WHEN the cancel lands first, then the worker handles the message it received
    assert cancel(stack, task_id)["statusCode"] == 200
    assert stack.run_worker(event) == {"batchItemFailures": []}
    # THEN its claim was refused: it never ran, the message is gone, the status stays
    assert ran == []
    assert stack.receive_messages() == []
    assert dead_letters(stack) == []
    assert stack.task_status(task_id)["status"] == "cancelled"


def test_race_a_schedule_firing_as_it_is_cancelled_sends_a_message_that_is_dropped(
    stack: Stack,
) -> None:
    stack.upload(KEY, b"a\n")
    when = later(2 * 3600)
    fired = accepted(process(stack, run_at(when)))
    late = accepted(process(stack, run_at(when)))
    late_schedule = schedule_of(stack, late)
    assert late_schedule is not None
    # WHEN one schedule fires just before its task is cancelled (its schedule already gone)
    fire_due(when + timedelta(seconds=1))
    assert cancel(stack, fired)["statusCode"] == 200
    # AND the other is cancelled, but its schedule still fires (deletion lost the race)
    assert cancel(stack, late)["statusCode"] == 200
    LocalScheduler(clock=lambda: when).fire(late_schedule, when)
    # WHEN the worker receives both messages
    worker_takes_visible(stack)
    # THEN neither runs: both messages are deleted and both statuses stay cancelled
    assert stack.receive_messages() == []
    assert dead_letters(stack) == []
    for task_id in (fired, late):
        status = stack.task_status(task_id)
        assert status["status"] == "cancelled"
        assert status["attempts"] == 0


def test_a_redrive_never_revives_a_cancelled_task(stack: Stack) -> None:
    # GIVEN a cancelled task whose message reached the dead-letter queue anyway
    task_id = task_sender(stack).send(sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=1))
    [message] = stack.receive_messages()
    assert cancel(stack, task_id)["statusCode"] == 200
    stack.sqs.send_message(QueueUrl=stack.dead_letter_queue_url, MessageBody=message["Body"])
    # WHEN the operator redrives the dead-letter queue
    report = redrive_dead_tasks(
        sqs=stack.sqs,
        store=stack.store,
        dead_letter_queue_url=stack.dead_letter_queue_url,
        queue_url=stack.queue_url,
        wait_seconds=0,
    )
    # THEN it is reported cancelled and dropped, not requeued; its status stays cancelled
    assert report.cancelled == [task_id]
    assert report.requeued == []
    assert dead_letters(stack) == []
    assert stack.task_status(task_id)["status"] == "cancelled"
    # AND the original message, when the worker gets it, is dropped too
    sample_tasks.attempts_seen.clear()
    worker_takes_visible(stack)
    assert sample_tasks.attempts_seen == []
    assert stack.receive_messages() == []
