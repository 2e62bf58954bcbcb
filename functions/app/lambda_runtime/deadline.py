"""Cancel work left over from an invocation at that invocation's deadline, on the loop itself.

Used where no extension holds the invoke (Lambda Managed Instances): the environment is never
frozen and later invokes overlap with this one's work, so each invocation carries its own
deadline rather than the environment's.
"""

import asyncio
import time
from concurrent.futures import Future
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(child=True)

# The loop keeps only weak references to its tasks.
_guards: set[asyncio.Task[None]] = set()


async def _guard(work: Future[Any], deadline: float, request_id: str) -> None:
    waiter = asyncio.wrap_future(work)
    done, _ = await asyncio.wait([waiter], timeout=max(deadline - time.time(), 0))
    if not done:
        work.cancel()
        logger.error(
            "post-response work cancelled at the invocation deadline",
            extra={"request_id": request_id},
        )


def cancel_at_deadline(
    loop: asyncio.AbstractEventLoop, work: Future[Any], deadline: float, request_id: str
) -> None:
    """Cancel ``work`` at ``deadline`` (epoch seconds) unless it has finished by then."""

    def start() -> None:
        task = loop.create_task(_guard(work, deadline, request_id))
        _guards.add(task)
        task.add_done_callback(_guards.discard)

    loop.call_soon_threadsafe(start)
