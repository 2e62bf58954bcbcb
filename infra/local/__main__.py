"""``python -m infra.local``: the whole system on loopback, with no AWS account and no Docker.

Binds both ports first (a busy one is a one-line error and exit status 1), then starts
moto's server, creates the template's queues, tables and bucket from template.yaml,
verifies the SES sender, fires due EventBridge Scheduler schedules (tasks due beyond 900 s,
periodic tasks) with a LocalScheduler thread, and starts each function in a process of its
own with the environment the template gives it (``infra.local.function_process``): the worker
behind an SqsPoller, the API under uvicorn, ``/docs`` with Swagger UI's assets served locally.
Ctrl-C stops it.

Run from the repository root with ``PYTHONPATH=functions:.``. Environment knobs:
LOCAL_AWS_PORT (4566), LOCAL_API_PORT (8000), LOCAL_API_APP (``app.api.main:app``) and
LOCAL_WORKER_HANDLER (``app.worker.handler.handler``).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import FrameType

import boto3

from app.api.identity import LOCAL_OWNER
from infra.local import function_process, state
from infra.local.function_process import function_process_environment
from infra.local.poller import PollerSettings
from infra.local.resources import create_resources
from infra.local.scheduler import LocalScheduler
from infra.local.servers import MotoServer, PortInUse, bound_port, listen
from infra.local.template import (
    LOCAL_PARAMETERS,
    TEMPLATE_PATH,
    Physical,
    Template,
    function_environment,
    load_template,
    logical_ids,
    sqs_event_settings,
)

HOST = "127.0.0.1"
REGION = "us-east-1"
API_FUNCTION = "ApiFunction"
WORKER_FUNCTION = "WorkerFunction"
DEFAULT_AWS_PORT = 4566
DEFAULT_API_PORT = 8000
DEFAULT_STATE_DIR = ".local-run"  # git-ignored
SAMPLE_CSV = "name,count\nalpha,1\nbeta,2\n"

logger = logging.getLogger("infra.local")


@dataclass(frozen=True)
class Options:
    """What a user can change through the environment."""

    aws_port: int
    api_port: int
    api_app: str
    worker_handler: str
    state_dir: Path
    clean: bool

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Options:
        return cls(
            aws_port=_port(environ, "LOCAL_AWS_PORT", DEFAULT_AWS_PORT),
            api_port=_port(environ, "LOCAL_API_PORT", DEFAULT_API_PORT),
            api_app=environ.get("LOCAL_API_APP", "app.api.main:app"),
            worker_handler=environ.get("LOCAL_WORKER_HANDLER", "app.worker.handler.handler"),
            state_dir=Path(environ.get("LOCAL_STATE_DIR", DEFAULT_STATE_DIR)),
            clean=_flag(environ, "CLEAN"),
        )


class InvalidOption(Exception):
    """A variable set to something the local stack cannot use."""


def _port(environ: Mapping[str, str], variable: str, default: int) -> int:
    value = environ.get(variable, str(default))
    if not value.isdigit() or int(value) > 65535:
        raise InvalidOption(f"{variable}={value!r} is not a port number (0-65535)")
    return int(value)


def _flag(environ: Mapping[str, str], variable: str) -> bool:
    value = environ.get(variable, "")
    if value not in ("", "0", "1"):
        raise InvalidOption(f"{variable}={value!r}: use {variable}=1 (or leave it unset)")
    return value == "1"


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """Variables that point every boto3 client in this process at the local endpoint."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


# Variables that could send a request to, or sign it for, a real AWS account.
REAL_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)


def reaches_real_aws(name: str) -> bool:
    """True for a variable that points boto3 at a real endpoint or account."""
    return name.startswith("AWS_ENDPOINT_URL_") or name in REAL_AWS_VARIABLES


def use_local_aws(endpoint_url: str) -> None:
    """Point this process at the local endpoint, dropping anything that could reach AWS."""
    for name in list(os.environ):
        if reaches_real_aws(name):
            del os.environ[name]
    os.environ.update(aws_environment(endpoint_url))


