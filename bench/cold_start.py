"""Cold start and warm invoke of the project's handlers against bare ones, in one run.

Run: ``PYTHONPATH=functions:. python -m bench.cold_start [--runs 15] [--iterations 2000]``.

* API import: a fresh interpreter per sample imports ``app.api.handler`` (which builds the
  FastAPI app and the PostResponseHandler) or the baseline ``bench.baselines.hello_mangum``
  (bare FastAPI + ``Mangum(app)`` with one ``GET /health``), alternating, with the environment
  Lambda would give the function: template variables from infra/env.json, region, fake
  credentials, ``AWS_LAMBDA_FUNCTION_NAME`` and the like, but no ``AWS_LAMBDA_RUNTIME_API`` (no
  extension is registered). The same process then times its first ``GET /health`` invoke, the
  rest of what a client waits for on a cold start.
* API warm invoke: both handlers in this process, ``GET /health``
  (infra/events/ApiFunction/health.json) alternately, after a warm-up.
* Worker import: ``app.worker.handler`` against ``bench.baselines.bare_batch`` (Powertools
  ``BatchProcessor`` + ``process_partial_response``, no-op record handler), as for the API.
* Package size: the unzipped size of each function built by ``scripts/sam-build <arch>``.

Prints medians and ratios against the baselines measured in the same run; nothing here
passes or fails on timing. Interpreter start-up is outside every import figure. Wall-clock
medians swing with whatever else the machine runs; the CPU-time row much less.

The functions measured are those PYTHONPATH points at: ``PYTHONPATH=/elsewhere/functions:.``
measures another copy (an older checkout, say) against the same baselines.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
_APP_SPEC = importlib.util.find_spec("app")  # finds, does not import
# The functions/ that PYTHONPATH points at (Lambda's /var/task).
FUNCTIONS_DIR = (
    Path(_APP_SPEC.origin).resolve().parent.parent
    if _APP_SPEC is not None and _APP_SPEC.origin is not None
    else REPO_ROOT / "functions"
)
ENV_FILE = REPO_ROOT / "infra" / "env.json"
HEALTH_EVENT = REPO_ROOT / "infra" / "events" / "ApiFunction" / "health.json"
BUILD_ARCHITECTURES = ("x86_64", "arm64")
FUNCTIONS = ("ApiFunction", "WorkerFunction")
MEMORY_MB = {"ApiFunction": 512, "WorkerFunction": 1024}  # template.yaml
LAMBDA_UNZIPPED_LIMIT_MB = 250

API_IMPORT_GOAL = 1.15
API_INVOKE_GOAL = 1.2
WORKER_IMPORT_GOAL = 1.2

# Runs in the fresh interpreter: import the handler's module, then (given an event file) invoke
# it once. The context is a plain class so that the baseline does not import Powertools for it.
PROBE = """
import sys, time
started, started_cpu = time.perf_counter(), time.process_time()
module = __import__(sys.argv[1], fromlist=["handler"])
imported, imported_cpu = time.perf_counter() - started, time.process_time() - started_cpu
first = -1.0
if len(sys.argv) > 2:
    import json
    with open(sys.argv[2]) as file:
        event = json.load(file)
    class Context:
        function_name = "bench"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        memory_limit_in_mb = 512
        aws_request_id = "c0ffee00-0000-4000-8000-000000000000"
        log_group_name = "/aws/lambda/bench"
        log_stream_name = "2026/11/27/[$LATEST]0123456789abcdef"
        identity = None
        client_context = None
        tenant_id = None
        def get_remaining_time_in_millis(self):
            return 30000
    started = time.perf_counter()
    response = module.handler(event, Context())
    first = time.perf_counter() - started
    assert response["statusCode"] == 200, response
print("bench-probe", imported, imported_cpu, first)
"""


def lambda_environment(function: str) -> dict[str, str]:
    """What Lambda sets for ``function`` (less the Runtime API), plus this repo's path."""
    template_variables: dict[str, str] = json.loads(ENV_FILE.read_text())[function]
    name = f"bench-{function}"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join([str(FUNCTIONS_DIR), str(REPO_ROOT)]),
        "LAMBDA_TASK_ROOT": str(FUNCTIONS_DIR),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB[function]),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/27/[$LATEST]0123456789abcdef",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        **template_variables,
    }


@dataclass
class ColdSamples:
    imports: list[float] = field(default_factory=list)
    import_cpu: list[float] = field(default_factory=list)
    first_invokes: list[float] = field(default_factory=list)

    def until_first_response(self) -> list[float]:
        return [i + f for i, f in zip(self.imports, self.first_invokes, strict=True)]


