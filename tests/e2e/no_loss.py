"""The no-loss run: tasks through embedded AWS while the deployment misbehaves.

moto's server on loopback with resources from template.yaml; two worker processes, each a
poller (Lambda's SQS trigger) and the real handler, with AWS faults injected into their
clients (throttling and 5xx on status writes, answers lost after a write landed, failed
retry delays, dead-letter copies and deletes); tasks that kill their own worker process
mid-task (restarted like a new Lambda environment), on the first receive or on every one;
SendMessageBatch calls refused, and one whose answer is lost; a forged and an orphan
message; then SQS's native redrive of the dead-letter queue once the "revive" tasks are
fixed. Shared by the CI test (tests/e2e/test_no_loss.py) and bench/no_loss.py.
"""

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer
from moto.sqs.models import SQSBackend

from app import aws
from app.config import get_settings
from app.tasks.lifecycle import CRASHED_LAST, RECEIVE_RESERVE
from app.tasks.sender import TaskRequest, TaskSender, TaskSendError
from app.tasks.status import TaskStatus, TaskStatusStore
from app.worker import wiring
from infra.local.resources import create_resources
from infra.local.template import function_environment, load_template
from tests.e2e.chaos import ChaosArguments, Plan, chaos, counts
from tests.faults import AwsFaults, Fault
from tests.native_redrive import start_message_move_task

REPO_ROOT = Path(__file__).resolve().parents[2]
# Fewer than the template's, so crashes on every receive end in seconds: three attempts, and
# the two receives the queue keeps in reserve (app.tasks.lifecycle.RECEIVE_RESERVE).
MAX_RECEIVES = 3 + RECEIVE_RESERVE
WORKER_TIMEOUT_SECONDS = 6
VISIBILITY_SECONDS = 9  # more than a lease (the worker's timeout plus a margin), as on AWS
WORKERS = 2
REQUEST_SIZE = 25


def plan_for(n: int) -> Plan:
    if n % 50 == 7:
        return "always"
    if n % 60 == 13:
        return "crash_always"
    if n % 40 == 9:
        return "revive"
    if n % 25 == 3:
        return "crash_once"
    if n % 10 == 1:
        return "fail_once"
    return "ok"


@dataclass
class Outcome:
    accepted: int  # accepted, plus may-run ones SQS did take
    may_run: int
    refused: int
    succeeded: int
    dead: int
    unfinished: dict[str, str]
    dead_after_first_phase: int
    planned_dead_were_dead: bool
    expected_dead: int
    dead_match_plans: bool
    crashed_last_reads_dead_with_reason: bool
    effects_twice: int
    doubled: dict[str, list[str]]  # key -> its attempts ("key receive pid"), to debug
    effects_missing: int
    refused_that_ran: int
    refused_with_status: int
    forged_and_orphan_ran: int
    worker_kills: int
    redriven: int
    faults: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def no_loss(self) -> bool:
        return (
            self.accepted == self.succeeded + self.dead
            and not self.unfinished
            and self.planned_dead_were_dead
            and self.dead == self.expected_dead
            and self.dead_match_plans
            and self.crashed_last_reads_dead_with_reason
            and self.effects_twice == 0
            and self.effects_missing == 0
            and self.refused_that_ran == 0
            and self.refused_with_status == 0
            and self.forged_and_orphan_ran == 0
        )


