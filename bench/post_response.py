"""How long a client waits for a response with and without a 1 s BackgroundTask.

Runs the seed app under the real awslambdaric against the Lambda API emulator twice in one go:
wrapped in this project's PostResponseHandler, and in plain Mangum (the baseline). For each it
invokes ``POST /slow/1`` (one 1 s background task) and ``POST /items/`` (no task), interleaved,
``--runs`` times each, and prints medians from the emulator's clock:

* response: dispatch of the invoke to the runtime's ``/response`` (what API Gateway waits for);
* ratio: response with the 1 s task / response without (the project aims at most 1.1);
* response → release: until the runtime and extension are back in ``/next`` (billed time that
  keeps the environment busy, but that no client waits for).

Usage, from the repository root::

    PYTHONPATH=functions:. python -m bench.post_response [--runs 7]

Timings vary with the machine; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.runtime.emulator import InvokeResult, LambdaEmulator
from tests.runtime.process import REPO_ROOT, run_function

EVENT = REPO_ROOT / "infra" / "events" / "ApiFunction" / "send-notification.json"
FUNCTIONS = {
    "project (PostResponseHandler)": "tests.runtime.fixtures.seed_app.handler",
    "plain Mangum": "tests.runtime.fixtures.plain_mangum_app.handler",
}
WITH_TASK = "/slow/1"
WITHOUT_TASK = "/items/"
GOAL_RATIO = 1.1


@dataclass
class Timings:
    response_with_task: list[float]
    response_without_task: list[float]
    release_with_task: list[float]
    release_without_task: list[float]


def http_event(path: str) -> dict[str, Any]:
    """The HTTP API (v2) sample event, re-targeted at ``POST path``."""
    event: dict[str, Any] = copy.deepcopy(json.loads(EVENT.read_text()))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


def invoke(emulator: LambdaEmulator, path: str) -> tuple[float, float]:
    """(response, response → release) in seconds for one invoke of ``POST path``."""
    result: InvokeResult = emulator.invoke(http_event(path))
    if result.error is not None or result.payload.get("statusCode") != 200:
        raise RuntimeError(f"{path} failed: {result.error or result.payload}")
    released = result.wait_released(timeout=30)
    return result.responded_at - result.dispatched_at, released - result.responded_at


def measure(handler: str, runs: int, log: Path) -> Timings:
    timings = Timings([], [], [], [])
    env = {
        "SEED_LOG": str(log),
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    with run_function(handler, env, function_timeout=30) as (emulator, _):
        # Warm up both routes, so that both series measure warm requests alike.
        for path in (WITH_TASK, WITHOUT_TASK):
            invoke(emulator, path)
        for _ in range(runs):  # interleaved, so drift affects both routes alike
            response, release = invoke(emulator, WITH_TASK)
            timings.response_with_task.append(response)
            timings.release_with_task.append(release)
            response, release = invoke(emulator, WITHOUT_TASK)
            timings.response_without_task.append(response)
            timings.release_without_task.append(release)
    return timings


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def report(results: dict[str, Timings], runs: int) -> str:
    header = (
        f"{'':31}{'response ms':>13}{'response ms':>13}{'ratio':>9}"
        f"{'resp→release ms':>17}{'resp→release ms':>17}"
    )
    subheader = f"{'':31}{'1 s task':>13}{'no task':>13}{'':>9}{'1 s task':>17}{'no task':>17}"
    lines = [
        f"Seed app under awslambdaric, medians of {runs} runs each"
        f" ({WITH_TASK} vs {WITHOUT_TASK}); ratio goal for the project: <= {GOAL_RATIO}",
        "",
        header,
        subheader,
    ]
    for name, t in results.items():
        ratio = ms(t.response_with_task) / ms(t.response_without_task)
        lines.append(
            f"{name:31}{ms(t.response_with_task):13.1f}{ms(t.response_without_task):13.1f}"
            f"{ratio:9.2f}{ms(t.release_with_task):17.1f}{ms(t.release_without_task):17.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="invokes per route (default 7)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-post-response-") as tmp:
        results = {
            name: measure(handler, args.runs, Path(tmp) / f"log-{index}.txt")
            for index, (name, handler) in enumerate(FUNCTIONS.items())
        }
    print(report(results, args.runs))


if __name__ == "__main__":
    main()