def probe(
    module: str, environment: dict[str, str], event: Path | None
) -> tuple[float, float, float]:
    """(import s, import CPU s, first invoke s or -1) in a fresh interpreter."""
    command = [sys.executable, "-c", PROBE, module, *([str(event)] if event else [])]
    done = subprocess.run(
        command, env=environment, cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{done.stderr[-3000:]}")
    # The handler may log to stdout too; the probe's own line is tagged.
    line = next(line for line in done.stdout.splitlines() if line.startswith("bench-probe "))
    imported, cpu, first = line.split()[1:]
    return float(imported), float(cpu), float(first)


def cold_starts(
    modules: dict[str, str], function: str, runs: int, event: Path | None
) -> dict[str, ColdSamples]:
    environment = lambda_environment(function)
    samples = {label: ColdSamples() for label in modules}
    for module in modules.values():  # writes any missing .pyc, like a deployed package's
        probe(module, environment, event)
    for run in range(runs):
        # Alternate, and swap who goes first each round, so drift hits both alike.
        order = list(modules.items())
        if run % 2:
            order.reverse()
        for label, module in order:
            imported, cpu, first = probe(module, environment, event)
            samples[label].imports.append(imported)
            samples[label].import_cpu.append(cpu)
            samples[label].first_invokes.append(first)
    return samples


def warm_invokes(iterations: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per ``GET /health`` through each handler, in this process."""
    os.environ.update(lambda_environment("ApiFunction"))
    from app.api.handler import handler as project
    from bench.baselines.hello_mangum import handler as bare
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


def tree_megabytes(root: Path) -> float:
    if root.is_file():
        return root.stat().st_size / 2**20
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            if not path.is_symlink():
                total += path.stat().st_size
    return total / 2**20


def package_sizes() -> Iterator[str]:
    found = False
    for arch in BUILD_ARCHITECTURES:
        build = REPO_ROOT / ".aws-sam" / f"build-{arch}"
        # scripts/sam-build writes the stamp once a build has finished.
        state = "" if (build / ".sam-build-stamp").is_file() else "  (unfinished build: no stamp)"
        for function in FUNCTIONS:
            built = build / function
            if not built.is_dir():
                continue
            found = True
            entries = {entry.name: tree_megabytes(entry) for entry in built.iterdir()}
            largest = sorted(entries.items(), key=lambda item: -item[1])[:3]
            yield (
                f"{function + ' (' + arch + ')':<28}{sum(entries.values()):>7.1f} MiB unzipped"
                f" of Lambda's {LAMBDA_UNZIPPED_LIMIT_MB} MiB{state}"
            )
            yield "    largest: " + ", ".join(f"{name} {size:.1f}" for name, size in largest)
    if not found:
        yield "no build under .aws-sam/build-<arch>/; make one with"
        yield "    scripts/sam-build x86_64    (and/or: scripts/sam-build arm64)"


HEADER = f"{'':<40}{'project':>10}{'baseline':>10}{'ratio':>8}"


def row(label: str, project: float, baseline: float, digits: int = 1) -> str:
    return f"{label:<40}{project:>10.{digits}f}{baseline:>10.{digits}f}{project / baseline:>8.2f}"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def cold_rows(project: ColdSamples, baseline: ColdSamples, with_invoke: bool) -> list[str]:
    rows = [
        HEADER,
        row(
            "import + construction, median ms",
            median_ms(project.imports),
            median_ms(baseline.imports),
        ),
        row("  fastest run, ms", min(project.imports) * 1000, min(baseline.imports) * 1000),
        row(
            "  CPU time (less load-prone), median ms",
            median_ms(project.import_cpu),
            median_ms(baseline.import_cpu),
        ),
    ]
    if with_invoke:
        rows.append(
            row(
                "first GET /health invoke, median ms",
                median_ms(project.first_invokes),
                median_ms(baseline.first_invokes),
            )
        )
        rows.append(
            row(
                "import + first invoke, median ms",
                median_ms(project.until_first_response()),
                median_ms(baseline.until_first_response()),
            )
        )
    return rows


def warm_rows(project: list[float], baseline: list[float]) -> list[str]:
    return [
        HEADER,
        row(
            "median us/call", statistics.median(project) * 1e6, statistics.median(baseline) * 1e6, 0
        ),
        row("mean us/call", statistics.fmean(project) * 1e6, statistics.fmean(baseline) * 1e6, 0),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per handler")
    parser.add_argument("--iterations", type=int, default=2000, help="warm invokes per handler")
    parser.add_argument("--warmup", type=int, default=200, help="warm invokes before timing")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.iterations < 1 or args.warmup < 0:
        parser.error("--runs and --iterations must be at least 1, --warmup at least 0")

    api = cold_starts(
        {"project": "app.api.handler", "baseline": "bench.baselines.hello_mangum"},
        "ApiFunction",
        args.runs,
        HEALTH_EVENT,
    )
    worker = cold_starts(
        {"project": "app.worker.handler", "baseline": "bench.baselines.bare_batch"},
        "WorkerFunction",
        args.runs,
        None,
    )
    warm = warm_invokes(args.iterations, args.warmup)

    report = [
        f"functions measured: {FUNCTIONS_DIR}",
        "",
        f"(a) API cold start: a fresh process x {args.runs} each, alternating; goal <= "
        f"{API_IMPORT_GOAL}",
        "    app.api.handler vs bare FastAPI + Mangum (bench/baselines/hello_mangum.py)",
        *indent(cold_rows(api["project"], api["baseline"], with_invoke=True)),
        "",
        f"(b) API warm invoke: GET /health in this process, {args.iterations} each after "
        f"{args.warmup} warm-up, alternating; goal <= {API_INVOKE_GOAL}",
        *indent(warm_rows(warm["project"], warm["baseline"])),
        "",
        f"(c) worker cold start: a fresh process x {args.runs} each, alternating; goal <= "
        f"{WORKER_IMPORT_GOAL}",
        "    app.worker.handler vs bare Powertools batch (bench/baselines/bare_batch.py)",
        *indent(cold_rows(worker["project"], worker["baseline"], with_invoke=False)),
        "",
        "(d) deployment packages (scripts/sam-build output)",
        *indent(package_sizes()),
    ]
    print("\n".join(report))


def indent(lines: Iterable[str]) -> list[str]:
    return ["    " + line for line in lines]


if __name__ == "__main__":
    main()
