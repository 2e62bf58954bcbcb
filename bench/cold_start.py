"""Cold start as Lambda bills it: Init CPU and first-invoke CPU, from the built artifact.

Run: ``make bench`` or ``PYTHONPATH=functions:. python -m bench.cold_start [--runs 7]``
(``--build DIR`` measures another build: a folder holding ApiFunction/ and WorkerFunction/;
by default ``scripts/sam-build`` makes or reuses the build for this machine's architecture).

Each sample is a fresh interpreter started the way Lambda starts one: the function's folder
(a copy of the build with every file dated 1980-01-01, as SAM's zip leaves it) first on the
path, no bytecode written (``-B``, ``PYTHONDONTWRITEBYTECODE``: /var/task is read-only), the
template's environment, and AWS played by moto's server on loopback. It imports the handler
(Init) and sends it one event: the API's ``POST /process/`` (a status record in DynamoDB and a
message to SQS), or the worker's first batch of 10 ``process_file`` tasks. CPU time is split
at the handler's first call; interpreter start-up is inside Init for every row alike.

Lambda runs Init with burst CPU but an invoke at the memory's share of a vCPU (1,769 MB buys a
whole one), so the latency a client feels on a cold start is modelled as
``Init CPU + first-invoke CPU x 1769 / MemorySize``, at the template's MemorySize.

Rows, each against baselines measured in the same run, alternating:

* project: the build's bytecode ("bytecode"), and the same folder without any ("no
  bytecode", which is what SAM's own Python builder ships);
* baseline: bench/baselines/bare_api.py (bare FastAPI + Mangum, boto3 clients made at import,
  the same two AWS calls) or bench/baselines/bare_batch.py (Powertools BatchProcessor, one
  status write per record with a client made at import), with the same dependencies, with and
  without bytecode (compiled here, ``unchecked-hash``).

Then the warm invoke (``GET /health`` in this process) and the size of each built function.
Medians; nothing here passes or fails on timing.
"""

from __future__ import annotations

import argparse
import compileall
import json
import logging
import os
import platform
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from infra.local.resources import create_resources
from infra.local.template import (
    Physical,
    function_environment,
    function_settings,
    load_template,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINES = Path(__file__).resolve().parent / "baselines"
EVENTS = REPO_ROOT / "infra" / "events"
PROCESS_EVENT = EVENTS / "ApiFunction" / "process.json"
HEALTH_EVENT = EVENTS / "ApiFunction" / "health.json"
SQS_EVENT = EVENTS / "WorkerFunction" / "sqs-batch.json"
REGION = "us-east-1"
BATCH_SIZE = 10
UPLOAD_KEY = "uploads/report.csv"  # the file the sample events name
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z: every file's time in SAM's zip
FULL_VCPU_MB = 1769  # Lambda gives a whole vCPU at 1,769 MB, proportionally less below
LAMBDA_UNZIPPED_LIMIT_MB = 250
HOST_ARCH = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"

API_GOAL_NO_BYTECODE = 0.5  # project (as built) / baseline without bytecode
API_GOAL_BYTECODE = 1.0  # project (as built) / baseline with bytecode
API_FIRST_INVOKE_GOAL = 1.5  # first-invoke CPU, project / baseline
WORKER_GOAL = 1.2

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


# -- the deployed folders ------------------------------------------------------------------------


def has_bytecode(folder: Path) -> bool:
    return any((folder / "app").rglob("*.pyc"))


def stage(built: Path, destination: Path, baseline: Path, bytecode: bool) -> None:
    """``built`` as Lambda would unpack it, with ``baseline`` beside the app, into ``destination``.

    With ``bytecode``, the build's own bytecode is kept (and compiled here only if the build
    ships none); without, every ``__pycache__`` is dropped. Every time is then reset to 1980.
    """
    shutil.copytree(built, destination, symlinks=True)
    shutil.copy2(baseline, destination / baseline.name)
    if bytecode:
        # The baseline is compiled as the build compiles; the build's own files only if it
        # ships no bytecode at all (an older build, measured with --build).
        targets = [destination] if not has_bytecode(built) else [destination / baseline.name]
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


# -- AWS on loopback -----------------------------------------------------------------------------


@dataclass
class LocalAws:
    endpoint: str
    physical: Physical
    session: boto3.Session

    def environment(self, template: dict[str, Any], function_id: str) -> dict[str, str]:
        """What Lambda gives the function (less the Runtime API), AWS being moto's server."""
        memory = function_settings(template, function_id).memory_size_mb
        name = f"bench-{function_id}"
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/27/[$LATEST]0123456789abcdef",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            **function_environment(template, function_id, self.physical),
        }


