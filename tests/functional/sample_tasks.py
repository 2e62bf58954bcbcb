"""Tasks that exist only for tests: a large-argument echo and a task that fails on demand."""

from pydantic import BaseModel

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
