"""Move dead-lettered tasks back to the task queue: ``python -m app.tasks.redrive``.

Each task's envelope goes back with its ``attempt`` raised by one, so the worker sees a fresh
series of receives, and its status reads ``queued`` once the message has left the dead-letter
queue (never before: a failed send leaves it ``dead``, where it is). Messages that are not
task envelopes stay in the dead-letter queue for a person to look at, and so do envelopes
whose task has no status record (expired, forged or orphaned: only a task the API accepted
may run); tasks that already succeeded, or that their owner cancelled, are dropped. A run
moves each task at most once.

It reads TASK_QUEUE_URL, DEAD_LETTER_QUEUE_URL and TASK_TABLE_NAME (the stack's outputs
TaskQueueUrl, DeadLetterQueueUrl and TaskTableName) and the usual AWS variables.
"""

import argparse
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from pydantic import ValidationError

from app.tasks.envelope import TaskEnvelope
from app.tasks.lifecycle import TaskState
from app.tasks.status import TaskStatusStore

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# Long enough to requeue a received batch before another receive could see it again.
RECEIVE_VISIBILITY_SECONDS = 60
WAIT_SECONDS = 2  # long poll: a short poll samples few SQS servers and can miss messages


@dataclass
class RedriveReport:
    requeued: list[str] = field(default_factory=list)
    already_succeeded: list[str] = field(default_factory=list)
    # Cancelled by their owner: final, never revived; their messages are dropped.
    cancelled: list[str] = field(default_factory=list)
    left_in_dead_letter_queue: int = 0
    # Envelopes whose task has no status record (expired, or a forged or orphan message):
    # never turned into a task, they stay dead-lettered for a person to look at.
    no_status_record: list[str] = field(default_factory=list)
    # Tasks dead-lettered again while this run went on (a requeued task that died at once):
    # a run moves each task once, so it always ends; the next run takes them.
    left_for_next_run: list[str] = field(default_factory=list)


