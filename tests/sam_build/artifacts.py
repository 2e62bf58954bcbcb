"""Helpers for the built-artifact tests: `scripts/sam-build`, a stand-in Lambda runtime, ELF.

Lambda's Python runtime starts its bootstrap (awslambdaric) from the runtime's own
site-packages, which also hold a boto3, with the function's folder (``LAMBDA_TASK_ROOT``) as
the working directory and first on ``sys.path``. Here the runtime's own packages live in a
small virtualenv of the same interpreter holding nothing but awslambdaric and boto3 (and their
dependencies) at the versions uv.lock pins; the built folder is the only other thing on the
path. Whatever the build left out fails to import.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import pytest

from infra.local.template import Template, function_properties, logical_ids

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "sam-build"
UV_LOCK = REPO_ROOT / "uv.lock"
RUNTIME_VENV = REPO_ROOT / ".aws-sam" / "runtime-venv"
# What the Lambda runtime brings itself; everything else must be in the built folder.
RUNTIME_PACKAGES = ("awslambdaric", "boto3")

Architecture = Literal["x86_64", "arm64"]
FunctionKind = Literal["api", "sqs"]
# The build that runs here; Lambda calls AArch64 "arm64".
HOST_ARCH: Architecture = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"

# Lambda's function folder is read-only: nothing may write bytecode into the build either.
READ_ONLY_CODE = {"PYTHONDONTWRITEBYTECODE": "1"}
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

# ELF e_machine values (System V ABI).
EM_X86_64 = 62
EM_AARCH64 = 183
ELF_MACHINE: Mapping[Architecture, int] = {"x86_64": EM_X86_64, "arm64": EM_AARCH64}
WHEEL_PLATFORM: Mapping[Architecture, str] = {"x86_64": "x86_64", "arm64": "aarch64"}

_BUILD_TIMEOUT_SECONDS = 900  # a first run installs the SAM CLI before building


# -- the build ---------------------------------------------------------------------------------


def sam_build(arch: Architecture) -> Path:
    """Run ``scripts/sam-build ARCH`` (reusing an up-to-date build); return the build folder.

    Fails the calling test, with the script's output, if the SAM CLI cannot be installed or
    the build fails: these tests never skip.
    """
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    started = time.monotonic()
    try:
        completed = subprocess.run(
            [str(BUILD_SCRIPT), arch],
            cwd=REPO_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"scripts/sam-build {arch} could not run: {error}", pytrace=False)
    output = (completed.stdout + completed.stderr).strip()
    if completed.returncode != 0:
        pytest.fail(
            f"scripts/sam-build {arch} failed with exit status {completed.returncode}: the pinned"
            " SAM CLI could not be installed into .tools/sam, or `sam build` failed.\n"
            f"--- its output (last 60 lines) ---\n{_tail(output, 60)}",
            pytrace=False,
        )
    build_dir = REPO_ROOT / ".aws-sam" / f"build-{arch}"
    elapsed = time.monotonic() - started
    sys.stderr.write(
        f"\nscripts/sam-build {arch}: {elapsed:.1f} s ({_tail(completed.stdout.strip(), 1)})\n"
    )
    return build_dir


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


# -- the runtime's own packages ------------------------------------------------------------------


def locked_closure(names: Iterable[str], lock_path: Path = UV_LOCK) -> dict[str, str]:
    """``name -> version`` for ``names`` and everything they depend on, as uv.lock pins them."""
    with lock_path.open("rb") as stream:
        lock = tomllib.load(stream)
    packages: dict[str, dict[str, Any]] = {package["name"]: package for package in lock["package"]}
    pins: dict[str, str] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in pins:
            continue
        if name not in packages:
            raise LookupError(f"{name} is not in {lock_path.name}")
        package = packages[name]
        pins[name] = str(package["version"])
        pending.extend(dependency["name"] for dependency in package.get("dependencies", []))
    return dict(sorted(pins.items()))


def runtime_python(runtime: str, venv: Path = RUNTIME_VENV) -> Path:
    """The interpreter of a virtualenv holding only the runtime's own packages (made once).

    Made with pip from the interpreter running the tests, which must be the functions'
    ``runtime`` (``python3.13``): the build's compiled modules are for that version only.
    Remade when uv.lock pins other versions.
    """
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if running != runtime:
        pytest.fail(
            f"the functions run on {runtime} and are built for it, but the tests run on"
            f" {running}: run them with {runtime} (scripts/bootstrap picks it when installed)",
            pytrace=False,
        )
    requirements = [
        f"{name}=={version}" for name, version in locked_closure(RUNTIME_PACKAGES).items()
    ]
    venv.parent.mkdir(parents=True, exist_ok=True)
    # One maker at a time: two test runs may start together.
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _make_runtime_venv(venv, requirements)


def _make_runtime_venv(venv: Path, requirements: list[str]) -> Path:
    marker = venv / ".requirements"
    python = venv / "bin" / "python"
    if python.exists() and marker.exists() and marker.read_text().split() == requirements:
        return python
    pip_install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    commands = [[sys.executable, "-m", "venv", "--clear", str(venv)], [*pip_install, *requirements]]
    for command in commands:
        completed = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            marker.unlink(missing_ok=True)
            pytest.fail(
                f"could not make the stand-in Lambda runtime in {venv}: {' '.join(command)}"
                f" exited {completed.returncode}\n{_tail(completed.stdout + completed.stderr, 40)}",
                pytrace=False,
            )
    marker.write_text("\n".join(requirements) + "\n")
    return python


def probe(python: Path, code: str, *args: str, cwd: Path, pythonpath: Path | None) -> Any:
    """Run ``code`` with ``args`` in a clean environment; return the JSON value it prints.

    Raises CalledProcessError (with its output) when the code fails.
    """
    environment = {
        name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ
    }
    environment["PYTHONDONTWRITEBYTECODE"] = "1"  # the function's folder is read-only on Lambda
    if pythonpath is not None:
        environment["PYTHONPATH"] = str(pythonpath)
    completed = subprocess.run(
        [str(python), "-c", code, *args],
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


# -- the template and its events ----------------------------------------------------------------


def function_ids(template: Template) -> list[str]:
    """Every SAM function of the template, in template order."""
    return logical_ids(template, "AWS::Serverless::Function")


def runtime_of(template: Template) -> str:
    """The one runtime (``python3.13``) of every function of the template."""
    runtimes = {
        str(function_properties(template, function_id).get("Runtime"))
        for function_id in function_ids(template)
    }
    if len(runtimes) != 1:
        raise AssertionError(f"expected one runtime for every function, found {sorted(runtimes)}")
    return runtimes.pop()


def function_kind(template: Template, function_id: str) -> FunctionKind:
    """What invokes the function, from its template events: API Gateway or an SQS queue."""
    events = function_properties(template, function_id).get("Events") or {}
    types = {str(event.get("Type")) for event in events.values()}
    if types and types <= {"HttpApi", "Api"}:
        return "api"
    if types == {"SQS"}:
        return "sqs"
    raise AssertionError(
        f"{function_id} has events of types {sorted(types)}: teach tests/sam_build to check them"
    )


# -- compiled extension modules ------------------------------------------------------------------


def shared_objects(folder: Path) -> list[Path]:
    """Every shared object (``*.so``, ``*.so.N``) under ``folder``."""
    return sorted(
        path
        for path in folder.rglob("*.so*")
        if path.is_file() and (path.suffix == ".so" or ".so." in path.name)
    )


def elf_machine(path: Path) -> int:
    """The ELF header's ``e_machine`` (62 x86-64, 183 AArch64); ValueError if not ELF."""
    with path.open("rb") as stream:
        header = stream.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    byte_order: Literal["little", "big"] = "little" if header[5] == 1 else "big"
    return int.from_bytes(header[18:20], byte_order)


def binary_wheel_tags(folder: Path) -> dict[str, list[str]]:
    """``distribution -> tags`` of every installed wheel that is not pure Python."""
    found: dict[str, list[str]] = {}
    for wheel in sorted(folder.glob("*.dist-info/WHEEL")):
        fields = [line.partition(":") for line in wheel.read_text().splitlines()]
        values = [(key.strip(), value.strip()) for key, _, value in fields]
        if ("Root-Is-Purelib", "true") in values:
            continue
        found[wheel.parent.name] = [value for key, value in values if key == "Tag"]
    return found
