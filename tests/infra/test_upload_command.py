"""`make upload` speaks one plain line when it cannot upload, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

from tests.local_stack_process import REPO_ROOT, free_port


def upload(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.local.upload", *args],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)]),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = upload(str(tmp_path / "nope.csv"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"upload: no such file: {tmp_path}/nope.csv"]
    assert result.stdout == ""


def test_a_stopped_stack_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    # GIVEN a file, and no local stack listening on the API port
    report = tmp_path / "report.csv"
    report.write_bytes(b"1\n")
    port = str(free_port())
    result = upload(str(report), env={"LOCAL_API_PORT": port})
    # THEN one line names the address and the command that starts the stack
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert f"127.0.0.1:{port} does not answer" in line
    assert "make run" in line


def test_make_upload_without_file_says_to_name_it_with_file() -> None:
    # GIVEN no FILE= on the command line
    # WHEN `make upload` runs, as a user types it
    result = subprocess.run(
        ["make", "-s", "upload"],
        cwd=REPO_ROOT,
        env={name: value for name, value in os.environ.items() if name != "FILE"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # THEN it fails with one line of its own, naming the make variable to set
    assert result.returncode != 0
    own = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert own == ["upload: name the file to upload: make upload FILE=path"]
    assert result.stdout == ""