def redrive_dead_tasks(
    *,
    sqs: "SQSClient",
    store: TaskStatusStore,
    dead_letter_queue_url: str,
    queue_url: str,
    limit: int | None = None,
    wait_seconds: int = WAIT_SECONDS,
) -> RedriveReport:
    """Requeue up to ``limit`` tasks (all, by default) from the dead-letter queue."""
    report = RedriveReport()
    seen: set[str] = set()  # message ids, and below the task ids this run has handled
    tasks: set[str] = set()
    while limit is None or len(report.requeued) < limit:
        wanted = 10 if limit is None else min(10, limit - len(report.requeued))
        messages = sqs.receive_message(
            QueueUrl=dead_letter_queue_url,
            MaxNumberOfMessages=wanted,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["MessageGroupId"],
            VisibilityTimeout=RECEIVE_VISIBILITY_SECONDS,
            WaitTimeSeconds=wait_seconds,
        ).get("Messages", [])
        fresh = [message for message in messages if message["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            _redrive_one(sqs, store, message, dead_letter_queue_url, queue_url, report, tasks)
    return report


def _redrive_one(
    sqs: "SQSClient",
    store: TaskStatusStore,
    message: "MessageTypeDef",
    dead_letter_queue_url: str,
    queue_url: str,
    report: RedriveReport,
    tasks: set[str],
) -> None:
    try:
        envelope = TaskEnvelope.model_validate_json(message["Body"])
    except ValidationError:
        # Not ours to move: it stays (hidden for this run, so the next receive moves past it).
        report.left_in_dead_letter_queue += 1
        return
    if envelope.task_id in tasks:
        # Requeued by this run and dead-lettered again under a new message id: moving it
        # again could chase it forever, so it waits for the next run.
        report.left_for_next_run.append(envelope.task_id)
        return
    tasks.add(envelope.task_id)
    record = store.get_record(envelope.task_id, owner=envelope.owner)
    if record is None:
        # Anyone who can send to the DLQ could plant an envelope naming any owner: a task
        # runs only if the API once accepted it, so this one stays where it is.
        report.no_status_record.append(envelope.task_id)
        return
    ended = record.state in (TaskState.SUCCEEDED, TaskState.CANCELLED)
    if record.state is TaskState.SUCCEEDED:
        report.already_succeeded.append(envelope.task_id)
    elif record.state is TaskState.CANCELLED:
        report.cancelled.append(envelope.task_id)
    else:
        retry = envelope.model_copy(update={"attempt": envelope.attempt + 1})
        attributes = {
            name: value
            for name, value in message.get("MessageAttributes", {}).items()
            if name != "dead_letter_reason"
        }
        # A standard queue's group is the owner (fair queues), as the sender sets it.
        grouping: dict[str, str] = {"MessageGroupId": envelope.owner}
        if queue_url.endswith(".fifo"):
            group = message.get("Attributes", {}).get("MessageGroupId") or envelope.task_id
            grouping = {
                "MessageGroupId": group,
                "MessageDeduplicationId": f"{envelope.task_id}-{retry.attempt}",
            }
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=retry.message_body(),
            MessageAttributes=attributes,
            **grouping,  # type: ignore[arg-type]
        )
        report.requeued.append(envelope.task_id)
    sqs.delete_message(QueueUrl=dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
    if not ended:
        # Only now that the message has left the DLQ; a worker may already hold it, or have
        # run it and dead-lettered it again, and then the requeue is refused (its write wins).
        store.requeue(envelope.task_id, seen=record, owner=envelope.owner)


class RedriveSetupError(Exception):
    """The tool cannot reach the queues or table it was pointed at: say what to set."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=None, help="requeue at most this many")
    arguments = parser.parse_args(argv)
    if arguments.limit is not None and arguments.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        report = _run(arguments.limit)
    except RedriveSetupError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    print(
        f"requeued {len(report.requeued)} task(s); "
        f"{len(report.already_succeeded)} had already succeeded; "
        f"{len(report.cancelled)} were cancelled: dropped; "
        f"{report.left_in_dead_letter_queue} message(s) are not tasks and stay dead-lettered; "
        f"{len(report.no_status_record)} have no status record: left dead-lettered; "
        f"{len(report.left_for_next_run)} died again during this run: left for the next run"
    )
    return 0


def _run(limit: int | None) -> RedriveReport:
    from app import aws
    from app.config import get_settings

    settings = get_settings()
    missing = [
        name
        for name, value in (
            ("TASK_QUEUE_URL", settings.task_queue_url),
            ("DEAD_LETTER_QUEUE_URL", settings.dead_letter_queue_url),
        )
        if not value
    ]
    if "task_table_name" not in settings.model_fields_set:
        # Its default ("tasks") is no stack's table name.
        missing.append("TASK_TABLE_NAME")
    if missing:
        raise RedriveSetupError(
            f"set {', '.join(missing)} (the stack's outputs TaskQueueUrl, DeadLetterQueueUrl "
            "and TaskTableName)"
        )
    try:
        return redrive_dead_tasks(
            sqs=aws.sqs(),
            store=TaskStatusStore.from_settings(aws.dynamodb(), settings),
            dead_letter_queue_url=settings.dead_letter_queue_url,
            queue_url=settings.task_queue_url,
            limit=limit,
        )
    except NoRegionError as error:
        raise RedriveSetupError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)") from error
    except NoCredentialsError as error:
        raise RedriveSetupError(
            "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from error
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if "NonExistentQueue" in code or "QueueDoesNotExist" in code:
            raise RedriveSetupError(
                f"no such queue ({code}): check TASK_QUEUE_URL={settings.task_queue_url} and "
                f"DEAD_LETTER_QUEUE_URL={settings.dead_letter_queue_url}"
            ) from error
        if code == "ResourceNotFoundException":
            raise RedriveSetupError(
                f"no table {settings.task_table_name!r}: set TASK_TABLE_NAME to the stack's "
                "TaskTableName output"
            ) from error
        raise RedriveSetupError(f"AWS refused the redrive: {code or error}") from error
    except BotoCoreError as error:
        raise RedriveSetupError(
            f"cannot reach AWS ({type(error).__name__}: {error}); check AWS_ENDPOINT_URL and "
            "the network"
        ) from error


if __name__ == "__main__":
    raise SystemExit(main())
