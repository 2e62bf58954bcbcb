"""Tasks that exist only for tests: a large-argument echo and a task that fails on demand."""

import threading
from collections import Counter
from collections.abc import Callable

from botocore.exceptions import ClientError
from pydantic import BaseModel

from app.tasks.context import TaskContext
from app.tasks.registry import PermanentTaskError, TaskResult, task


class Blob(BaseModel):
    text: str


@task("test_measure_blob")
def measure_blob(arguments: Blob) -> TaskResult:
    return {"length": len(arguments.text)}


class Flaky(BaseModel):
    succeed_on_attempt: int | None  # None: never succeeds
    permanent: bool = False


attempts_seen: list[int] = []


@task("test_flaky")
def flaky(arguments: Flaky) -> TaskResult:
    attempts_seen.append(len(attempts_seen) + 1)
    if arguments.permanent:
        raise PermanentTaskError("this input can never work")
    if arguments.succeed_on_attempt is None or len(attempts_seen) < arguments.succeed_on_attempt:
        raise RuntimeError(f"transient failure {len(attempts_seen)}")
    return {"attempts": len(attempts_seen)}


class Sized(BaseModel):
    result_bytes: int = 0
    error_chars: int = 0
    permanent: bool = False  # the error is a PermanentTaskError
    padding: str = ""  # makes the task's message as large as wanted


@task("test_sized")
def sized(arguments: Sized) -> TaskResult:
    """A result or an error of the requested size."""
    if arguments.error_chars:
        error = PermanentTaskError if arguments.permanent else RuntimeError
        raise error("e" * arguments.error_chars)
    return {"blob": "r" * arguments.result_bytes}


class Ordered(BaseModel):
    label: str
    fail: bool = False


order_seen: list[str] = []
effects: Counter[str] = Counter()


@task("test_ordered")
def ordered(arguments: Ordered) -> TaskResult:
    order_seen.append(arguments.label)
    if arguments.fail:
        raise RuntimeError(f"{arguments.label} fails")
    effects[arguments.label] += 1
    return {"label": arguments.label}


class Together(BaseModel):
    label: str


# Ten records that each wait for the others: passes only if a batch runs them at once.
together = threading.Barrier(10, timeout=10)


@task("test_together")
def meet(arguments: Together) -> TaskResult:
    together.wait()
    return {"label": arguments.label}


@task("test_slow", max_seconds=20)
def slow(arguments: Together) -> TaskResult:
    """Declares that it needs 20 s: a batch with less time left does not start it."""
    effects[arguments.label] += 1
    return {}


# What S3 says when a role may not read an object: it names the role, the account and the key.
DENIED_MESSAGE = (
    "User: arn:aws:sts::123456789012:assumed-role/worker-role/worker is not authorized to "
    "perform: s3:GetObject on resource: arn:aws:s3:::secret-bucket/uploads/x"
)


@task("test_denied")
def denied(arguments: Blob) -> TaskResult:
    raise ClientError({"Error": {"Code": "AccessDenied", "Message": DENIED_MESSAGE}}, "GetObject")


class Reports(BaseModel):
    count: int
    message: str | None = None  # each report's message, instead of "step n of count"


def _nothing(context: TaskContext, report: int) -> None:
    pass


# Called after each report, so a test can act between reports (move a clock, read the status
# as a client would, take the lease away). Tests set it and put ``_nothing`` back.
between_reports: Callable[[TaskContext, int], None] = _nothing


@task("test_progress")
def report_progress(arguments: Reports, context: TaskContext) -> TaskResult:
    """Reports ``count`` steps of progress, then succeeds."""
    for step in range(1, arguments.count + 1):
        message = arguments.message or f"step {step} of {arguments.count}"
        context.progress(step / arguments.count, message)
        between_reports(context, step)
    return {"steps": arguments.count}


# What a running ``test_during`` task does, keyed by its text: a test's way into the moment
# between a worker's claim and the task's outcome.
during_run: dict[str, Callable[[], object]] = {}


@task("test_during")
def during(arguments: Blob) -> TaskResult:
    """Calls the test's hook for ``text`` while it runs, and returns what it answered."""
    return {"answer": during_run[arguments.text]()}
