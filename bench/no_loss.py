"""The no-loss run at full size, under injected faults (see tests/e2e/no_loss.py).

Run: ``make bench`` or ``PYTHONPATH=functions:. python -m bench.no_loss [--tasks N]``.
Prints the counts (accepted = succeeded + dead must hold), the faults injected, and the
throughput through the local stack (moto's server on loopback, two worker processes).
"""

import argparse
import os

# As on Lambda, the Powertools settings are in the environment before the app is imported.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "bench")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")

from tests.e2e import no_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=1000)
    total = parser.parse_args().tasks
    outcome = no_loss.run(total, timeout=1800)
    print(f"no-loss run under faults: {total} tasks sent")
    print(f"  accepted (incl. may-run)  {outcome.accepted} (may run: {outcome.may_run})")
    print(f"  refused                   {outcome.refused} (ran: {outcome.refused_that_ran})")
    print(f"  succeeded                 {outcome.succeeded}")
    print(f"  dead                      {outcome.dead} (planned: {outcome.expected_dead})")
    print(f"  dead before the redrive   {outcome.dead_after_first_phase}")
    print(f"  unfinished                {len(outcome.unfinished)}")
    print(f"  effects twice / missing   {outcome.effects_twice} / {outcome.effects_missing}")
    for key, attempts in outcome.doubled.items():
        print(f"    twice: {key}: attempts (key receive pid) {attempts}")
    print(f"  worker processes killed   {outcome.worker_kills}")
    print(f"  moved back by SQS redrive {outcome.redriven}")
    print("  faults injected           " + ", ".join(f"{k}={v}" for k, v in outcome.faults.items()))
    print(f"  accepted = succeeded + dead: {outcome.accepted == outcome.succeeded + outcome.dead}")
    print(f"  no loss: {outcome.no_loss}")
    print(f"  wall time {outcome.seconds:.1f} s, throughput {total / outcome.seconds:.1f} tasks/s")


if __name__ == "__main__":
    main()
