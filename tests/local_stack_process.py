"""Running ``python -m infra.local`` (what ``make run`` runs) as a subprocess in tests."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


LOCAL_STACK_COMMAND = (sys.executable, "-m", "infra.local")


def local_stack_environment(
    api_port: int,
    aws_port: int,
    extra_env: Mapping[str, str] | None = None,
    pythonpath: tuple[Path, ...] = (),
) -> dict[str, str]:
    """The environment ``make run`` gives ``python -m infra.local``, on the given ports."""
    env = {
        **os.environ,
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
    log_dir: Path, extra_env: Mapping[str, str] | None = None, pythonpath: tuple[Path, ...] = ()
) -> Iterator[LocalStack]:
    api_port, aws_port = free_port(), free_port()
    env = local_stack_environment(api_port, aws_port, extra_env, pythonpath)
    log = log_dir / "local.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            LOCAL_STACK_COMMAND,
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
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
