"""The README's deploy commands: `make deploy`'s first-time guidance, and a user's own `sam build`.

A user with their own SAM CLI runs ``sam build && sam deploy --guided`` with nothing but
``make`` and a python3.13 that has pip on PATH: functions/Makefile must find both, and build
the template's default architecture (arm64) with valid bytecode.
"""

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from infra.local.template import load_template
from tests.sam_build.artifacts import (
    ELF_MACHINE,
    REPO_ROOT,
    elf_machine,
    function_ids,
    shared_objects,
)

pytestmark = pytest.mark.timeout(900)

FUNCTIONS = function_ids(load_template())
SAM = REPO_ROOT / ".tools" / "sam" / "bin" / "sam"
BUILD_PYTHON = REPO_ROOT / ".tools" / "build-python3.13" / "bin"
DEPLOY = REPO_ROOT / "scripts" / "sam-deploy"


def deploy_command(config: Path, **environment: str) -> str:
    """What ``make deploy`` would run after its build, for the config file ``config``."""
    done = subprocess.run(
        [str(DEPLOY), "--print"],
        cwd=REPO_ROOT,
        env={**os.environ, "SAM_CONFIG_FILE": str(config), **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_make_deploy_is_guided_until_the_answers_are_saved(tmp_path: Path) -> None:
    # GIVEN the repository's samconfig.toml, which holds no deploy parameters yet
    first = deploy_command(REPO_ROOT / "samconfig.toml")
    # THEN the first deploy asks for them
    assert first.startswith("sam deploy")
    assert "--guided" in first

    # GIVEN a samconfig.toml in which a guided deploy saved its answers
    saved = tmp_path / "samconfig.toml"
    saved.write_text(
        'version = 0.1\n[default.deploy.parameters]\nstack_name = "lambda-background"\n'
        'parameter_overrides = "SenderEmail=tasks@example.org"\n'
    )
    # THEN later deploys reuse them, unless asked to guide again
    assert "--guided" not in deploy_command(saved)
    assert "--guided" in deploy_command(saved, GUIDED="1")


def test_a_users_own_sam_build_makes_arm64_functions_with_bytecode(
    host_build: Path, tmp_path: Path
) -> None:
    # GIVEN only a SAM CLI, make and a python3.13 with pip on PATH (no BUILD_PYTHON, no
    # parameter overrides): the pinned SAM CLI and the pip-bearing python3.13 that
    # scripts/sam-build installed (for host_build) stand in for the user's own
    assert SAM.exists()
    assert (BUILD_PYTHON / "python3.13").exists()
    environment = {
        "PATH": os.pathsep.join([str(BUILD_PYTHON), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "SAM_CLI_TELEMETRY": "0",
        **{name: os.environ[name] for name in ("LANG", "TMPDIR") if name in os.environ},
        **{name: value for name, value in os.environ.items() if name.startswith("PIP_")},
    }

    # WHEN they run `sam build` in the repository
    build = tmp_path / "build"
    done = subprocess.run(
        [str(SAM), "build", "--build-dir", str(build), "--cache-dir", str(tmp_path / "cache")],
        cwd=REPO_ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    # THEN it succeeds
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    for function_id in FUNCTIONS:
        folder = build / function_id
        # ... with the template's default architecture, arm64, in every compiled module
        objects = shared_objects(folder)
        assert objects
        assert {elf_machine(path) for path in objects} == {ELF_MACHINE["arm64"]}
        # ... and bytecode for the app that Python will use whatever the files' times
        handler = folder / "app" / "api" / "handler.py"
        cached = Path(importlib.util.cache_from_source(str(handler))).read_bytes()
        assert cached[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(cached[4:8], "little") == 0b01  # hash-based, unchecked
