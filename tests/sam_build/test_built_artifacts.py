"""The folders `sam build` makes, run under the real awslambdaric as Lambda would run them.

``scripts/sam-build x86_64`` (the host's architecture) builds template.yaml once per session,
or reuses an up-to-date build. Each function's built folder then serves every sample event of
``infra/events/<LogicalId>/`` under ``python -m awslambdaric`` against the Runtime API
emulator, with nothing but that folder and the runtime's own packages (awslambdaric, boto3)
importable, and AWS played by moto's server holding the template's queues, tables and bucket.
A dependency missing from the build, or a handler the build cannot import, fails here.

The arm64 build (the template's default) is checked for what cannot run on this machine: its
compiled extension modules must all be AArch64.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends
from pydantic import ValidationError

from app.tasks.envelope import TaskEnvelope
from app.tasks.status import TaskStatusStore
from infra.local.resources import create_resources
from infra.local.template import (
    LOCAL_PARAMETERS,
    Physical,
    function_environment,
    function_settings,
    load_template,
)
from tests.runtime.emulator import REGION, InitError, InvokeResult, LambdaEmulator
from tests.runtime.process import RuntimeProcess, json_logs, run_function
from tests.sam_build.artifacts import (
    ELF_MACHINE,
    FAKE_CREDENTIALS,
    READ_ONLY_CODE,
    RUNTIME_PACKAGES,
    WHEEL_PLATFORM,
    Architecture,
    binary_wheel_tags,
    elf_machine,
    function_ids,
    function_kind,
    probe,
    shared_objects,
)
from tests.sam_build.conftest import Builds
from tests.sample_events import event_files, function_event_params

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient

# A first run installs the SAM CLI and builds twice; later runs reuse both.
pytestmark = pytest.mark.timeout(900)

TEMPLATE = load_template()
FUNCTIONS = function_ids(TEMPLATE)

# What each sample API event should get; any event not listed must still be answered (< 500).
API_STATUS = {
    "docs": 200,
    "rest-v1-docs": 200,
    "health": 200,
    "items": 200,
    "items-no-query": 200,
    "send-notification": 200,
    "send-notification-async": 200,
    "rest-v1-send-notification": 200,
    "process": 202,
    "process-batch": 202,
    "create-upload": 201,
    "get-task": 404,  # no such task in a fresh stack
    "cancel-task": 404,
    "get-task-result": 404,
    "list-tasks": 200,  # an empty page
}


# -- fixtures ----------------------------------------------------------------------------------


@dataclass
class LocalAws:
    """moto's server holding the template's resources, and clients to inspect them."""

    endpoint: str
    physical: Physical
    sqs: SQSClient
    dynamodb: DynamoDBClient
    s3: S3Client
    ses: SESClient

    def environment(self, function_id: str) -> dict[str, str]:
        """What Lambda would give the function: the template's variables, plus AWS access."""
        return {
            # As sam local invoke's env.json: the sample events carry no authorizer claims.
            **function_environment(TEMPLATE, function_id, self.physical, LOCAL_PARAMETERS),
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def status_store(self, function_id: str) -> TaskStatusStore:
        table = self.environment(function_id)["TASK_TABLE_NAME"]
        return TaskStatusStore(self.dynamodb, table, timedelta(days=14))

    def emails_sent_to(self, address: str) -> int:
        """Emails SES accepted for ``address`` (moto's server runs in this process)."""
        messages = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
        return sum(address in message.destinations["ToAddresses"] for message in messages)

    def drain(self, queue_url: str) -> list[str]:
        """Receive and delete every visible message of a queue; return their bodies."""
        bodies: list[str] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    sqs: SQSClient = session.client("sqs", endpoint_url=endpoint)
    dynamodb: DynamoDBClient = session.client("dynamodb", endpoint_url=endpoint)
    s3: S3Client = session.client("s3", endpoint_url=endpoint)
    ses: SESClient = session.client("ses", endpoint_url=endpoint)
    try:
        # moto's backends are process-wide: a suffix keeps these names apart from other tests'.
        physical = create_resources(
            TEMPLATE,
            sqs=sqs,
            dynamodb=dynamodb,
            s3=s3,
            scheduler=session.client("scheduler", endpoint_url=endpoint),
            secretsmanager=session.client("secretsmanager", endpoint_url=endpoint),
            suffix=f"build-{uuid.uuid4().hex[:8]}",
        )
        aws = LocalAws(endpoint, physical, sqs, dynamodb, s3, ses)
        # SES sends only from a verified identity: the sender each function is configured with.
        for function_id in FUNCTIONS:
            sender = aws.environment(function_id).get("SENDER_EMAIL")
            if sender:
                ses.verify_email_identity(EmailAddress=sender)
        yield aws
    finally:
        for client in (sqs, dynamodb, s3, ses):
            client.close()
        server.stop()


@dataclass
class Running:
    """One built function under awslambdaric, kept warm across the events sent to it."""

    emulator: LambdaEmulator
    process: RuntimeProcess


@dataclass
class BuiltFunctions:
    """Starts each built function on first use; stops them all at the end of the module."""

    build: Path
    python: Path
    aws: LocalAws
    stack: ExitStack
    running: dict[str, Running] = field(default_factory=dict)

    def get(self, function_id: str) -> Running:
        if function_id not in self.running:
            settings = function_settings(TEMPLATE, function_id)
            folder = self.build / function_id
            emulator, process = self.stack.enter_context(
                run_function(
                    settings.handler,
                    {**self.aws.environment(function_id), **READ_ONLY_CODE},
                    function_timeout=settings.timeout_seconds,
                    function_name=function_id,
                    memory_size=settings.memory_size_mb,
                    cwd=folder,
                    pythonpath=[folder],
                    python=self.python,
                )
            )
            self.running[function_id] = Running(emulator, process)
        return self.running[function_id]


@pytest.fixture(scope="module")
def built_functions(
    host_build: Path, lambda_python: Path, local_aws: LocalAws
) -> Iterator[BuiltFunctions]:
    with ExitStack() as stack:
        yield BuiltFunctions(host_build, lambda_python, local_aws, stack)


# -- helpers -----------------------------------------------------------------------------------


def invoke(running: Running, event: dict[str, Any], timeout: float) -> tuple[InvokeResult, str]:
    """Invoke, wait for the release; return the result and the output written meanwhile."""
    before = len(running.process.output())
    result = running.emulator.invoke(event, timeout=timeout)
    result.wait_released(timeout=timeout)
    output = running.process.output()[before:]
    assert result.error is None, (
        f"the function failed: {result.error_type}: {result.error}\n{running.process.output()}"
    )
    assert not result.timed_out
    return result, output


def request_path(event: dict[str, Any]) -> str:
    """The path of an API Gateway event, HTTP API (v2) or REST API (v1)."""
    return str(event["rawPath"] if event.get("version") == "2.0" else event["path"])


# -- the runtime sees the build and nothing else -------------------------------------------------


# Prints where each module named in argv comes from, and sys.path, as JSON.
_WHERE_FROM = """
import importlib, json, sys
found = {}
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    found[name] = module.__file__ or list(module.__path__)[0]
print(json.dumps({"modules": found, "path": sys.path}))
"""


def test_the_stand_in_runtime_imports_the_function_only_from_its_built_folder(
    host_build: Path, lambda_python: Path, tmp_path: Path
) -> None:
    folder = host_build / FUNCTIONS[0]
    repo = Path(__file__).resolve().parents[2]

    # GIVEN the stand-in runtime, from a folder that is not the build, with no PYTHONPATH
    # WHEN the app or a dependency of the build is imported
    for module in ("app", "fastapi", "mangum", "pydantic_core"):
        with pytest.raises(subprocess.CalledProcessError) as failed:
            probe(lambda_python, f"import {module}", cwd=tmp_path, pythonpath=None)
        # THEN it is not found: nothing of the repository or its .venv is visible
        assert f"No module named '{module}'" in failed.value.stderr

    # GIVEN the built folder as working directory and PYTHONPATH, as the tests run it
    shipped = ["app", "fastapi", "mangum", "pydantic_core"]
    found = probe(
        lambda_python, _WHERE_FROM, *shipped, *RUNTIME_PACKAGES, cwd=folder, pythonpath=folder
    )
    # THEN the function's code and dependencies come from the built folder, boto3 included
    # (the build's pinned boto3 comes before the runtime's, as on Lambda)
    for module in (*shipped, "boto3"):
        assert Path(found["modules"][module]).is_relative_to(folder), found["modules"]
    # ... awslambdaric from the runtime's own packages
    assert Path(found["modules"]["awslambdaric"]).is_relative_to(lambda_python.parents[1])
    # ... and no path leads into the sources or the project's virtualenv
    for entry in found["path"]:
        path = Path(entry or folder)
        assert not path.is_relative_to(repo / "functions"), entry
        assert not path.is_relative_to(repo / ".venv"), entry


# -- every sample event, on every built function -------------------------------------------------


def test_every_function_has_sample_events() -> None:
    assert FUNCTIONS
    for function_id in FUNCTIONS:
        assert event_files(function_id), f"infra/events/{function_id}/ has no *.json event"
    # ... and the expected statuses name only events that exist
    api_events = {
        path.stem
        for function_id in FUNCTIONS
        if function_kind(TEMPLATE, function_id) == "api"
        for path in event_files(function_id)
    }
    assert set(API_STATUS) <= api_events


@pytest.mark.parametrize(
    ("function_id", "event_file"),
    function_event_params(FUNCTIONS),
)
def test_the_built_function_handles_the_sample_event(
    built_functions: BuiltFunctions, function_id: str, event_file: Path
) -> None:
    event: dict[str, Any] = json.loads(event_file.read_text())
    kind = function_kind(TEMPLATE, function_id)
    if kind == "api":
        check_api_event(built_functions, function_id, event_file.stem, event)
    else:
        check_sqs_event(built_functions, function_id, event)


def check_api_event(
    functions: BuiltFunctions, function_id: str, name: str, event: dict[str, Any]
) -> None:
    aws = functions.aws
    running = functions.get(function_id)
    path = request_path(event)
    # POST /send-notification/{email} or /send-notification/?email=: one email, post-response
    recipient: str | None = None
    if path.startswith("/send-notification/"):
        query = event.get("queryStringParameters") or {}
        recipient = unquote(path.removeprefix("/send-notification/")) or query["email"]
    emails_before = aws.emails_sent_to(recipient) if recipient else 0

    # WHEN API Gateway delivers the event to the built function
    result, output = invoke(running, event, timeout=30)

    # THEN the client gets an HTTP response, the expected one for this event
    status = result.payload["statusCode"]
    assert status < 500, result.payload
    assert status == API_STATUS.get(name, status), result.payload
    # ... and nothing was logged as an error, background work included
    errors = [r for r in json_logs(output) if r.get("level") in ("ERROR", "CRITICAL")]
    assert errors == [], errors
    body = result.payload.get("body") or ""
    if recipient:
        # ... the post-response email went out through SES before the invoke was released
        assert aws.emails_sent_to(recipient) == emails_before + 1
    if status == 202:
        # ... and queued work has its status record and its message
        accepted = json.loads(body)
        task_ids = accepted.get("task_ids") or [accepted["task_id"]]
        store = aws.status_store(function_id)
        for task_id in task_ids:
            record = store.get(task_id, owner="local")
            assert record is not None, task_id
            assert record.status == "queued"


def check_sqs_event(functions: BuiltFunctions, function_id: str, event: dict[str, Any]) -> None:
    aws = functions.aws
    environment = aws.environment(function_id)
    bucket = environment["BUCKET_NAME"]
    store = aws.status_store(function_id)
    aws.drain(environment["DEAD_LETTER_QUEUE_URL"])

    # GIVEN what the API would have left for each task of the batch: the upload it names and
    # a queued status record; and records that are not task envelopes at all
    tasks: list[TaskEnvelope] = []
    malformed: list[str] = []
    uploads: dict[str, bytes] = {}
    for record in event["Records"]:
        try:
            envelope = TaskEnvelope.model_validate_json(record["body"])
        except ValidationError:
            malformed.append(record["body"])
            continue
        tasks.append(envelope)
        file_path = (envelope.arguments or {}).get("file_path")
        if isinstance(file_path, str):
            uploads[file_path] = f"an upload named {file_path}\nsecond line\n".encode()
            aws.s3.put_object(Bucket=bucket, Key=file_path, Body=uploads[file_path])
        if store.get(envelope.task_id, owner=envelope.owner) is None:
            store.create_queued(
                envelope.task_id, envelope.name, envelope.correlation_id, owner=envelope.owner
            )
    running = functions.get(function_id)

    # WHEN the SQS event source delivers the batch to the built worker
    result, output = invoke(running, event, timeout=60)

    # THEN it reports a partial batch response in which no record failed
    assert result.payload == {"batchItemFailures": []}, f"{result.payload}\n{output}"
    # ... each task ran and recorded its result
    for envelope in tasks:
        record = store.get(envelope.task_id, owner=envelope.owner)
        assert record is not None
        assert record.status == "succeeded", record
        assert record.result is not None
        file_path = record.result["file_path"]
        assert record.result["size_bytes"] == len(uploads[file_path])
        stored = aws.s3.get_object(Bucket=bucket, Key=record.result["result_key"])
        assert json.loads(stored["Body"].read())["sha256"] == record.result["sha256"]
    # ... and each malformed record was dead-lettered by the worker, not failed
    assert sorted(aws.drain(environment["DEAD_LETTER_QUEUE_URL"])) == sorted(malformed)
    errors = [r for r in json_logs(output) if r.get("level") in ("ERROR", "CRITICAL")]
    assert [r.get("message") for r in errors] == ["message dead-lettered"] * len(malformed)


# -- a dependency missing from the build fails these tests ---------------------------------------


def test_a_build_missing_a_dependency_cannot_start(
    host_build: Path, lambda_python: Path, tmp_path: Path
) -> None:
    # GIVEN the API function's built folder without mangum (a copy made of links)
    function_id = next(f for f in FUNCTIONS if function_kind(TEMPLATE, f) == "api")
    folder = tmp_path / function_id
    folder.mkdir()
    for entry in (host_build / function_id).iterdir():
        if entry.name != "mangum":
            os.symlink(entry, folder / entry.name)
    settings = function_settings(TEMPLATE, function_id)

    # WHEN Lambda starts it
    # THEN init fails, naming the missing module
    with (
        pytest.raises(InitError, match="No module named 'mangum'"),
        run_function(
            settings.handler,
            {**FAKE_CREDENTIALS, **READ_ONLY_CODE},
            function_name=function_id,
            cwd=folder,
            pythonpath=[folder],
            python=lambda_python,
        ),
    ):
        pass


# -- the arm64 build ---------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_compiled_extension_modules_match_the_architecture(
    builds: Builds, arch: Architecture
) -> None:
    build = builds(arch)
    for function_id in FUNCTIONS:
        folder = build / function_id
        # GIVEN the function's built folder, whose pydantic_core is compiled
        objects = shared_objects(folder)
        assert any(path.is_relative_to(folder / "pydantic_core") for path in objects), objects
        # THEN every shared object is an ELF file for the target architecture
        machines = {str(path.relative_to(folder)): elf_machine(path) for path in objects}
        wrong = {
            path: machine for path, machine in machines.items() if machine != ELF_MACHINE[arch]
        }
        assert wrong == {}, f"{arch} build of {function_id} has foreign shared objects"
        # ... and every binary wheel installed was one for that architecture
        tags = binary_wheel_tags(folder)
        assert tags, "expected at least one binary wheel (pydantic_core)"
        foreign = {
            wheel: wheel_tags
            for wheel, wheel_tags in tags.items()
            if not all(WHEEL_PLATFORM[arch] in tag for tag in wheel_tags)
        }
        assert foreign == {}, f"{arch} build of {function_id} has wheels for other platforms"
