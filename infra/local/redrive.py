"""``make redrive``: the redrive tool, pointed at the running local stack unless told otherwise.

With TASK_QUEUE_URL set, the environment's AWS is used as it is (a deployed stack). Without
it, the queues and table are the ones ``python -m infra.local`` created from the template on
127.0.0.1:LOCAL_AWS_PORT (4566), with the local stack's fake credentials and region.
"""

import os
import sys

from infra.local.resources import planned_physical
from infra.local.template import function_environment, load_template


def local_environment(port: str) -> dict[str, str]:
    endpoint = f"http://127.0.0.1:{port}"
    template = load_template()
    environment = function_environment(
        template, "WorkerFunction", planned_physical(template, endpoint_url=endpoint)
    )
    return {
        "TASK_QUEUE_URL": environment["TASK_QUEUE_URL"],
        "DEAD_LETTER_QUEUE_URL": environment["DEAD_LETTER_QUEUE_URL"],
        "TASK_TABLE_NAME": environment["TASK_TABLE_NAME"],
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def main(argv: list[str] | None = None) -> int:
    if not os.environ.get("TASK_QUEUE_URL"):
        port = os.environ.get("LOCAL_AWS_PORT", "4566")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        os.environ.update(local_environment(port))
        if not _listening(int(port)):
            sys.stderr.write(
                f"error: no local stack on 127.0.0.1:{port}: start it with `make run` (or set "
                "LOCAL_AWS_PORT); to redrive a deployed stack, set TASK_QUEUE_URL, "
                "DEAD_LETTER_QUEUE_URL and TASK_TABLE_NAME\n"
            )
            return 2
    from app.tasks import redrive

    return redrive.main(argv)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
