"""Move dead-lettered tasks back to the task queue: ``python -m app.tasks.redrive``.

Each task's status goes back to ``queued`` and its envelope's ``attempt`` is raised by one,
so the worker sees a fresh series of receives. Messages that are not task envelopes stay in
the dead-letter queue for a person to look at; tasks that already succeeded are dropped.
"""

import argparse
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app import aws
from app.config import get_settings
from app.tasks.envelope import TaskEnvelope
from app.tasks.status import TaskState, TaskStatusStore

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass
class RedriveReport:
    requeued: list[str] = field(default_factory=list)
    already_succeeded: list[str] = field(default_factory=list)
    left_in_dead_letter_queue: int = 0


def redrive_dead_tasks(
    *,
    sqs: "SQSClient",
    store: TaskStatusStore,
    dead_letter_queue_url: str,
    queue_url: str,
    limit: int | None = None,
) -> RedriveReport:
    report = RedriveReport()
    seen: set[str] = set()
    while limit is None or len(report.requeued) < limit:
        messages = sqs.receive_message(
            QueueUrl=dead_letter_queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["MessageGroupId"],
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        fresh = [message for message in messages if message["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            try:
                envelope = TaskEnvelope.model_validate_json(message["Body"])
            except ValidationError:
                report.left_in_dead_letter_queue += 1
                continue
            status = store.get(envelope.task_id)
            if status is not None and status.status is TaskState.SUCCEEDED:
                report.already_succeeded.append(envelope.task_id)
            else:
                if status is None:
                    store.create_queued(
                        envelope.task_id,
                        envelope.name,
                        envelope.correlation_id,
                        owner=envelope.owner,
                    )
                else:
                    store.requeue_dead(envelope.task_id)
                retry = envelope.model_copy(update={"attempt": envelope.attempt + 1})
                attributes = {
                    name: value
                    for name, value in message.get("MessageAttributes", {}).items()
                    if name != "dead_letter_reason"
                }
                fifo: dict[str, str] = {}
                if queue_url.endswith(".fifo"):
                    group = message.get("Attributes", {}).get("MessageGroupId") or envelope.name
                    fifo = {
                        "MessageGroupId": group,
                        "MessageDeduplicationId": f"{envelope.task_id}-{retry.attempt}",
                    }
                sqs.send_message(
                    QueueUrl=queue_url,
                    MessageBody=retry.message_body(),
                    MessageAttributes=attributes,
                    **fifo,  # type: ignore[arg-type]
                )
                report.requeued.append(envelope.task_id)
            sqs.delete_message(
                QueueUrl=dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=None, help="requeue at most this many")
    arguments = parser.parse_args(argv)
    settings = get_settings()
    report = redrive_dead_tasks(
        sqs=aws.sqs(),
        store=TaskStatusStore(
            aws.dynamodb(), settings.task_table_name, timedelta(days=settings.task_ttl_days)
        ),
        dead_letter_queue_url=settings.dead_letter_queue_url,
        queue_url=settings.task_queue_url,
        limit=arguments.limit,
    )
    print(
        f"requeued {len(report.requeued)} task(s); "
        f"{len(report.already_succeeded)} had already succeeded; "
        f"{report.left_in_dead_letter_queue} message(s) are not tasks and stay dead-lettered"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
