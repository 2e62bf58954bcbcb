"""The no-loss run: many tasks, some failing for a while, some forever, through the local stack.

Embedded AWS (moto's server on loopback, resources from template.yaml), a poller standing
in for Lambda's SQS event source mapping, and the real worker handler. Shared by the CI test
(tests/e2e/test_no_loss.py) and the full-size benchmark (bench/no_loss.py).
"""

import json
import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from moto.server import ThreadedMotoServer
from pydantic import BaseModel

from app import aws
from app.config import get_settings
from app.tasks.registry import TaskResult, task
from app.tasks.sender import TaskRequest, TaskSender
from app.tasks.status import TaskStatusStore
from app.worker import wiring
from infra.local.poller import SqsPoller
from infra.local.resources import create_resources
from infra.local.template import function_environment, load_template

_lock = threading.Lock()
attempts: Counter[str] = Counter()
effects: Counter[str] = Counter()


class ChaosArguments(BaseModel):
    key: str
    fail_times: int | None  # None: fails on every attempt


@task("test_chaos")
def chaos(arguments: ChaosArguments) -> TaskResult:
    """Fails ``fail_times`` times (or always), then has its effect: one count per key."""
    with _lock:
        attempts[arguments.key] += 1
        attempt = attempts[arguments.key]
    if arguments.fail_times is None or attempt <= arguments.fail_times:
        raise RuntimeError(f"chaos: attempt {attempt} of {arguments.key} fails")
    with _lock:
        effects[arguments.key] += 1
    return {"attempt": attempt}


@dataclass
class Outcome:
    accepted: int
    succeeded: int
    dead: int
    unfinished: int
    always_failing: int
    always_failing_dead: int
    in_dead_letter_queue: int
    dead_letter_matches_always_failing: bool
    effects_twice: int
    effects_missing: int
    seconds: float

    @property
    def no_loss(self) -> bool:
        return (
            self.accepted == self.succeeded + self.dead
            and self.unfinished == 0
            and self.dead == self.always_failing == self.always_failing_dead
            and self.dead_letter_matches_always_failing
            and self.effects_twice == 0
            and self.effects_missing == 0
        )


@contextmanager
def local_stack(pollers: int = 1) -> Iterator[dict[str, str]]:
    """Embedded AWS with resources from template.yaml and worker pollers, torn down after.

    One poller by default: moto's server is not safe for concurrent ReceiveMessage calls while
    it redrives to the DLQ (a receive can fail after hiding its batch for the visibility
    timeout). Two workers racing on one message are tested in tests/functional instead.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per AWS call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = dict(os.environ)
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        wiring.reset()
        template = load_template()
        physical = create_resources(template, suffix=uuid.uuid4().hex[:8])
        environment = {
            **function_environment(template, "ApiFunction", physical),
            **function_environment(template, "WorkerFunction", physical),
            # Failed attempts are visible again at once: the run measures loss, not waiting.
            "RETRY_BASE_SECONDS": "0",
            "RETRY_MAX_SECONDS": "0",
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        }
        os.environ.update(environment)
        wiring.reset()
        from app.worker.handler import handler

        for _ in range(pollers):
            poller = SqsPoller.from_template(
                template, "WorkerFunction", physical, handler, wait_time_seconds=1
            )
            threads.append(poller.start(stop))
        yield environment
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        os.environ.clear()
        os.environ.update(saved)
        server.stop()
        wiring.reset()


def run(total: int, *, transient_share: float = 0.10, failing_share: float = 0.01) -> Outcome:
    """Send ``total`` chaos tasks in requests of 25 and wait until each is finished."""
    attempts.clear()
    effects.clear()
    started = time.monotonic()
    with local_stack() as environment:
        settings = get_settings()
        store = TaskStatusStore(aws.dynamodb(), settings.task_table_name, timedelta(days=14))
        every_transient = round(1 / transient_share)
        every_failing = round(1 / failing_share)
        plan: dict[str, int | None] = {}
        for n in range(total):
            if n % every_failing == every_failing - 1:
                plan[f"k{n}"] = None
            elif n % every_transient == 0:
                plan[f"k{n}"] = 1 + n % 2  # fails once or twice, then works
            else:
                plan[f"k{n}"] = 0
        keys = list(plan)
        task_keys: dict[str, str] = {}
        for start in range(0, total, 25):
            sender = TaskSender(
                sqs=aws.sqs(),
                s3=aws.s3(),
                store=store,
                queue_url=settings.task_queue_url,
                bucket=settings.bucket_name,
                owner="local",
                correlation_id=f"no-loss-{start}",
            )
            chunk = keys[start : start + 25]
            ids = sender.send_many(
                [TaskRequest(chaos, ChaosArguments(key=k, fail_times=plan[k])) for k in chunk]
            )
            task_keys.update(zip(ids, chunk, strict=True))
        statuses = _wait_until_finished(store, list(task_keys), timeout=total * 0.5 + 60)
        # A dead task's message reaches the DLQ on the queue's next receive after its status.
        _wait_until_empty(environment["TASK_QUEUE_URL"], timeout=30)
        dead_letters = _drain_ids(environment["DEAD_LETTER_QUEUE_URL"])
    always_failing = {task_id for task_id, key in task_keys.items() if plan[key] is None}
    dead = {task_id for task_id, status in statuses.items() if status == "dead"}
    succeeded = {task_id for task_id, status in statuses.items() if status == "succeeded"}
    expected_effects = {
        task_keys[task_id] for task_id in task_keys if task_id not in always_failing
    }
    return Outcome(
        accepted=len(task_keys),
        succeeded=len(succeeded),
        dead=len(dead),
        unfinished=len(task_keys) - len(succeeded) - len(dead),
        always_failing=len(always_failing),
        always_failing_dead=len(always_failing & dead),
        in_dead_letter_queue=len(dead_letters),
        dead_letter_matches_always_failing=dead_letters == always_failing,
        effects_twice=sum(1 for count in effects.values() if count > 1),
        effects_missing=len(expected_effects - set(effects)),
        seconds=time.monotonic() - started,
    )


def _wait_until_finished(
    store: TaskStatusStore, task_ids: list[str], timeout: float
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    pending = list(task_ids)
    while pending and time.monotonic() < deadline:
        still: list[str] = []
        for task_id in pending:
            status = store.get(task_id)
            state = status.status.value if status else "missing"
            statuses[task_id] = state
            if state not in ("succeeded", "dead"):
                still.append(task_id)
        pending = still
        if pending:
            time.sleep(0.5)
    return statuses


def _wait_until_empty(queue_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = aws.sqs().get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if (
            counts.get("ApproximateNumberOfMessages") == "0"
            and counts.get("ApproximateNumberOfMessagesNotVisible") == "0"
        ):
            return
        time.sleep(0.5)


def _drain_ids(queue_url: str) -> set[str]:
    found: set[str] = set()
    while True:
        messages = (
            aws.sqs()
            .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300)
            .get("Messages", [])
        )
        if not messages:
            return found
        found.update(json.loads(message["Body"])["task_id"] for message in messages)