@contextmanager
def local_aws(template: dict[str, Any]) -> Iterator[LocalAws]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per AWS call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        session = boto3.Session(
            aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION
        )
        s3 = session.client("s3", endpoint_url=endpoint)
        physical = create_resources(
            template,
            sqs=session.client("sqs", endpoint_url=endpoint),
            dynamodb=session.client("dynamodb", endpoint_url=endpoint),
            s3=s3,
            prefix="bench",
        )
        aws = LocalAws(endpoint, physical, session)
        bucket = aws.environment(template, "WorkerFunction")["BUCKET_NAME"]
        s3.put_object(Bucket=bucket, Key=UPLOAD_KEY, Body=b"a,b\n1,2\n")
        yield aws
    finally:
        server.stop()


def worker_event(aws: LocalAws, environment: dict[str, str], destination: Path) -> Path:
    """A batch of 10 new process_file tasks, each with its queued status record, as a file."""
    sample = json.loads(SQS_EVENT.read_text())["Records"][0]
    dynamodb = aws.session.client("dynamodb", endpoint_url=aws.endpoint)
    records = []
    now = str(int(time.time()))
    for _ in range(BATCH_SIZE):
        task_id = uuid.uuid4().hex
        body = {**json.loads(sample["body"]), "task_id": task_id}
        records.append({**sample, "messageId": str(uuid.uuid4()), "body": json.dumps(body)})
        dynamodb.put_item(
            TableName=environment["TASK_TABLE_NAME"],
            Item={
                "task_id": {"S": task_id},
                "name": {"S": body["name"]},
                "status": {"S": "queued"},
                "attempts": {"N": "0"},
                "created_at": {"S": "2026-11-27T12:00:00+00:00"},
                "updated_at": {"S": "2026-11-27T12:00:00+00:00"},
                "expires_at": {"N": now},
            },
        )
    destination.write_text(json.dumps({"Records": records}))
    return destination


# -- fresh interpreters ----------------------------------------------------------------------------


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


# -- warm invokes, in this process -----------------------------------------------------------------