@contextmanager
def embedded_aws() -> Iterator[dict[str, str]]:
    """moto's server with the template's resources; the environment the functions get."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _serialize_moto_receives()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = dict(os.environ)
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    try:
        wiring.reset()
        template = load_template()
        physical = create_resources(template, suffix=uuid.uuid4().hex[:8])
        environment = {
            **function_environment(template, "ApiFunction", physical),
            **function_environment(template, "WorkerFunction", physical),
            "TASK_QUEUE_ARN": physical.attribute("TaskQueue", "Arn"),
            # Failed attempts are visible again at once: the run measures loss, not waiting.
            "RETRY_BASE_SECONDS": "0",
            "RETRY_MAX_SECONDS": "0",
            "MAX_RECEIVE_COUNT": str(MAX_RECEIVES),
            "WORKER_TIMEOUT_SECONDS": str(WORKER_TIMEOUT_SECONDS),
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
            "POWERTOOLS_METRICS_NAMESPACE": "no-loss",
            "POWERTOOLS_SERVICE_NAME": "no-loss",
        }
        os.environ.update(environment)
        wiring.reset()
        aws.sqs().set_queue_attributes(
            QueueUrl=environment["TASK_QUEUE_URL"],
            Attributes={
                "VisibilityTimeout": str(VISIBILITY_SECONDS),
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": physical.attribute("DeadLetterQueue", "Arn"),
                        "maxReceiveCount": MAX_RECEIVES,
                    }
                ),
            },
        )
        yield environment
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()
        wiring.reset()


def _serialize_moto_receives() -> None:
    """moto's ReceiveMessage is not safe for concurrent callers (it can move a message to the
    DLQ while another caller iterates the queue); SQS is. One lock restores that."""
    if getattr(SQSBackend.receive_message, "serialized", False):
        return
    lock = threading.Lock()
    original = SQSBackend.receive_message

    def receive_message(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    receive_message.serialized = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


class Workers:
    """Worker processes, each restarted when a task kills it (a fresh Lambda environment)."""

    def __init__(self, directory: Path, count: int) -> None:
        self._directory = directory
        self._processes: list[subprocess.Popen[bytes]] = []
        self._seeds = iter(range(1000, 100000, 7))
        self.kills = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        for _ in range(count):
            self._processes.append(self._start())
        self._watch = threading.Thread(target=self._restart_dead, daemon=True)
        self._watch.start()

    def _start(self) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "CHAOS_DIR": str(self._directory),
            "PYTHONPATH": f"{REPO_ROOT / 'functions'}{os.pathsep}{REPO_ROOT}",
        }
        with (self._directory / "workers.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.worker_process", str(next(self._seeds))],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _restart_dead(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                for index, process in enumerate(self._processes):
                    if process.poll() is not None:
                        self.kills += process.returncode == -9
                        self._processes[index] = self._start()

    def stop(self) -> None:
        self._stop.set()
        self._watch.join()
        with self._lock:
            for process in self._processes:
                process.terminate()
            for process in self._processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


def run(total: int, timeout: float = 240) -> Outcome:
    """Phase one: every task ends (the planned ones dead, killed last attempts saying why).
    Then the "fix" ships and SQS redrives the DLQ; phase two: only always-failing tasks
    stay dead."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as temporary, embedded_aws() as environment:
        directory = Path(temporary)
        settings = get_settings()
        store = TaskStatusStore.from_settings(aws.dynamodb(), settings)
        keys = {f"k{n}": plan_for(n) for n in range(total)}
        sent = _send(keys, store, settings)
        by_id = {**sent.accepted, **sent.may_run}
        _forge(environment, next(iter(by_id)))
        workers = Workers(directory, WORKERS)
        try:
            deadline = time.monotonic() + timeout
            first = _wait(store, by_id, environment["TASK_QUEUE_URL"], deadline)
            (directory / "fixed").touch()
            redriven = start_message_move_task(
                aws.sqs(), environment["DEAD_LETTER_QUEUE_URL"], environment["TASK_QUEUE_URL"]
            )
            final = _wait(store, by_id, environment["TASK_QUEUE_URL"], deadline)
        finally:
            workers.stop()
        effects = counts(directory, "effects.log")
        worker_faults = _worker_faults(directory)
        attempt_lines = (directory / "attempts.log").read_text().splitlines()
        doubled = {
            key: [line for line in attempt_lines if line.split()[0] == key]
            for key, count in effects.items()
            if count > 1
        }
        attempts = counts(directory, "attempts.log")
    planned = {"always", "crash_always", "revive"}
    planned_dead = {i for i, k in by_id.items() if keys[k] in planned}
    first_states = {i: (s.status.value if s else "missing") for i, s in first.items()}
    states = {i: (s.status.value if s else "missing") for i, s in final.items()}
    ended = ("succeeded", "dead")
    always = {i for i, k in by_id.items() if keys[k] == "always"}
    crashed_last = {i for i, k in by_id.items() if keys[k] == "crash_always"}
    dead = {i for i, state in states.items() if state == "dead"}
    return Outcome(
        accepted=len(by_id),
        may_run=len(sent.may_run),
        refused=len(sent.refused),
        succeeded=sum(state == "succeeded" for state in states.values()),
        dead=len(dead),
        unfinished={
            i: f"{first_states[i]}, then {states[i]}"
            for i in by_id
            if first_states[i] not in ended or states[i] not in ended
        },
        dead_after_first_phase=sum(state == "dead" for state in first_states.values()),
        planned_dead_were_dead=all(first_states[i] == "dead" for i in planned_dead),
        expected_dead=len(always),
        dead_match_plans=dead == always,
        crashed_last_reads_dead_with_reason=all(
            (status := first[i]) is not None and status.last_error == CRASHED_LAST
            for i in crashed_last
        ),
        effects_twice=len(doubled),
        doubled=doubled,
        effects_missing=len({k for i, k in by_id.items() if i not in always} - set(effects)),
        refused_that_ran=sum(attempts[k] > 0 for k in sent.refused.values()),
        refused_with_status=sent.refused_with_status,
        forged_and_orphan_ran=attempts["forged"] + attempts["orphan"],
        worker_kills=workers.kills,
        redriven=redriven,
        faults={**sent.faults, **worker_faults},
        seconds=time.monotonic() - started,
    )


