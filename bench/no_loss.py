"""The no-loss run at full size: 1,000 tasks, 10% failing transiently, 1% always failing.

Run: ``make bench`` or ``PYTHONPATH=functions:. python -m bench.no_loss [--tasks N]``.
Prints the counts (accepted = succeeded + dead must hold) and the throughput through the
local stack (moto's server on loopback, two pollers, the real worker handler).
"""

import argparse
import os

# As on Lambda, the Powertools settings are in the environment before the app is imported.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "bench")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")

from tests.e2e import no_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=1000)
    total = parser.parse_args().tasks
    outcome = no_loss.run(total)
    print(f"no-loss run: {total} tasks, 10% transient failures, 1% permanent failures")
    print(f"  accepted                 {outcome.accepted}")
    print(f"  succeeded                {outcome.succeeded}")
    print(f"  dead                     {outcome.dead} (always-failing: {outcome.always_failing})")
    print(f"  unfinished               {outcome.unfinished}")
    print(f"  in dead-letter queue     {outcome.in_dead_letter_queue}")
    print(f"  effects twice / missing  {outcome.effects_twice} / {outcome.effects_missing}")
    print(f"  accepted = succeeded + dead: {outcome.accepted == outcome.succeeded + outcome.dead}")
    print(f"  no loss: {outcome.no_loss}")
    print(f"  wall time {outcome.seconds:.1f} s, throughput {total / outcome.seconds:.1f} tasks/s")


if __name__ == "__main__":
    main()
