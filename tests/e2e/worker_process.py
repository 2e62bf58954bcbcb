"""One worker environment of the no-loss run: a poller (Lambda's SQS trigger) and the real
worker handler, in a process of its own so that a task can kill it, and killed like Lambda
at its timeout, with AWS faults injected into its clients.
``python -m tests.e2e.worker_process SEED``; stops on SIGTERM."""

import os
import signal
import sys
import threading
from typing import Any

from app import aws
from app.tasks import runner
from infra.local.poller import SqsPoller
from tests.e2e.chaos import harness
from tests.faults import AwsFaults, Fault

# Shortened so the run fits in CI, scaled down with the worker's timeout. The outcome margin
# still leaves the runner's write retries (which stop WRITE_RESERVE_SECONDS before the
# deadline) room for the first five pauses, 1.55 s, as the full margin does for more; that
# is what keeps a deadline kill out of the window between an effect and its outcome.
runner.OUTCOME_MARGIN_SECONDS = runner.WRITE_RESERVE_SECONDS + 1.6
runner.LEASE_MARGIN_SECONDS = 1.0


def _is_outcome(params: dict[str, Any]) -> bool:
    return ":token" in params.get("ConditionExpression", "")


def inject_faults(seed: int, poller_sqs: Any) -> list[Fault]:
    dynamodb = AwsFaults(aws.dynamodb(), seed)
    # Throttling and 5xx on every status write (claims and outcomes), past botocore's retries.
    dynamodb.add(Fault("UpdateItem", "ThrottlingException", times=None, probability=0.15))
    dynamodb.add(Fault("UpdateItem", "InternalServerError", 500, times=None, probability=0.05))
    # Writes that land but whose answer is lost.
    dynamodb.add(Fault("UpdateItem", times=None, probability=0.05, after=True))
    sqs = AwsFaults(aws.sqs(), seed + 1)
    sqs.add(Fault("ChangeMessageVisibility", times=None, probability=0.2))
    sqs.add(Fault("SendMessage", "ServiceUnavailable", 503, times=None, probability=0.2))
    # Lambda's own deletes after a batch (the poller's) fail too: the message comes back.
    deletes = AwsFaults(poller_sqs, seed + 2)
    deletes.add(Fault("DeleteMessageBatch", times=None, probability=0.15))

    def note_outcome(model: Any, context: dict[str, Any], http_response: Any, **_: Any) -> None:
        params = context.get("api_params", {})
        if model.name == "UpdateItem" and _is_outcome(params) and http_response.status_code < 300:
            harness.recorded(params["Key"]["task_id"]["S"])

    # First, so a fault that loses the answer afterwards cannot hide a write that landed.
    aws.dynamodb().meta.events.register_first("after-call", note_outcome)
    return [*dynamodb.faults, *sqs.faults, *deletes.faults]


def main() -> None:
    import boto3

    from app.worker.handler import handler

    seed = int(sys.argv[1])
    timeout = float(os.environ["WORKER_TIMEOUT_SECONDS"])

    def lambda_like(event: dict[str, Any], context: Any) -> Any:
        # Lambda stops an invocation at its timeout: the whole environment goes.
        watchdog = threading.Timer(timeout, os.kill, (os.getpid(), signal.SIGKILL))
        watchdog.daemon = True
        watchdog.start()
        try:
            return handler(event, context)
        finally:
            watchdog.cancel()

    poller_sqs = boto3.client("sqs")
    faults = inject_faults(seed, poller_sqs)
    poller = SqsPoller(
        lambda_like,
        queue_url=os.environ["TASK_QUEUE_URL"],
        queue_arn=os.environ["TASK_QUEUE_ARN"],
        function_name=f"worker-{seed}",
        batch_size=10,
        timeout_seconds=timeout,
        wait_time_seconds=1,
        sqs=poller_sqs,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    poller.run(stop)
    # A process killed by a task never gets here: its faults go uncounted.
    harness.log(
        "faults.log",
        " ".join(
            f"{f.operation}:{f.code}:{'after' if f.after else 'before'}={f.injected}"
            for f in faults
        ),
    )


if __name__ == "__main__":
    main()
