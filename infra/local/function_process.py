"""One local function in a process of its own, with exactly the environment the template gives it.

On Lambda each function is its own process: the runtime sets the function's environment, sets
up logging, and only then imports the handler, whose module-level Powertools ``Logger()`` and
``Metrics()`` read POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE as they are built.
``python -m infra.local`` starts each function with this module in the same order:

    python -m infra.local.function_process worker <handler> <poller settings as JSON>
    python -m infra.local.function_process api <ASGI app> <file descriptor of the bound socket>

The process stops on SIGINT or SIGTERM, and when its standard input closes: the local stack
holds the other end, so a stack that dies (even by SIGKILL) takes its functions with it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict
from types import FrameType
from typing import Any

from infra.local.poller import PollerSettings

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
STOP_TIMEOUT_SECONDS = 35  # the worker finishes the batch in hand (up to its poll and a task)


def function_process_environment(
    inherited: Mapping[str, str],
    own: Mapping[str, str],
    every_function: Mapping[str, Mapping[str, str]],
) -> dict[str, str]:
    """``inherited`` without any function's template variables, then the function's own.

    So the worker never sees the API's POWERTOOLS_SERVICE_NAME (or any variable only the API
    sets), whatever the shell running ``make run`` exported.
    """
    template_names = {name for variables in every_function.values() for name in variables}
    base = {name: value for name, value in inherited.items() if name not in template_names}
    return {**base, **own}


def start(
    arguments: list[str], environment: Mapping[str, str], pass_fds: tuple[int, ...] = ()
) -> subprocess.Popen[bytes]:
    """This module in a child process; its output goes where the local stack's goes.

    The child has a process group of its own, so a Ctrl-C in the terminal reaches only the
    local stack, which then stops its functions in order (``stop``) instead of racing them.
    """
    return subprocess.Popen(
        [sys.executable, "-m", __name__, *arguments],
        env=dict(environment),
        stdin=subprocess.PIPE,
        pass_fds=pass_fds,
        process_group=0,
    )


def stop(process: subprocess.Popen[bytes]) -> int:
    """Ask a child to stop (its stdin closes), wait for it, kill it if it does not stop."""
    if process.stdin is not None and not process.stdin.closed:
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
    try:
        return process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def load_object(reference: str) -> Any:
    """``package.module:attribute`` or ``package.module.attribute``, imported."""
    module_name, _, attribute = (
        reference.partition(":") if ":" in reference else reference.rpartition(".")
    )
    return getattr(importlib.import_module(module_name), attribute)


def configure_logging() -> None:
    """The local stack's log lines, in its own process and in each function's.

    In a function's, before its code is imported, as Lambda's runtime does: Powertools' Logger
    then finds this handler and filters its own records out of it, so each is printed once.
    """
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for chatty in ("botocore", "werkzeug"):  # a line per AWS call drowns the app's own logs
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _on_stdin_closed(callback: Callable[[], None]) -> None:
    def watch() -> None:
        # The file descriptor itself, not sys.stdin: a daemon thread blocked in a buffered
        # read holds its lock, and the interpreter aborts at exit when it cannot take it.
        while os.read(sys.stdin.fileno(), 4096):
            pass
        callback()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_worker(handler_reference: str, settings: PollerSettings) -> int:
    """Poll the queue for the handler until asked to stop; the batch in hand is finished."""
    from infra.local.poller import SqsPoller

    stop_event = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_event.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    _on_stdin_closed(stop_event.set)
    handler = load_object(handler_reference)
    poller = SqsPoller(handler, **asdict(settings))
    poller.run(stop_event)
    return 0


def run_api(app_reference: str, fd: int) -> int:
    """Serve the ASGI app with uvicorn on the socket the local stack bound."""
    import uvicorn

    from infra.local.docs import with_local_docs

    app = with_local_docs(load_object(app_reference))
    sock = socket.socket(fileno=fd)
    server = uvicorn.Server(uvicorn.Config(app, log_level="info"))

    def request_stop() -> None:
        server.should_exit = True

    _on_stdin_closed(request_stop)
    # A SIGINT sent to this process itself: uvicorn shuts down gracefully, then raises the
    # signal it caught again, which is no error here.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0


def main(argv: list[str]) -> int:
    kind, reference, argument = argv
    configure_logging()
    if kind == "worker":
        return run_worker(reference, PollerSettings(**json.loads(argument)))
    if kind == "api":
        return run_api(reference, int(argument))
    raise SystemExit(f"unknown function kind {kind!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
