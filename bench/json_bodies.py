"""What reading JSON bodies as I-JSON (app.api.json_body) costs beside plain ``json.loads``.

Run: ``make bench`` or ``PYTHONPATH=functions:. python -m bench.json_bodies``. Both parse the
same bodies in this process, best of several rounds: a typical POST /process/batch body, and
bodies near the 1 MiB limit made of integers, floats, plain strings and strings holding
``\\u`` escapes (the ones the surrogate search walks). Prints times and ratios; nothing passes
or fails.
"""

import argparse
import json
import timeit
from collections.abc import Callable
from typing import Any

from app.api.json_body import loads_strict

LIMIT = 1024 * 1024


def near_limit(item: Any) -> bytes:
    unit = len(json.dumps(item)) + 2
    return json.dumps({"file_paths": [item] * (LIMIT // unit)}).encode()


BODIES = {
    "typical batch (10 paths)": json.dumps(
        {"file_paths": [f"uploads/local/report-{n}.csv" for n in range(10)], "delay_seconds": 30}
    ).encode(),
    "1 MiB of integers": near_limit(123456),
    "1 MiB of floats": near_limit(1234.5),
    "1 MiB of strings": near_limit("uploads/local/report.csv"),
    "1 MiB of \\u-escaped strings": near_limit("caf\u00e9 \u2603 \U0001f600"),
}


def best(parse: Callable[[bytes], Any], body: bytes, rounds: int, repeat: int) -> float:
    """The fastest of ``rounds`` rounds of ``repeat`` parses, per parse (the garbage collector
    left on, as in the API: a large body's parse makes many objects)."""
    timer = timeit.Timer(lambda: parse(body), setup="gc.enable()")
    return min(timer.repeat(repeat=rounds, number=repeat)) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    print(f"{'body':30} {'bytes':>9} {'json.loads':>12} {'I-JSON':>12} {'ratio':>7}")
    for name, body in BODIES.items():
        repeat = 1 if len(body) > 10_000 else 1000  # a small body: a thousand parses, averaged
        baseline = best(json.loads, body, rounds, repeat)
        strict = best(loads_strict, body, rounds, repeat)
        print(
            f"{name:30} {len(body):9d} {baseline * 1e6:9.1f} us {strict * 1e6:9.1f} us "
            f"{strict / baseline:6.2f}x"
        )


if __name__ == "__main__":
    main()