@dataclass
class Sent:
    accepted: dict[str, str] = field(default_factory=dict)  # task id -> key
    may_run: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    refused_with_status: int = 0
    faults: dict[str, int] = field(default_factory=dict)


def _send(keys: dict[str, Plan], store: TaskStatusStore, settings: Any) -> Sent:
    """Send in requests of 25; one SendMessageBatch is refused, one's answer is lost."""
    sqs = aws.sqs()
    faults = AwsFaults(sqs)
    batch_calls = 0

    def nth_batch(n: int) -> Any:
        def matches(params: dict[str, Any]) -> bool:
            return batch_calls == n

        return matches

    refused_fault = faults.add(Fault("SendMessageBatch", "AccessDenied", 403, when=nth_batch(2)))
    lost_fault = faults.add(Fault("SendMessageBatch", after=True, when=nth_batch(4)))

    entries: dict[str, str] = {}  # task id -> key, for every entry sent in this request

    def count(params: dict[str, Any], **_: Any) -> None:
        nonlocal batch_calls
        batch_calls += 1
        for entry in params["Entries"]:
            entries[entry["Id"]] = json.loads(entry["MessageBody"])["arguments"]["key"]

    sqs.meta.events.register_first("before-parameter-build.sqs.SendMessageBatch", count)
    sent = Sent()
    names = list(keys)
    try:
        for start in range(0, len(names), REQUEST_SIZE):
            chunk = names[start : start + REQUEST_SIZE]
            sender = TaskSender(
                sqs=sqs,
                s3=aws.s3(),
                store=store,
                queue_url=settings.task_queue_url,
                bucket=settings.bucket_name,
                owner="local",
                correlation_id=f"no-loss-{start}",
            )
            entries.clear()
            try:
                ids = sender.send_many(
                    [TaskRequest(chaos, ChaosArguments(key=k, plan=keys[k])) for k in chunk]
                )
                sent.accepted.update(zip(ids, chunk, strict=True))
            except TaskSendError as error:
                sent.accepted.update((i, entries[i]) for i in error.accepted)
                sent.may_run.update((i, entries[i]) for i in error.may_run)
                for task_id in set(entries) - set(error.accepted) - set(error.may_run):
                    sent.refused[task_id] = entries[task_id]
                    sent.refused_with_status += store.get(task_id, owner="local") is not None
    finally:
        faults.remove()
    sent.faults = {"refused batches": refused_fault.injected, "lost answers": lost_fault.injected}
    return sent


def _worker_faults(directory: Path) -> dict[str, int]:
    """Faults the worker processes injected (those a task killed are not counted)."""
    totals: dict[str, int] = {}
    path = directory / "faults.log"
    for line in path.read_text().splitlines() if path.exists() else []:
        for item in line.split():
            name, _, count = item.rpartition("=")
            totals[name] = totals.get(name, 0) + int(count)
    return totals


def _forge(environment: dict[str, str], victim: str) -> None:
    """A message naming another owner's task, and one whose task has no status at all."""
    for task_id, key, owner in (
        (victim, "forged", "mallory"),
        (uuid.uuid4().hex, "orphan", "local"),
    ):
        envelope = {
            "task_id": task_id,
            "name": "test_chaos",
            "version": 1,
            "owner": owner,
            "arguments": {"key": key, "plan": "ok"},
        }
        aws.sqs().send_message(
            QueueUrl=environment["TASK_QUEUE_URL"], MessageBody=json.dumps(envelope)
        )


def _wait(
    store: TaskStatusStore, tasks: dict[str, str], queue_url: str, deadline: float
) -> dict[str, TaskStatus | None]:
    """Until every task has ended and the task queue is empty; the statuses then."""
    pending = set(tasks)
    while time.monotonic() < deadline:
        for task_id in list(pending):
            status = store.get(task_id, owner="local")
            if status is not None and status.status.value in ("succeeded", "dead"):
                pending.discard(task_id)
        if not pending and _queue_empty(queue_url):
            break
        time.sleep(0.5)
    return {task_id: store.get(task_id, owner="local") for task_id in tasks}


def _queue_empty(queue_url: str) -> bool:
    counts_ = aws.sqs().get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        counts_.get("ApproximateNumberOfMessages") == "0"
        and counts_.get("ApproximateNumberOfMessagesNotVisible") == "0"
    )
