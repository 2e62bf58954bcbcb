"""The pinned SAM CLI's own interpreter (``.tools/sam``), for tests that run its code offline."""

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_sam_python(script: str, *args: str, timeout: float = 120) -> str:
    """``script``'s standard output, run by the SAM CLI's python with ``args``; fails loudly.

    The CLI is installed as scripts/check-template installs it (once; reused after). It runs
    with its own packages (not the project's), no telemetry, dummy credentials and no config
    files: nothing here can reach, or act as, an account.
    """
    venv = subprocess.run(
        ["bash", "-c", "source scripts/lib/tools.sh && sam_venv"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "VIRTUAL_ENV")
        and (not name.startswith("AWS_") or name == "AWS_CA_BUNDLE")
    }
    environment |= {
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
    }
    completed = subprocess.run(
        [f"{venv}/bin/python", "-c", script, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout
