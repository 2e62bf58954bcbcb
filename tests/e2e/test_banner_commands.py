"""The commands `make run`'s banner prints work as printed, from another shell."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.local_stack_process import REPO_ROOT, LocalStack, running_local_stack

SHELL_HEADER = "From another shell, in this directory:"


def printed_commands(banner: str) -> list[str]:
    """The indented lines under the banner's "From another shell" header."""
    lines = banner.splitlines()
    start = lines.index(SHELL_HEADER) + 1
    commands = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        commands.append(line.strip())
    return commands


def users_shell() -> dict[str, str]:
    """A shell as a user opens it: nothing of the tests' or the stack's own settings."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LOCAL_", "POWERTOOLS_", "AWS_ENDPOINT_URL", "PYTHONPATH"))
    }


def wait_until_succeeded(stack: LocalStack, task_id: str) -> None:
    deadline = time.monotonic() + 30
    status = ""
    while time.monotonic() < deadline and status != "succeeded":
        status = httpx.get(f"{stack.api_url}/tasks/{task_id}", timeout=10).json()["status"]
        time.sleep(0.2)
    assert status == "succeeded"


@pytest.mark.timeout(180)
def test_the_banners_commands_upload_process_and_watch_a_task_as_printed(
    tmp_path: Path,
) -> None:
    # GIVEN the local stack on ports of its own (not the defaults), and its banner
    with running_local_stack(tmp_path) as stack:
        upload, process, watch = printed_commands(stack.log.read_text())
        # WHEN a user pastes the upload and process lines into another shell
        pasted = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", f'{upload}\n{process}\necho\necho "$KEY"'],
            cwd=REPO_ROOT,
            env=users_shell(),
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        # THEN the file the upload names exists, and the API accepted its processing
        assert pasted.returncode == 0, pasted.stderr
        answer, key = pasted.stdout.strip().splitlines()
        assert key.startswith("uploads/local/")
        task_id = json.loads(answer)["task_id"]
        wait_until_succeeded(stack, task_id)
        # WHEN the watch line is pasted into a terminal (rich told it is one, so it redraws
        # as it would there)
        shown_path = tmp_path / "watch.out"
        with shown_path.open("w") as shown_file:
            watching = subprocess.Popen(
                ["bash", "-c", watch],
                cwd=REPO_ROOT,
                env={
                    **users_shell(),
                    "COLUMNS": "200",
                    "TTY_COMPATIBLE": "1",
                    "TTY_INTERACTIVE": "1",
                },
                stdout=shown_file,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and task_id not in shown_path.read_text():
            time.sleep(0.2)
        # AND stopped with Ctrl-C (SIGINT to its process group)
        os.killpg(watching.pid, signal.SIGINT)
        _, errors = watching.communicate(timeout=30)
        shown = shown_path.read_text()
        # THEN it showed the task, succeeded, from the stack on the printed port
        assert task_id in shown, (shown, errors)
        assert "succeeded" in shown
        assert "error" not in errors
        stack.assert_settled()