def verify_sender(sender_email: str) -> None:
    """SES refuses to send from an unverified identity; moto checks it too."""
    boto3.client("ses").verify_email_identity(EmailAddress=sender_email)


def banner(
    options: Options,
    endpoint_url: str,
    template: Template,
    physical: Physical,
    environments: Mapping[str, Mapping[str, str]],
    sample: Path,
    held: str,
) -> str:
    """What a user needs to talk to the running system; its commands run as printed."""
    api_environment = environments[API_FUNCTION]
    bucket = api_environment.get("BUCKET_NAME", "")
    uploads = api_environment.get("UPLOADS_PREFIX", "")
    lines = [
        "",
        "Local stack is up (Ctrl-C stops it).",
        f"  API          http://{HOST}:{options.api_port}/  (docs: /docs)",
        f"  AWS endpoint {endpoint_url}  (moto; any credentials, region {REGION})",
    ]
    for queue_id in logical_ids(template, "AWS::SQS::Queue"):
        lines.append(f"  queue        {queue_id}: {physical.ref(queue_id)}")
    for table_id in logical_ids(template, "AWS::DynamoDB::Table"):
        lines.append(f"  table        {table_id}: {physical.ref(table_id)}")
    for bucket_id in logical_ids(template, "AWS::S3::Bucket"):
        lines.append(f"  bucket       {bucket_id}: {physical.ref(bucket_id)}")
    for group_id in logical_ids(template, "AWS::Scheduler::ScheduleGroup"):
        lines.append(f"  schedules    {group_id}: {physical.ref(group_id)} (fired every second)")
    lines.append(f"  uploads      s3://{bucket}/{uploads}{LOCAL_OWNER}/  (the one local owner)")
    lines.append(f"  state        {held}")
    for function_id, environment in environments.items():
        service = environment.get("POWERTOOLS_SERVICE_NAME", "-")
        lines.append(f"  function     {function_id}: own process, service {service}")
    upload = f"make -s upload FILE={shlex.quote(str(sample))}"
    tasks = "make tasks WATCH=1"
    if options.api_port != DEFAULT_API_PORT:
        upload = f"LOCAL_API_PORT={options.api_port} {upload}"
    if options.aws_port != DEFAULT_AWS_PORT:
        tasks = f"LOCAL_AWS_PORT={options.aws_port} {tasks}"
    lines += [
        "",
        "From another shell, in this directory:",
        f"  KEY=$({upload})",
        f'  curl -X POST "http://{HOST}:{options.api_port}/process/?file_path=$KEY"',
        f"  {tasks}",
    ]
    return "\n".join(lines) + "\n"


def state_line(options: Options, restored: bool, environment: Mapping[str, str]) -> str:
    """Where the state comes from and what it holds; how to get the other start."""
    where = state.state_file(options.state_dir)
    if options.clean:
        return f"clean start (CLEAN=1); saved to {where} on Ctrl-C"
    if restored:
        held = state.summary(
            environment["BUCKET_NAME"],
            environment["UPLOADS_PREFIX"],
            environment["TASK_TABLE_NAME"],
            environment["SCHEDULE_GROUP_NAME"],
        )
        return f"restored from {where} ({held}); `make run CLEAN=1` starts empty"
    return f"nothing saved yet: starting empty; saved to {where} on Ctrl-C"


