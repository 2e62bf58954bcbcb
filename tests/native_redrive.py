"""SQS's own dead-letter queue redrive (``StartMessageMoveTask``), which moto does not have.

Done as SQS documents it: every message in the dead-letter queue, oldest first, becomes a new
message in the destination queue (a new message id and enqueue time, its receive count back
to zero) with the same body and message attributes, and leaves the dead-letter queue. SQS
does it asynchronously; here it runs to completion before returning.
"""

from typing import Any


def start_message_move_task(sqs: Any, source_url: str, destination_url: str) -> int:
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            sqs.send_message(
                QueueUrl=destination_url,
                MessageBody=message["Body"],
                MessageAttributes=message.get("MessageAttributes", {}),
            )
            sqs.delete_message(QueueUrl=source_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
