"""Hand-off of each invocation's unfinished work from the handler to the extension thread.

Keyed by request id, never an unkeyed queue: the extension may see an INVOKE before or after
the handler returns, and an invocation that fails early must not shift later ones out of step.
The extension also marks each INVOKE it receives as seen: only an invoke the extension has
seen is held open by Lambda, so only then may the handler return before its work is done.
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
        self._seen: set[str] = set()
        self._changed = threading.Condition()

    def mark_seen(self, request_id: str) -> None:
        """The extension received this request's INVOKE: Lambda waits for its next /next."""
        with self._changed:
            self._seen.add(request_id)
            self._changed.notify_all()

    def wait_seen(self, request_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the extension to receive ``request_id``."""
        with self._changed:
            return self._changed.wait_for(lambda: request_id in self._seen, max(timeout, 0))

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
                    self._seen.discard(request_id)
                    raise TimeoutError(f"no hand-off for request {request_id}")
                self._changed.wait(remaining)
            # The handler has decided (it checks "seen" before handing off): forget the id.
            self._seen.discard(request_id)
            return self._work.pop(request_id)
