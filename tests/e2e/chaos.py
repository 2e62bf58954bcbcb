"""The no-loss run's task, shared by the test process and its worker processes.

Its plan says how each key behaves: succeed, fail on the first receive, fail always, kill
its own worker process (SIGKILL, mid-task) on the first receive, or on every receive until
an operator "fixes" it (a marker file) and redrives, or fail until then. Attempts and
effects are appended to files in a shared directory, so every process's counts land in
one place.
"""

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from app.tasks.context import TaskContext
from app.tasks.registry import TaskResult, task

Plan = Literal["ok", "fail_once", "always", "crash_once", "crash_always", "revive"]


class ChaosArguments(BaseModel):
    key: str
    plan: Plan


class Harness:
    """Where this process logs, and the gate that keeps a deliberate kill inside a task.

    A kill ends every record the process holds. One whose effect already ran but whose
    outcome is not yet written would run its effect again: that window (a crash between an
    effect and its record) is a limit of any queue without a transactional effect, not what
    this run measures, so a killing task first waits until no record is inside it.
    """

    def __init__(self) -> None:
        self.directory = Path(os.environ.get("CHAOS_DIR", "."))
        self.effect_gate = threading.Lock()
        self.unrecorded: set[str] = set()
        self.changed = threading.Condition()

    def log(self, name: str, line: str) -> None:
        # One write of a short line with O_APPEND: lines from processes never interleave.
        fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.write(fd, f"{line}\n".encode())
        finally:
            os.close(fd)

    def recorded(self, task_id: str) -> None:
        with self.changed:
            self.unrecorded.discard(task_id)
            self.changed.notify_all()

    def kill_this_process(self) -> None:
        self.effect_gate.acquire()  # no new effect starts; held until the process dies
        with self.changed:
            self.changed.wait_for(lambda: not self.unrecorded, timeout=5)
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)  # not reached


harness = Harness()


def counts(directory: Path, name: str) -> Counter[str]:
    path = directory / name
    if not path.exists():
        return Counter()
    return Counter(line.split()[0] for line in path.read_text().splitlines() if line)


@task("test_chaos", max_seconds=1)
def chaos(arguments: ChaosArguments, context: TaskContext) -> TaskResult:
    harness.log("attempts.log", f"{arguments.key} {context.attempt} {os.getpid()}")
    plan, first = arguments.plan, context.attempt == 1
    fixed = (harness.directory / "fixed").exists()
    if (plan == "crash_always" and not fixed) or (plan == "crash_once" and first):
        harness.kill_this_process()
    if plan == "always" or (plan == "fail_once" and first) or (plan == "revive" and not fixed):
        raise RuntimeError(f"chaos: {arguments.key} fails on receive {context.attempt}")
    with harness.effect_gate:
        harness.log("effects.log", arguments.key)
        with harness.changed:
            harness.unrecorded.add(context.task_id)
    return {"key": arguments.key}
