"""A busy port stops ``python -m infra.local`` at once, with one line that says what to change.

Before, moto's server thread died on "Address already in use" while the main thread waited
for it forever; a busy API port showed the "Local stack is up" banner first.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.local_stack_process import (
    LOCAL_STACK_COMMAND,
    REPO_ROOT,
    free_port,
    local_stack_environment,
    running_local_stack,
)

# A bound on the whole run, not a performance figure: without the fix the process never ends.
GIVE_UP_AFTER_SECONDS = 30


@contextmanager
def busy_port() -> Iterator[int]:
    """A port another program listens on, with SO_REUSEADDR as servers set it."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def start_local_stack(api_port: int, aws_port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        LOCAL_STACK_COMMAND,
        cwd=REPO_ROOT,
        env=local_stack_environment(api_port, aws_port),
        capture_output=True,
        text=True,
        timeout=GIVE_UP_AFTER_SECONDS,
    )


@pytest.mark.parametrize("variable", ["LOCAL_AWS_PORT", "LOCAL_API_PORT"])
def test_a_busy_port_is_one_line_naming_it_and_its_variable_and_a_failed_exit(
    variable: str,
) -> None:
    # GIVEN another program listens on the port the variable chooses; the other port is free
    with busy_port() as port:
        ports = {"LOCAL_AWS_PORT": free_port(), "LOCAL_API_PORT": free_port(), variable: port}
        # WHEN the local stack starts
        result = start_local_stack(ports["LOCAL_API_PORT"], ports["LOCAL_AWS_PORT"])
    # THEN it exits on its own, non-zero, with one line naming the port and the variable
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port} " in lines[0]
    assert f"{variable}=" in lines[0]
    # AND it never claimed to be up
    assert "Local stack is up" not in result.stdout


def test_a_second_local_stack_on_the_same_ports_fails_and_the_first_keeps_serving(
    tmp_path: Path,
) -> None:
    # GIVEN a local stack running, as `make run` starts it
    with running_local_stack(tmp_path) as first:
        aws_port = int(first.aws_endpoint.rsplit(":", 1)[1])
        api_port = int(first.api_url.rsplit(":", 1)[1])
        # WHEN a second one starts with the same settings
        second = start_local_stack(api_port, aws_port)
        # THEN the second says which port is taken and fails
        assert second.returncode != 0
        assert f"port {aws_port} " in second.stderr
        assert "LOCAL_AWS_PORT=" in second.stderr
        assert "Local stack is up" not in second.stdout
        # AND the first still serves
        assert httpx.get(f"{first.api_url}/health", timeout=10).status_code == 200


def test_a_port_that_is_not_a_number_is_one_line_and_a_failed_exit() -> None:
    # GIVEN LOCAL_API_PORT set to something that is not a port
    env = local_stack_environment(api_port=0, aws_port=0)
    env["LOCAL_API_PORT"] = "eight thousand"
    # WHEN the local stack starts
    result = subprocess.run(
        LOCAL_STACK_COMMAND,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=GIVE_UP_AFTER_SECONDS,
    )
    # THEN one line says which variable is wrong
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "error: LOCAL_API_PORT='eight thousand' is not a port number (0-65535)"
    ]
