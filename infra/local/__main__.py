"""``python -m infra.local``: the whole system on loopback, with no AWS account and no Docker.

Binds both ports first (a busy one is a one-line error and exit status 1), then starts
moto's server, creates the template's queues, tables and bucket from template.yaml,
verifies the SES sender, exports the functions' environment (resolved from the template),
runs the worker behind an SqsPoller thread, fires due EventBridge Scheduler schedules (tasks
due beyond 900 s, periodic tasks) with a LocalScheduler thread, and serves the API with
uvicorn, ``/docs`` with Swagger UI's assets served locally. Ctrl-C stops it.

Run from the repository root with ``PYTHONPATH=functions:.``. Environment knobs:
LOCAL_AWS_PORT (4566), LOCAL_API_PORT (8000), LOCAL_API_APP (``app.api.main:app``) and
LOCAL_WORKER_HANDLER (``app.worker.handler.handler``).
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

import boto3

from app.api.identity import LOCAL_OWNER
from infra.local.poller import SqsHandler, SqsPoller
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

logger = logging.getLogger("infra.local")


@dataclass(frozen=True)
class Options:
    """What a user can change through the environment."""

    aws_port: int
    api_port: int
    api_app: str
    worker_handler: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Options:
        return cls(
            aws_port=_port(environ, "LOCAL_AWS_PORT", 4566),
            api_port=_port(environ, "LOCAL_API_PORT", 8000),
            api_app=environ.get("LOCAL_API_APP", "app.api.main:app"),
            worker_handler=environ.get("LOCAL_WORKER_HANDLER", "app.worker.handler.handler"),
        )


class InvalidOption(Exception):
    """A variable set to something the local stack cannot use."""


def _port(environ: Mapping[str, str], variable: str, default: int) -> int:
    value = environ.get(variable, str(default))
    if not value.isdigit() or int(value) > 65535:
        raise InvalidOption(f"{variable}={value!r} is not a port number (0-65535)")
    return int(value)


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


def merge_environments(
    primary: Mapping[str, str], secondary: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """One process environment for two functions.

    Variables only one function sets are kept; where both set a variable to different values
    (POWERTOOLS_SERVICE_NAME, say), ``primary`` wins and the pair is returned as a conflict.
    """
    merged = {**secondary, **primary}
    conflicts = {
        name: (primary[name], secondary[name])
        for name in primary.keys() & secondary.keys()
        if primary[name] != secondary[name]
    }
    return merged, conflicts


def load_object(reference: str) -> Any:
    """``package.module:attribute`` or ``package.module.attribute``, imported."""
    module_name, _, attribute = (
        reference.partition(":") if ":" in reference else reference.rpartition(".")
    )
    return getattr(importlib.import_module(module_name), attribute)


def verify_sender(sender_email: str) -> None:
    """SES refuses to send from an unverified identity; moto checks it too."""
    boto3.client("ses").verify_email_identity(EmailAddress=sender_email)


def banner(
    options: Options,
    endpoint_url: str,
    template: Template,
    physical: Physical,
    environment: Mapping[str, str],
    conflicts: Mapping[str, tuple[str, str]],
) -> str:
    """What a user needs to talk to the running system."""
    bucket = environment.get("BUCKET_NAME", "")
    uploads = environment.get("UPLOADS_PREFIX", "")
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
    lines += [
        f"  uploads      s3://{bucket}/{uploads}{LOCAL_OWNER}/  (the one local owner)",
        "",
        "From another shell:",
        "  KEY=$(make -s upload FILE=input.csv)     # POST /uploads, then the file to S3",
        f'  curl -X POST "http://{HOST}:{options.api_port}/process/?file_path=$KEY"',
        "  make tasks WATCH=1                       # the tasks as they go through",
    ]
    if conflicts:
        lines.append("")
        lines.append(
            "API and worker share this process; where their variables differ the API's win:"
        )
        for name, (api_value, worker_value) in sorted(conflicts.items()):
            lines.append(f"  {name}={api_value} (worker: {worker_value})")
    return "\n".join(lines) + "\n"


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
    """Everything on the two bound sockets until Ctrl-C (or SIGTERM)."""
    import uvicorn

    from infra.local.docs import with_local_docs

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for chatty in ("botocore", "werkzeug"):  # a line per AWS call drowns the app's own logs
        logging.getLogger(chatty).setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    endpoint_url = f"http://{HOST}:{options.aws_port}"
    server: MotoServer | None = None
    stop = threading.Event()
    poller_thread: threading.Thread | None = None
    scheduler_thread: threading.Thread | None = None
    try:
        server = MotoServer(aws_socket)
        server.start()
        use_local_aws(endpoint_url)
        template = load_template(TEMPLATE_PATH)
        physical = create_resources(template)
        api_environment = function_environment(template, API_FUNCTION, physical, LOCAL_PARAMETERS)
        worker_environment = function_environment(
            template, WORKER_FUNCTION, physical, LOCAL_PARAMETERS
        )
        environment, conflicts = merge_environments(api_environment, worker_environment)
        os.environ.update(environment)
        if "SENDER_EMAIL" in environment:
            verify_sender(environment["SENDER_EMAIL"])

        # Imported only now: the app reads its settings from the environment just exported.
        handler: SqsHandler = load_object(options.worker_handler)
        api_app: Callable[..., Any] = with_local_docs(load_object(options.api_app))

        if sqs_event_settings(template, WORKER_FUNCTION).enabled:
            poller = SqsPoller.from_template(template, WORKER_FUNCTION, physical, handler)
            poller_thread = poller.start(stop)
        else:
            logger.warning("the worker's SQS event is disabled in the template: not polling")
        scheduler_thread = LocalScheduler().start(stop)
        sys.stdout.write(banner(options, endpoint_url, template, physical, environment, conflicts))
        sys.stdout.flush()
        config = uvicorn.Config(api_app, host=HOST, port=options.api_port, log_level="info")
        uvicorn.Server(config).run(sockets=[api_socket])
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if poller_thread is not None:
            # The poller finishes the batch in hand; unfinished messages stay in the queue.
            poller_thread.join(timeout=30)
        if scheduler_thread is not None:
            scheduler_thread.join(timeout=5)
        if server is not None:
            server.stop()
        logger.info("local stack stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
