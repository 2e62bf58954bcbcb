"""A Mangum-based Lambda handler that returns as soon as the response is complete.

Plain Mangum returns when the whole ASGI call is over, so the client waits for every
BackgroundTask (fastapi#1233). Here the handler returns once the app has sent its last body
chunk; the rest of the call (background tasks, dependency teardown, middleware tails) runs
on in the background loop. What keeps it running depends on the platform (``platform.py``):

* standard Lambda: the internal extension holds the invoke open until the work is done or the
  deadline nears; the handler returns early only for an invoke the extension has received;
* Lambda Managed Instances: nothing is frozen, so the work simply carries on in the process,
  each invocation cancelled at its own deadline;
* off Lambda, or with no extension: the handler waits for everything, exactly like Mangum.
"""

import base64
import binascii
import contextlib
import gc
import json
import random
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES, HANDLERS
from mangum.types import ASGI, LambdaConfig, LambdaHandler, Response
from mangum.types import LambdaContext as MangumContext
from starlette.types import ASGIApp

from app.event_sources import SERVED_HTTP, UnsupportedEventError, describe, http_request_source
from app.lambda_runtime import platform, snapstart
from app.lambda_runtime.cycle import ResponseCycle
from app.lambda_runtime.deadline import cancel_at_deadline
from app.lambda_runtime.event_loop import BackgroundLoop, start_lifespan
from app.lambda_runtime.extension import PostResponseExtension
from app.lambda_runtime.handoff import Handoffs
from app.lambda_runtime.platform import Platform
from app.lambda_runtime.prefixes import normalize_base_path, prefix_scope
from app.lambda_runtime.warmup import warm

logger = Logger(child=True)

EXTENSION_NAME = "post-response-tasks"
# How long a finished response waits for the extension to have received its INVOKE. Normally
# it has long before; if not (say, its registration did not survive a SnapStart restore),
# Lambda would freeze the environment the moment the handler returns.
EXTENSION_ACK_SECONDS = 1.0

__all__ = ["PostResponseHandler", "UnsupportedEventError"]


class InvalidRequestBody(ValueError):
    """The event's body cannot be the request's bytes: it claims base64 but is not, or is
    not text at all (a hand-made event)."""


