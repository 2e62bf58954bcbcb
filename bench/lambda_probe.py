"""Fresh interpreters started the way Lambda starts one, over a copy of a built function.

The copy is what Lambda unpacks from SAM's zip: every file dated 1980-01-01. The interpreter
cannot write bytecode (``-B``, ``PYTHONDONTWRITEBYTECODE``: /var/task is read-only) and sees
only the function's folder (``-S``: no site-packages). It imports the handler (Init), then
sends it one event; the CPU time of each phase is reported.
"""

import compileall
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z: every file's time in SAM's zip

# Runs in the fresh interpreter: Init is importing the handler's module; then one invoke.
PROBE = """
import json, sys, time
module = __import__(sys.argv[1], fromlist=["handler"])
init_cpu = time.process_time()
with open(sys.argv[2]) as stream:
    event = json.load(stream)
class Context:
    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = int(sys.argv[3])
    aws_request_id = "c0ffee00-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "2026/11/27/[$LATEST]0123456789abcdef"
    identity = None
    client_context = None
    tenant_id = None
    def get_remaining_time_in_millis(self):
        return 30000
started_cpu = time.process_time()
response = module.handler(event, Context())
invoke_cpu = time.process_time() - started_cpu
print("bench-probe " + json.dumps({"init": init_cpu, "invoke": invoke_cpu, "response": response}))
"""


@dataclass(frozen=True)
class Subject:
    """One handler measured: which module, in which staged folder."""

    label: str
    module: str
    folder: Path


@dataclass
class Samples:
    init: list[float] = field(default_factory=list)
    invoke: list[float] = field(default_factory=list)

    def median_ms(self) -> tuple[float, float]:
        return statistics.median(self.init) * 1000, statistics.median(self.invoke) * 1000


def has_bytecode(folder: Path) -> bool:
    return any((folder / "app").rglob("*.pyc"))


def stage(built: Path, destination: Path, baselines: list[Path], bytecode: bool) -> None:
    """``built`` as Lambda would unpack it, with ``baselines`` beside the app, into ``destination``.

    With ``bytecode``, the build's own bytecode is kept (and compiled here only if the build
    ships none); without, every ``__pycache__`` is dropped. Every time is then reset to 1980.
    """
    shutil.copytree(built, destination, symlinks=True)
    for baseline in baselines:
        shutil.copy2(baseline, destination / baseline.name)
    if bytecode:
        # The baselines are compiled as the build compiles; the build's own files only if it
        # ships no bytecode at all (an older build, measured with --build).
        targets = (
            [destination]
            if not has_bytecode(built)
            else [destination / baseline.name for baseline in baselines]
        )
        for target in targets:
            compile_tree(target)
    else:
        for cache in sorted(destination.rglob("__pycache__"), reverse=True):
            shutil.rmtree(cache)
    for directory, _, files in os.walk(destination):
        for name in files:
            os.utime(Path(directory, name), (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)
        os.utime(directory, (ZIP_EPOCH, ZIP_EPOCH))


def compile_tree(target: Path) -> None:
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    if target.is_file():
        ok = compileall.compile_file(target, quiet=2, invalidation_mode=mode)
    else:
        ok = compileall.compile_dir(target, quiet=2, workers=0, invalidation_mode=mode)
    if not ok:
        raise RuntimeError(f"could not compile {target}")


def base_python() -> str:
    """The interpreter itself, not this virtualenv's: the function's folder is its only library."""
    return getattr(sys, "_base_executable", sys.executable)


def probe(
    subject: Subject, environment: dict[str, str], event: Path, memory: int
) -> tuple[float, float, dict[str, Any]]:
    """(Init CPU s, first-invoke CPU s, response) of one fresh interpreter."""
    command = [base_python(), "-S", "-B", "-c", PROBE, subject.module, str(event), str(memory)]
    env = {
        **environment,
        "PYTHONPATH": str(subject.folder),
        "LAMBDA_TASK_ROOT": str(subject.folder),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        command, env=env, cwd=subject.folder, capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("bench-probe ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{subject.label} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    result = json.loads(lines[-1].removeprefix("bench-probe "))
    return float(result["init"]), float(result["invoke"]), result["response"]


def cold_starts(
    subjects: list[Subject],
    runs: int,
    event_for: Callable[[Subject], Path],
    check: Callable[[Subject, dict[str, Any]], None],
    environment: dict[str, str],
    memory: int,
) -> dict[str, Samples]:
    samples = {subject.label: Samples() for subject in subjects}
    for subject in subjects:  # a first, unrecorded run each: the OS's file cache is warm for all
        check(subject, probe(subject, environment, event_for(subject), memory)[2])
    for run in range(runs):
        # Alternate, reversing the order every other round, so drift hits every row alike.
        for subject in subjects if run % 2 == 0 else subjects[::-1]:
            init, invoke, response = probe(subject, environment, event_for(subject), memory)
            check(subject, response)
            samples[subject.label].init.append(init)
            samples[subject.label].invoke.append(invoke)
    return samples
