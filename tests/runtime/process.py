"""Run a Lambda handler under the real `awslambdaric`, as a container image's entrypoint does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.runtime.emulator import REGION, LambdaEmulator

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"

# Host variables worth passing through; everything else (notably AWS credentials and profiles) is
# left out so a test can never reach real AWS by accident.
_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


class RuntimeProcess:
    """`python -m awslambdaric <handler>` against an emulator, with output captured to a file."""

    def __init__(
        self,
        handler: str,
        *,
        runtime_api: str,
        function_name: str = "test-function",
        memory_size: int = 128,
        cwd: Path | str | None = None,
        pythonpath: Sequence[Path | str] | None = None,
        env: Mapping[str, str] | None = None,
        python: Path | str | None = None,
    ) -> None:
        self.handler = handler
        # The interpreter runs awslambdaric from its own site-packages, as Lambda's runtime does.
        self.python = str(python) if python is not None else sys.executable
        self.cwd = Path(cwd) if cwd is not None else FUNCTIONS_DIR
        paths = pythonpath if pythonpath is not None else [FUNCTIONS_DIR, REPO_ROOT]
        base = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
        self.env: dict[str, str] = {
            **base,
            # What Lambda sets for every function (container images included).
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]00000000000000000000000000000000",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "LAMBDA_TASK_ROOT": str(self.cwd),
            "TZ": ":UTC",
            "_HANDLER": handler,
            "PYTHONPATH": os.pathsep.join(str(p) for p in paths),
            **(env or {}),
        }
        self._popen: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._final_output: str | None = None

    def start(self) -> None:
        if self._popen is not None:
            raise RuntimeError("process already started")
        fd, name = tempfile.mkstemp(prefix="lambda-runtime-", suffix=".log")
        self._log_path = Path(name)
        with os.fdopen(fd, "wb") as log:
            # The child keeps its own copy of the descriptor; ours can close right away.
            self._popen = subprocess.Popen(
                [self.python, "-m", "awslambdaric", self.handler],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def returncode(self) -> int | None:
        """Exit status, or None while running (or before start)."""
        return self._popen.poll() if self._popen else None

    def output(self) -> str:
        """Everything the process wrote to stdout/stderr so far (awslambdaric logs to stdout)."""
        if self._final_output is not None:
            return self._final_output
        if self._log_path is None:
            return ""
        return self._log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate (then kill) the process; keep its output in memory and remove the log file."""
        popen = self._popen
        if popen is None:
            return None
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout)
        if self._log_path is not None and self._final_output is None:
            self._final_output = self.output()
            self._log_path.unlink(missing_ok=True)
        return popen.returncode

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_until_ready(emulator: LambdaEmulator, process: RuntimeProcess, timeout: float) -> None:
    """Wait for init to finish, failing fast if the process exits or reports an init error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            emulator.wait_ready(timeout=0.1)
            return
        except TimeoutError:
            if process.returncode is not None:
                raise RuntimeError(
                    f"runtime process exited with {process.returncode} before init finished:\n"
                    + process.output()
                ) from None
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"runtime not ready after {timeout:.1f}s:\n{process.output()}"
                ) from None


@contextmanager
def run_function(
    handler: str,
    env: Mapping[str, str] | None = None,
    *,
    function_timeout: float = 10.0,
    registration_open: bool = True,
    function_name: str = "test-function",
    cwd: Path | str | None = None,
    pythonpath: Sequence[Path | str] | None = None,
    ready_timeout: float = 30.0,
    python: Path | str | None = None,
    memory_size: int = 128,
) -> Iterator[tuple[LambdaEmulator, RuntimeProcess]]:
    """Start an emulator and an awslambdaric process for `handler`; yield once init is done.

    If init fails, InitError propagates (with the recorded errors). On any failure the runtime's
    output is written to stderr, so pytest shows it next to the failing test.
    """
    with (
        LambdaEmulator(
            function_timeout=function_timeout,
            function_name=function_name,
            handler=handler,
            registration_open=registration_open,
        ) as emulator,
        RuntimeProcess(
            handler,
            runtime_api=emulator.runtime_api,
            function_name=function_name,
            memory_size=memory_size,
            cwd=cwd,
            pythonpath=pythonpath,
            env=env,
            python=python,
        ) as process,
    ):
        try:
            wait_until_ready(emulator, process, ready_timeout)
            yield emulator, process
        except GeneratorExit:
            raise
        except BaseException:
            sys.stderr.write(f"----- runtime process output -----\n{process.output()}\n")
            raise


def json_logs(output: str) -> list[dict[str, Any]]:
    """The structured (Powertools JSON) lines of a runtime's output, in order."""
    records = []
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records
