"""An internal Lambda extension that holds each invocation open until its work is done.

Lambda freezes the environment once the runtime and every registered extension wait in
``/next``. This thread registers for INVOKE at import time (registration closes at the
runtime's first ``/next``) and, per invocation, calls ``/next`` again only when the work the
handler handed off has finished, or just before the deadline, cancelling what is left. It marks
each INVOKE it receives as seen, so the handler returns early only for invokes it holds; a 403
on ``/next`` (the registration is gone, e.g. not carried over a SnapStart restore) ends it.
"""

import http.client
import json
import threading
import time
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from aws_lambda_powertools import Logger

from app.lambda_runtime.handoff import Handoffs

logger = Logger(child=True)

API_VERSION = "2020-01-01"


class ExtensionRegistrationError(RuntimeError):
    """The Extensions API refused the registration (for example, after init)."""


class ExtensionLost(RuntimeError):
    """The Extensions API no longer knows this extension (its registration did not survive)."""


class PostResponseExtension:
    def __init__(
        self, runtime_api: str, handoffs: Handoffs, *, name: str, deadline_margin: float
    ) -> None:
        self._runtime_api = runtime_api
        self._handoffs = handoffs
        self._name = name
        self._margin = deadline_margin
        self._identifier = ""
        self._alive = False

    @property
    def alive(self) -> bool:
        """Registered, and its thread still follows events."""
        return self._alive

    def register(self) -> None:
        status, headers, body = self._request(
            "POST",
            f"/{API_VERSION}/extension/register",
            {"Lambda-Extension-Name": self._name},
            json.dumps({"events": ["INVOKE"]}).encode(),
        )
        if status != 200:
            raise ExtensionRegistrationError(f"register answered {status}: {body.decode()[:500]}")
        self._identifier = headers["lambda-extension-identifier"]

    def start(self) -> None:
        self._alive = True
        threading.Thread(target=self._run, name=f"extension-{self._name}", daemon=True).start()

    def _run(self) -> None:
        while True:
            # Never let this loop die: without it every invocation would run to its timeout.
            try:
                event = self._next_event()
                if event.get("eventType") == "INVOKE":
                    self._handoffs.mark_seen(event["requestId"])
                    self._hold_until_done(event["requestId"], event["deadlineMs"] / 1000)
            except ExtensionLost as lost:
                # Registration closes at Init, so there is no registering again: from here on
                # the handler finishes background work before it responds.
                self._alive = False
                logger.error(
                    "post-response extension is no longer registered; background tasks now "
                    "run before each response",
                    extra={"reason": str(lost)},
                )
                return
            except Exception:
                logger.exception("post-response extension error; continuing")
                time.sleep(0.05)

    def _hold_until_done(self, request_id: str, deadline: float) -> None:
        def budget() -> float:
            return max(deadline - time.time() - self._margin, 0.0)

        try:
            # The handler hands off at the latest at deadline - margin; allow it half the
            # margin to arrive, so that a late hand-off is not mistaken for a missing one.
            work = self._handoffs.take(request_id, budget() + self._margin / 2)
        except TimeoutError:
            logger.warning("handler never handed off its work", extra={"request_id": request_id})
            return
        if work is None:
            return
        try:
            work.result(timeout=budget())
        except FutureTimeout:
            work.cancel()
            logger.error(
                "post-response work cancelled at the invocation deadline",
                extra={"request_id": request_id},
            )
        except CancelledError:
            pass
        except Exception:
            logger.exception("post-response work failed", extra={"request_id": request_id})

    def _next_event(self) -> dict[str, Any]:
        status, _, body = self._request(
            "GET",
            f"/{API_VERSION}/extension/event/next",
            {"Lambda-Extension-Identifier": self._identifier},
        )
        if status == 403:
            raise ExtensionLost(f"event/next answered 403: {body.decode()[:500]}")
        if status != 200:
            raise RuntimeError(f"event/next answered {status}: {body.decode()[:500]}")
        event: dict[str, Any] = json.loads(body)
        return event

    def _request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        # No timeout: /next blocks, by design, for as long as the environment is idle.
        connection = http.client.HTTPConnection(self._runtime_api)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return (
                response.status,
                {key.lower(): value for key, value in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()
