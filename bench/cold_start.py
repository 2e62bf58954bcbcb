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
  the same two AWS calls) or bench/baselines/bare_batch.py (Powertools BatchProcessor, clients
  made at import; per record the task's own work, as the project's ``process_file`` does it,
  and the same status write), with the same dependencies, with and without bytecode
  (compiled here, ``unchecked-hash``);
* for the worker also the earlier baseline, bench/baselines/bare_batch_status_only.py: the
  status write alone, without the task's work (bytecode).

Each worker sample is checked: every task of the batch must read ``succeeded`` afterwards.

Then the warm invoke (``GET /health`` in this process) and the size of each built function.
Medians; nothing here passes or fails on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.lambda_probe import Samples, Subject, cold_starts, has_bytecode, stage
from bench.moto_stack import BATCH_SIZE, local_aws, unfinished_tasks, worker_event
from infra.local.template import function_settings, load_template

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINES = Path(__file__).resolve().parent / "baselines"
PROCESS_EVENT = REPO_ROOT / "infra" / "events" / "ApiFunction" / "process.json"
HEALTH_EVENT = PROCESS_EVENT.with_name("health.json")
FULL_VCPU_MB = 1769  # Lambda gives a whole vCPU at 1,769 MB, proportionally less below
LAMBDA_UNZIPPED_LIMIT_MB = 250
HOST_ARCH = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"

API_GOAL_NO_BYTECODE = 0.5  # project (as built) / baseline without bytecode
API_GOAL_BYTECODE = 1.0  # project (as built) / baseline with bytecode
API_FIRST_INVOKE_GOAL = 1.5  # first-invoke CPU, project / baseline
WORKER_GOAL = 1.2
STATUS_ONLY = "status write only, bytecode"

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


def with_claims(event_file: Path) -> dict[str, Any]:
    """The sample event, carrying the claims of the owner its upload key belongs to."""
    event: dict[str, Any] = json.loads(event_file.read_text())
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": "local"}, "scopes": []}}
    return event


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
        for function_id, baselines in (
            ("ApiFunction", ["bare_api.py"]),
            ("WorkerFunction", ["bare_batch.py", "bare_batch_status_only.py"]),
        ):
            for bytecode in (True, False):
                folder = root / ("bytecode" if bytecode else "source") / function_id
                stage(build / function_id, folder, [BASELINES / b for b in baselines], bytecode)
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

        # As API Gateway's JWT authorizer hands it on: the deployed default has auth on.
        process_event = root / "process.json"
        process_event.write_text(json.dumps(with_claims(PROCESS_EVENT)))
        api = cold_starts(
            api_subjects,
            args.runs,
            lambda _: process_event,
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
            # The earlier baseline: the status write alone, without the task's own work.
            Subject(STATUS_ONLY, "bare_batch_status_only", staged["WorkerFunction", True]),
        ]

        batch = root / "batch.json"

        def new_batch(subject: Subject) -> Path:
            return worker_event(aws, worker_env, batch)

        def all_done(subject: Subject, response: dict[str, Any]) -> None:
            if response != {"batchItemFailures": []}:
                raise RuntimeError(f"{subject.label}: the batch answered {response}")
            # An empty answer also means "dead-lettered": every task must have run.
            with_result = subject.label != STATUS_ONLY
            if unfinished := unfinished_tasks(aws, worker_env, batch, with_result=with_result):
                raise RuntimeError(f"{subject.label}: tasks that did not succeed: {unfinished}")

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
        "    project (bytecode) / baseline (no bytecode, as SAM builds it): "
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
        "    project (bytecode) / baseline (no bytecode, as SAM builds it): "
        + verdict(
            ratio(worker, "project, bytecode", "baseline, no bytecode", worker_memory),
            WORKER_GOAL,
        ),
        "    project (bytecode) / baseline (bytecode):    "
        + verdict(
            ratio(worker, "project, bytecode", "baseline, bytecode", worker_memory), WORKER_GOAL
        ),
        "    project (bytecode) / status write only (bytecode, no task work): "
        + verdict(ratio(worker, "project, bytecode", STATUS_ONLY, worker_memory), WORKER_GOAL),
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
