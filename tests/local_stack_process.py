"""Running ``python -m infra.local`` (what ``make run`` runs) as a subprocess in tests."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = path.read_text(errors="replace")
        if text in output:
            return output
        if process.poll() is not None:
            pytest.fail(f"local stack exited with {process.returncode}:\n{output}")
        time.sleep(0.1)
    pytest.fail(f"{text!r} did not appear within {timeout} s:\n{path.read_text()}")


@dataclass
class LocalStack:
    api_url: str
    aws_endpoint: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, service: str) -> Any:
        """A boto3 client for the stack's embedded AWS (moto), as any user can make one."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def upload(self, file: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`make upload FILE=file` against this stack (what the Makefile runs)."""
        return subprocess.run(
            [sys.executable, "-m", "infra.local.upload", str(file)],
            cwd=REPO_ROOT,
            env={**os.environ, "LOCAL_API_PORT": self.api_url.rsplit(":", 1)[1]},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def queue_depths(self) -> dict[str, dict[str, int]]:
        """Visible and in-flight messages of the task queue and the dead-letter queue."""
        sqs = self.client("sqs")
        depths = {}
        for name in (TASK_QUEUE, DEAD_LETTER_QUEUE):
            url = f"{self.aws_endpoint}/123456789012/{name}"
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            depths[name] = {
                "visible": int(attributes["Attributes"]["ApproximateNumberOfMessages"]),
                "in_flight": int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"]),
            }
        return depths

    def assert_settled(self, timeout: float = 10) -> None:
        """What a user sees once every task has ended well, as on Lambda: the worker deleted
        each message (none visible or in flight), nothing was dead-lettered, and the log holds
        no ERROR line and no line without its function's service name."""
        empty = {"visible": 0, "in_flight": 0}
        settled = {TASK_QUEUE: empty, DEAD_LETTER_QUEUE: empty}
        deadline = time.monotonic() + timeout
        depths = self.queue_depths()
        while depths != settled and time.monotonic() < deadline:
            time.sleep(0.2)
            depths = self.queue_depths()
        log = self.log.read_text(errors="replace")
        assert depths == settled, f"queues not drained: {depths}\n{log}"
        assert error_lines(log) == [], log
        assert "service_undefined" not in log, log
        assert printed_twice(log) == [], log


TASK_QUEUE = "local-task-queue"
DEAD_LETTER_QUEUE = "local-dead-letter-queue"


def printed_twice(log: str) -> list[str]:
    """Plain ``LEVEL logger: message`` lines that repeat a Powertools JSON line's message."""
    structured = set()
    for line in log.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if "message" in record:
                structured.add((record.get("level"), str(record["message"])))
    plain = (PLAIN_LINE.match(line) for line in log.splitlines())
    return [
        match.group(0)
        for match in plain
        if match and (match.group("level"), match.group("message")) in structured
    ]


PLAIN_LINE = re.compile(r"^(?P<level>[A-Z]+) (?P<logger>[\w.-]+): (?P<message>.*)$")


def error_lines(log: str) -> list[str]:
    """The log's ERROR lines, plain (``ERROR name: ...``) or Powertools JSON."""
    return [
        line
        for line in log.splitlines()
        if line.startswith(("ERROR", "CRITICAL")) or '"level":"ERROR"' in line
    ]


LOCAL_STACK_COMMAND = (sys.executable, "-m", "infra.local")


def local_stack_environment(
    api_port: int,
    aws_port: int,
    extra_env: Mapping[str, str] | None = None,
    pythonpath: tuple[Path, ...] = (),
) -> dict[str, str]:
    """The environment ``make run`` gives ``python -m infra.local``, on the given ports."""
    # tests/conftest.py sets POWERTOOLS_* for the in-process tests; the shell `make run` runs
    # in has none, and with them the stack would hide a function that misses its own.
    shell = {
        name: value for name, value in os.environ.items() if not name.startswith("POWERTOOLS_")
    }
    env = {
        **shell,
        "PYTHONPATH": os.pathsep.join(
            str(path) for path in (REPO_ROOT / "functions", REPO_ROOT, *pythonpath)
        ),
        "LOCAL_AWS_PORT": str(aws_port),
        "LOCAL_API_PORT": str(api_port),
        **(extra_env or {}),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    return env


@contextmanager
def running_local_stack(
    log_dir: Path,
    extra_env: Mapping[str, str] | None = None,
    pythonpath: tuple[Path, ...] = (),
    state_dir: Path | None = None,
) -> Iterator[LocalStack]:
    """The stack on free ports, its output in ``log_dir/local.log``; its saved state in
    ``state_dir`` (by default a fresh one in ``log_dir``, never the repository's)."""
    api_port, aws_port = free_port(), free_port()
    state = {"LOCAL_STATE_DIR": str(state_dir or log_dir / "state")}
    env = local_stack_environment(api_port, aws_port, {**state, **(extra_env or {})}, pythonpath)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "local.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            LOCAL_STACK_COMMAND,
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            # A group of its own, as a terminal gives `make run`: a test can Ctrl-C it whole.
            process_group=0,
        )
    try:
        # uvicorn serves a socket the stack bound before its banner, so it prints no "Uvicorn
        # running" line; after this one, the banner is out and requests are answered.
        wait_for(log, "Application startup complete", process, timeout=60)
        yield LocalStack(
            f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{aws_port}", process, log
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
