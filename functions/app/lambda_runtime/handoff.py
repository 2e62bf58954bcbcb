"""Hand-off of each invocation's unfinished work from the handler to the extension thread.

Keyed by request id, never an unkeyed queue: the extension may see an INVOKE before or after
the handler returns, and an invocation that fails early must not shift later ones out of step.
"""

import threading
import time
from concurrent.futures import Future
from typing import Any

Work = Future[Any] | None


class Handoffs:
    """request id → the rest of that invocation's ASGI call (None when nothing is left)."""

    def __init__(self) -> None:
        self._work: dict[str, Work] = {}
        self._abandoned: set[str] = set()
        self._changed = threading.Condition()

    def put(self, request_id: str, work: Work) -> None:
        with self._changed:
            if request_id in self._abandoned:
                # The extension stopped waiting for this one (deadline); nobody will take it.
                self._abandoned.discard(request_id)
                if work is not None:
                    work.cancel()
                return
            self._work[request_id] = work
            self._changed.notify_all()

    def take(self, request_id: str, timeout: float) -> Work:
        """Wait up to ``timeout`` seconds for the handler's hand-off of ``request_id``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while request_id not in self._work:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._abandoned.add(request_id)
                    raise TimeoutError(f"no hand-off for request {request_id}")
                self._changed.wait(remaining)
            return self._work.pop(request_id)