class PostResponseHandler:
    """``handler(event, context)`` for an ASGI app on Lambda, with post-response work."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        base_path: str | Callable[[], str] = "",
        deadline_margin: float = 0.5,
        warm_path: str | None = None,
        after_restore: Callable[[], None] | None = None,
    ) -> None:
        self._app = cast(ASGI, app)
        # Mangum would strip the base path from the path; it stays, as the root_path instead.
        # A callable is asked at each request, as the app reads its other settings.
        self._base_path = base_path if callable(base_path) else (lambda: base_path)
        self._config = LambdaConfig(
            api_gateway_base_path="/",
            text_mime_types=[*DEFAULT_TEXT_MIME_TYPES],
            exclude_headers=[],
        )
        self._margin = deadline_margin
        self._after_restore_hook = after_restore
        self._loop = BackgroundLoop()
        # Once per environment, not per invocation as Mangum's lifespan does.
        self._state = self._loop.submit(start_lifespan(app)).result()
        if warm_path is not None:
            # At Init (a whole vCPU; with SnapStart, before the snapshot): the first client's
            # request then finds the app's code paths, anyio's threads and imports warm.
            self._loop.submit(warm(self._app, warm_path, self._state)).result(timeout=60)
            logger.info("warmed at Init", extra={"warm_path": warm_path})
        self._handoffs = Handoffs()
        self._extension: PostResponseExtension | None = None
        self.platform = platform.detect()
        if self.platform is Platform.STANDARD:
            self._start_extension()
        if platform.is_snapstart():
            snapstart.register(self._before_snapshot, self._after_restore)

    @property
    def post_response(self) -> bool:
        """True when work may go on after the response has been returned."""
        if self.platform is Platform.MANAGED_INSTANCES:
            return True
        return self._extension is not None and self._extension.alive

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        rest: Future[None] | None = None
        held = False
        try:
            handler = self._infer(event, context)
            try:
                body = _request_body(event)
            except InvalidRequestBody as error:
                return handler(_error_response(400, str(error)))
            scope = handler.scope
            base_path = normalize_base_path(self._base_path())
            prefix = prefix_scope(event, scope["path"], base_path)
            cycle = ResponseCycle({**scope, **prefix, "state": self._state.copy()}, body)
            deadline = time.time() + context.get_remaining_time_in_millis() / 1000
            # Copied into the request's task, so its background work logs its own request id
            # even while later invokes run (Managed Instances).
            logger.thread_safe_append_keys(function_request_id=context.aws_request_id)
            rest = self._loop.submit(cycle.run(self._app))
            if not cycle.finished.wait(_budget(deadline, self._margin)):
                rest.cancel()
                logger.error("no response before the function timeout; request cancelled")
                return handler(
                    _error_response(504, "the request did not complete before the function timeout")
                )
            if not rest.done():
                held = self._continue_after_response(rest, deadline, context.aws_request_id)
                if not held:
                    self._finish_inline(rest, deadline)
            return handler(cycle.response())
        finally:
            if self._extension is not None and self._extension.alive:
                pending = rest if held and rest is not None and not rest.done() else None
                self._handoffs.put(context.aws_request_id, pending)

    def _continue_after_response(
        self, rest: Future[None], deadline: float, request_id: str
    ) -> bool:
        """Whether the rest may run on after the response; arranges its deadline if so."""
        if self.platform is Platform.MANAGED_INSTANCES:
            cancel_at_deadline(self._loop.loop, rest, deadline - self._margin, request_id)
            return True
        if self._extension is None or not self._extension.alive:
            return False
        wait = min(EXTENSION_ACK_SECONDS, _budget(deadline, self._margin))
        if self._handoffs.wait_seen(request_id, wait):
            return True
        logger.warning(
            "the post-response extension did not receive this invoke; its background work "
            "runs before the response",
            extra={"request_id": request_id},
        )
        return False

    def _finish_inline(self, rest: Future[None], deadline: float) -> None:
        # The cycle logged the app's error, if any; a timeout is handled below.
        with contextlib.suppress(Exception):
            rest.result(timeout=_budget(deadline, self._margin))
        if not rest.done():
            # Nothing holds the environment open after we return: stop it here rather than
            # let it resume, half done, in some later invocation.
            rest.cancel()
            logger.error("work past the function timeout cancelled")

    def _infer(self, event: dict[str, Any], context: LambdaContext) -> LambdaHandler:
        # Mangum would also answer a Lambda@Edge event (in a shape CloudFront refuses), an
        # authorizer's event as a request, and fail on VPC Lattice's: those are refused here.
        if http_request_source(event) is None:
            raise UnsupportedEventError(
                f"this function serves {SERVED_HTTP}; it got {describe(event)}"
            )
        mangum_context = cast(MangumContext, context)
        for handler_class in HANDLERS:  # Mangum's own event shapes, in Mangum's order
            if handler_class.infer(event, mangum_context, self._config):
                return handler_class(event, mangum_context, self._config)
        raise UnsupportedEventError(f"this function serves {SERVED_HTTP}; Mangum has no handler")

    def _start_extension(self) -> None:
        extension = PostResponseExtension(
            platform.runtime_api(),
            self._handoffs,
            name=EXTENSION_NAME,
            deadline_margin=self._margin,
        )
        try:
            extension.register()
        except Exception:
            logger.warning(
                "could not register the post-response extension; background tasks will "
                "run before each response is returned",
                exc_info=True,
            )
            return
        extension.start()
        self._extension = extension

    def _before_snapshot(self) -> None:
        """Make the snapshot worth restoring: code paths ran at Init (warm_path), garbage gone."""
        gc.collect()
        logger.info("ready for the SnapStart snapshot")

    def _after_restore(self) -> None:
        """Every environment restored from one snapshot starts with the same memory."""
        random.seed()  # else each copy draws the same "random" numbers
        if self._after_restore_hook is not None:
            self._after_restore_hook()
        logger.info(
            "restored from a SnapStart snapshot",
            extra={"post_response": self.post_response},
        )


def _budget(deadline: float, margin: float) -> float:
    return max(deadline - time.time() - margin, 0.0)


def _request_body(event: dict[str, Any]) -> bytes:
    """The request's bytes; strict where Mangum's b64decode would drop stray characters."""
    body = event.get("body")
    if body is None or body == "":
        return b""
    if not isinstance(body, str):
        raise InvalidRequestBody(f"the event's body is a JSON {type(body).__name__}, not text")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise InvalidRequestBody(
                "the request body is marked as base64-encoded (isBase64Encoded) but is not "
                "valid base64"
            ) from None
    # A lone surrogate cannot come from API Gateway's UTF-8; kept, the JSON reader refuses it
    # by name (app.api.json_body) rather than the encoding failing here.
    return body.encode("utf-8", "surrogatepass")


def _error_response(status: int, detail: str) -> Response:
    """An answer the adapter gives itself, where the app has given none."""
    return {
        "status": status,
        "headers": [[b"content-type", b"application/json"]],
        "body": json.dumps({"detail": detail}, separators=(",", ":")).encode(),
    }