def warm_invokes(
    environment: dict[str, str], iterations: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per ``GET /health`` through each handler, in this process."""
    os.environ.update(environment)
    from app.api.handler import handler as project
    from bench.baselines.bare_api import handler as bare
    from tests.lambda_context import FakeContext

    event = json.loads(HEALTH_EVENT.read_text())
    handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {
        "project": project,
        "baseline": bare,
    }
    for name, handler in handlers.items():
        response = handler(event, FakeContext())
        if response["statusCode"] != 200 or json.loads(response["body"]) != {"status": "ok"}:
            raise RuntimeError(f"{name}: unexpected response {response}")
        for _ in range(warmup):
            handler(event, FakeContext())
    samples: dict[str, list[float]] = {name: [] for name in handlers}
    for _ in range(iterations):
        for name, handler in handlers.items():
            context = FakeContext()
            started = time.perf_counter()
            handler(event, context)
            samples[name].append(time.perf_counter() - started)
    return samples


# -- the report ------------------------------------------------------------------------------------


def modelled(init_ms: float, invoke_ms: float, memory: int) -> float:
    return init_ms + invoke_ms * FULL_VCPU_MB / memory


def cold_table(samples: dict[str, Samples], reference: str, memory: int) -> list[str]:
    header = (
        f"{'':<30}{'Init CPU':>10}{'1st invoke':>12}{f'at {memory} MB':>12}"
        f"{'ratio':>8}{'invoke ratio':>14}"
    )
    ref_init, ref_invoke = samples[reference].median_ms()
    ref_total = modelled(ref_init, ref_invoke, memory)
    lines = [header]
    for label, row in samples.items():
        init, invoke = row.median_ms()
        total = modelled(init, invoke, memory)
        lines.append(
            f"{label:<30}{init:>8.0f}ms{invoke:>10.0f}ms{total:>10.0f}ms"
            f"{total / ref_total:>8.2f}{invoke / ref_invoke:>14.2f}"
        )
    return lines


def ratio(samples: dict[str, Samples], subject: str, reference: str, memory: int) -> float:
    return modelled(*samples[subject].median_ms(), memory) / modelled(
        *samples[reference].median_ms(), memory
    )


def invoke_ratio(samples: dict[str, Samples], subject: str, reference: str) -> float:
    return samples[subject].median_ms()[1] / samples[reference].median_ms()[1]


def verdict(value: float, goal: float) -> str:
    return f"{value:.2f} (goal <= {goal}: {'met' if value <= goal else 'NOT met'})"


def tree_megabytes(root: Path) -> float:
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            if not path.is_symlink():
                total += path.stat().st_size
    return total / 2**20


def indent(lines: Iterable[str]) -> list[str]:
    return ["    " + line for line in lines]


# -- main ------------------------------------------------------------------------------------------


def host_build() -> Path:
    subprocess.run([str(REPO_ROOT / "scripts" / "sam-build"), HOST_ARCH], check=True)
    return REPO_ROOT / ".aws-sam" / f"build-{HOST_ARCH}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--build", type=Path, help="a build folder (default: this machine's)")
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per row")
    parser.add_argument("--iterations", type=int, default=2000, help="warm invokes per handler")
    parser.add_argument("--warmup", type=int, default=200, help="warm invokes before timing")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.iterations < 1 or args.warmup < 0:
        parser.error("--runs and --iterations must be at least 1, --warmup at least 0")

    build: Path = (args.build or host_build()).resolve()
    template = load_template()
    memory = {
        f: function_settings(template, f).memory_size_mb for f in ("ApiFunction", "WorkerFunction")
    }
    report = [f"build measured: {build}"]
    with (
        tempfile.TemporaryDirectory(prefix="bench-cold-start-") as scratch,
        local_aws(template) as aws,
    ):
        root = Path(scratch)
        staged: dict[tuple[str, bool], Path] = {}
        for function_id, baseline in (
            ("ApiFunction", "bare_api.py"),
            ("WorkerFunction", "bare_batch.py"),
        ):
            for bytecode in (True, False):
                folder = root / ("bytecode" if bytecode else "source") / function_id
                stage(build / function_id, folder, BASELINES / baseline, bytecode)
                staged[function_id, bytecode] = folder
        shipped = "the build's" if has_bytecode(build / "ApiFunction") else "compiled here"

        api_env = aws.environment(template, "ApiFunction")
        api_subjects = [
            Subject("project, bytecode", "app.api.handler", staged["ApiFunction", True]),
            Subject("project, no bytecode", "app.api.handler", staged["ApiFunction", False]),
            Subject("baseline, bytecode", "bare_api", staged["ApiFunction", True]),
            Subject("baseline, no bytecode", "bare_api", staged["ApiFunction", False]),
        ]

        def accepted(subject: Subject, response: dict[str, Any]) -> None:
            if response.get("statusCode") != 202:
                raise RuntimeError(f"{subject.label}: POST /process/ answered {response}")

        api = cold_starts(
            api_subjects,
            args.runs,
            lambda _: PROCESS_EVENT,
            accepted,
            api_env,
            memory["ApiFunction"],
        )

        worker_env = aws.environment(template, "WorkerFunction")
        worker_subjects = [
            Subject("project, bytecode", "app.worker.handler", staged["WorkerFunction", True]),
            Subject("project, no bytecode", "app.worker.handler", staged["WorkerFunction", False]),
            Subject("baseline, bytecode", "bare_batch", staged["WorkerFunction", True]),
            Subject("baseline, no bytecode", "bare_batch", staged["WorkerFunction", False]),
        ]

        def new_batch(subject: Subject) -> Path:
            return worker_event(aws, worker_env, root / "batch.json")

        def all_done(subject: Subject, response: dict[str, Any]) -> None:
            if response != {"batchItemFailures": []}:
                raise RuntimeError(f"{subject.label}: the batch answered {response}")

        worker = cold_starts(
            worker_subjects, args.runs, new_batch, all_done, worker_env, memory["WorkerFunction"]
        )
        warm = warm_invokes(api_env, args.iterations, args.warmup)

    api_memory, worker_memory = memory["ApiFunction"], memory["WorkerFunction"]
    report += [
        "",
        f"(a) API: Init + first POST /process/, {args.runs} fresh processes per row, alternating;"
        f" modelled at MemorySize {api_memory} MB as Init CPU + invoke CPU x {FULL_VCPU_MB} /"
        f" {api_memory}; ratios to the baseline without bytecode (bytecode: {shipped})",
        *indent(cold_table(api, "baseline, no bytecode", api_memory)),
        "    project (bytecode) / baseline (no bytecode): "
        + verdict(
            ratio(api, "project, bytecode", "baseline, no bytecode", api_memory),
            API_GOAL_NO_BYTECODE,
        ),
        "    project (bytecode) / baseline (bytecode):    "
        + verdict(
            ratio(api, "project, bytecode", "baseline, bytecode", api_memory), API_GOAL_BYTECODE
        ),
        "    first-invoke CPU, project / baseline (bytecode): "
        + verdict(
            invoke_ratio(api, "project, bytecode", "baseline, bytecode"), API_FIRST_INVOKE_GOAL
        ),
        "",
        f"(b) worker: Init + first batch of {BATCH_SIZE} process_file tasks, {args.runs} fresh"
        f" processes per row; modelled at MemorySize {worker_memory} MB",
        *indent(cold_table(worker, "baseline, no bytecode", worker_memory)),
        "    project (bytecode) / baseline (bytecode):    "
        + verdict(
            ratio(worker, "project, bytecode", "baseline, bytecode", worker_memory), WORKER_GOAL
        ),
        "    project (no bytecode) / baseline (no bytecode): "
        + verdict(
            ratio(worker, "project, no bytecode", "baseline, no bytecode", worker_memory),
            WORKER_GOAL,
        ),
        "",
        f"(c) API warm invoke: GET /health in this process, {args.iterations} each after"
        f" {args.warmup} warm-up, alternating",
        f"    {'':<20}{'project':>10}{'baseline':>10}{'ratio':>8}",
        *indent(warm_rows(warm["project"], warm["baseline"])),
        "",
        f"(d) deployment packages (unzipped; Lambda's limit is {LAMBDA_UNZIPPED_LIMIT_MB} MiB)",
        *indent(
            f"{function_id:<20}{tree_megabytes(build / function_id):>8.1f} MiB"
            for function_id in ("ApiFunction", "WorkerFunction")
        ),
    ]
    print("\n".join(report))


def warm_rows(project: list[float], baseline: list[float]) -> list[str]:
    rows = []
    for label, statistic in (
        ("median us/call", statistics.median),
        ("mean us/call", statistics.fmean),
    ):
        p, b = statistic(project) * 1e6, statistic(baseline) * 1e6
        rows.append(f"{label:<20}{p:>10.0f}{b:>10.0f}{p / b:>8.2f}")
    return rows


if __name__ == "__main__":
    main()
