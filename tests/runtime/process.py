"""Run a Lambda handler under the real `awslambdaric`, as a container image's entrypoint does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
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
        self.starts = 0
        self._log_path: Path | None = None
        self._final_output: str | None = None

    def start(self) -> None:
        """Start the runtime; after ``kill()``, start a fresh one (a new Init), same log file."""
        if self._popen is not None and self._popen.poll() is None:
            raise RuntimeError("process already running")
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="lambda-runtime-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        with self._log_path.open("ab") as log:
            # The child keeps its own copy of the descriptor; ours can close right away.
            self._popen = subprocess.Popen(
                [self.python, "-m", "awslambdaric", self.handler],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: signals reach Managed Instances' worker processes too.
                start_new_session=True,
            )
        self.starts += 1

    def _signal(self, signum: signal.Signals) -> None:
        if self._popen is not None and self._popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signum)

    def suspend(self) -> None:
        """Freeze every process of the runtime, as Lambda freezes an idle environment."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """Kill the runtime at once, as Lambda does at a timeout; keep its output."""
        self._signal(signal.SIGKILL)
        if self._popen is not None:
            self._popen.wait(10)

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
            self.resume()  # a stopped process would hold SIGTERM until continued
            self._signal(signal.SIGTERM)  # the group: Managed Instances' workers too
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                popen.wait(timeout)
        with suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)  # any worker left behind
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
    max_concurrency: int | None = None,
    snapstart: bool = False,
) -> Iterator[tuple[LambdaEmulator, RuntimeProcess]]:
    """Start an emulator and an awslambdaric process for `handler`; yield once init is done.

    If init fails, InitError propagates (with the recorded errors). On any failure the runtime's
    output is written to stderr, so pytest shows it next to the failing test.

    ``max_concurrency`` runs it as on Lambda Managed Instances (``AWS_LAMBDA_MAX_CONCURRENCY``:
    awslambdaric forks that many workers); ``snapstart`` as a SnapStart version
    (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``): it yields at the snapshot, before restore.
    """
    platform_env: dict[str, str] = {}
    if max_concurrency is not None:
        platform_env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(max_concurrency)
    if snapstart:
        platform_env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
    with (
        LambdaEmulator(
            function_timeout=function_timeout,
            function_name=function_name,
            handler=handler,
            registration_open=registration_open,
            max_concurrency=max_concurrency,
            snapstart=snapstart,
        ) as emulator,
        RuntimeProcess(
            handler,
            runtime_api=emulator.runtime_api,
            function_name=function_name,
            memory_size=memory_size,
            cwd=cwd,
            pythonpath=pythonpath,
            env={**(env or {}), **platform_env},
            python=python,
        ) as process,
    ):
        emulator.attach(process)
        try:
            wait_until_ready(emulator, process, ready_timeout)
            yield emulator, process
        except GeneratorExit:
            raise
        except BaseException:
            sys.stderr.write(f"----- runtime process output -----\n{process.output()}\n")
            raise


def json_logs(output: str) -> list[dict[str, Any]]:
    """The structured (Powertools JSON) records of a runtime's output, in order.

    Threads share stdout, so a record may share its line with other text (a traceback written
    by another thread, say): every JSON object found in a line counts, wherever it starts.
    """
    decoder = json.JSONDecoder()
    records: list[dict[str, Any]] = []
    for line in output.splitlines():
        position = line.find("{")
        while position != -1:
            try:
                record, end = decoder.raw_decode(line, position)
            except ValueError:
                position = line.find("{", position + 1)
                continue
            if isinstance(record, dict) and "level" in record and "message" in record:
                records.append(record)
            position = line.find("{", end)
    return records