def write_sample(state_dir: Path) -> Path:
    """A small CSV for the banner's upload command, named as a path from here if it can be."""
    state_dir.mkdir(parents=True, exist_ok=True)
    sample = state_dir / "sample.csv"
    sample.write_text(SAMPLE_CSV)
    absolute = sample.resolve()
    try:
        return absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(options: Options | None = None) -> int:
    """Run the local stack until Ctrl-C (or SIGTERM); returns the exit status."""
    try:
        options = options or Options.from_environment()
        with ExitStack() as sockets:
            # Both ports first, before moto, uvicorn and the app are imported: a busy port is
            # reported within a second or two, before any banner.
            aws_socket = sockets.enter_context(listen(HOST, options.aws_port, "LOCAL_AWS_PORT"))
            api_socket = sockets.enter_context(listen(HOST, options.api_port, "LOCAL_API_PORT"))
            bound = replace(
                options, aws_port=bound_port(aws_socket), api_port=bound_port(api_socket)
            )
            return serve(bound, aws_socket, api_socket)
    except (PortInUse, InvalidOption) as error:
        sys.stderr.write(f"error: {error}\n")
        return 1


def serve(options: Options, aws_socket: socket.socket, api_socket: socket.socket) -> int:
    """Everything on the two bound sockets until Ctrl-C (or SIGTERM), or a function exits."""
    function_process.configure_logging()
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    endpoint_url = f"http://{HOST}:{options.aws_port}"
    server: MotoServer | None = None
    stop = threading.Event()
    scheduler_thread: threading.Thread | None = None
    functions: dict[str, subprocess.Popen[bytes]] = {}
    status = 0
    save_on_exit = False
    try:
        server = MotoServer(aws_socket)
        server.start()
        use_local_aws(endpoint_url)
        if options.clean:
            state.forget(options.state_dir)
        restored = not options.clean and state.restore(options.state_dir)
        template = load_template(TEMPLATE_PATH)
        physical = create_resources(template)
        save_on_exit = True
        environments = {
            function_id: function_environment(template, function_id, physical, LOCAL_PARAMETERS)
            for function_id in (API_FUNCTION, WORKER_FUNCTION)
        }
        if "SENDER_EMAIL" in environments[API_FUNCTION]:
            verify_sender(environments[API_FUNCTION]["SENDER_EMAIL"])

        def environment_of(function_id: str) -> dict[str, str]:
            return function_process_environment(os.environ, environments[function_id], environments)

        scheduler_thread = LocalScheduler().start(stop)
        sample = write_sample(options.state_dir)
        held = state_line(options, restored, environments[API_FUNCTION])
        sys.stdout.write(
            banner(options, endpoint_url, template, physical, environments, sample, held)
        )
        sys.stdout.flush()
        # Each function in its own process, its code imported there after its environment is
        # in place, as on Lambda (see infra.local.function_process).
        if sqs_event_settings(template, WORKER_FUNCTION).enabled:
            settings = PollerSettings.from_template(template, WORKER_FUNCTION, physical)
            functions[WORKER_FUNCTION] = function_process.start(
                ["worker", options.worker_handler, json.dumps(asdict(settings))],
                environment_of(WORKER_FUNCTION),
            )
        else:
            logger.warning("the worker's SQS event is disabled in the template: not polling")
        functions[API_FUNCTION] = function_process.start(
            ["api", options.api_app, str(api_socket.fileno())],
            environment_of(API_FUNCTION),
            pass_fds=(api_socket.fileno(),),
        )
        status = _wait_for_an_exit(functions)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        # The worker finishes the batch in hand; unfinished messages stay in the queue.
        for process in functions.values():
            if process.poll() is None and process.stdin is not None:
                process.stdin.close()
        for process in functions.values():
            function_process.stop(process)
        if scheduler_thread is not None:
            scheduler_thread.join(timeout=5)
        if save_on_exit:
            # Nothing runs against moto any more: its state is whole.
            logger.info("state saved to %s", state.save(options.state_dir))
        if server is not None:
            server.stop()
        logger.info("local stack stopped")
    return status


def _wait_for_an_exit(functions: Mapping[str, subprocess.Popen[bytes]]) -> int:
    """Block until a function's process exits on its own: that is an error (exit status 1)."""
    while True:
        for function_id, process in functions.items():
            code = process.poll()
            if code is not None:
                logger.error("%s's process exited with status %s: stopping", function_id, code)
                return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
