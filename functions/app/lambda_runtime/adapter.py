"""A Mangum-based Lambda handler that returns as soon as the response is complete.

Plain Mangum returns when the whole ASGI call is over, so the client waits for every
BackgroundTask (fastapi#1233). Here the handler returns once the app has sent its last body
chunk; the rest of the call (background tasks, dependency teardown, middleware tails) runs
on in the background loop, and the internal extension keeps the environment thawed until it
is done or the deadline nears. Off Lambda (no AWS_LAMBDA_RUNTIME_API) nothing can hold the
environment, so the handler waits for everything, exactly like plain Mangum.
"""

import os
import threading
from concurrent.futures import Future
from typing import Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES, HANDLERS
from mangum.protocols.http import HTTPCycle, HTTPCycleState
from mangum.types import ASGI, LambdaConfig, LambdaHandler, Message, Response
from mangum.types import LambdaContext as MangumContext
from starlette.types import ASGIApp

from app.lambda_runtime.event_loop import BackgroundLoop, start_lifespan
from app.lambda_runtime.extension import PostResponseExtension
from app.lambda_runtime.handoff import Handoffs

logger = Logger(child=True)

EXTENSION_NAME = "post-response-tasks"


class UnsupportedEventError(TypeError):
    """The API function was invoked with something that is not an API Gateway HTTP event."""


class _ResponseCycle(HTTPCycle):
    """Mangum's HTTP cycle, signalling the moment the response body is complete."""

    def __init__(self, scope: dict[str, Any], body: bytes) -> None:
        super().__init__(scope, body)
        self.finished = threading.Event()

    async def send(self, message: Message) -> None:
        await super().send(message)
        if self.state is HTTPCycleState.COMPLETE:
            self.finished.set()

    def response(self) -> Response:
        return {"status": self.status, "headers": self.headers, "body": self.body}


class PostResponseHandler:
    """``handler(event, context)`` for an ASGI app on Lambda, with post-response work."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_gateway_base_path: str = "/",
        deadline_margin: float = 0.5,
    ) -> None:
        self._app = cast(ASGI, app)
        self._config = LambdaConfig(
            api_gateway_base_path=api_gateway_base_path,
            text_mime_types=[*DEFAULT_TEXT_MIME_TYPES],
            exclude_headers=[],
        )
        self._margin = deadline_margin
        self._loop = BackgroundLoop()
        # Once per environment, not per invocation as Mangum's lifespan does.
        self._state = self._loop.submit(start_lifespan(app)).result()
        self._handoffs: Handoffs | None = None
        runtime_api = os.environ.get("AWS_LAMBDA_RUNTIME_API")
        if runtime_api:
            self._start_extension(runtime_api)

    @property
    def post_response(self) -> bool:
        """True when work after the response is held open by the extension."""
        return self._handoffs is not None

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        rest: Future[None] | None = None
        try:
            handler = self._infer(event, context)
            scope = {**handler.scope, **_stage_prefix(event), "state": self._state.copy()}
            cycle = _ResponseCycle(scope, handler.body)
            rest = self._loop.submit(cycle.run(self._app))
            rest.add_done_callback(lambda _: cycle.finished.set())
            budget = context.get_remaining_time_in_millis() / 1000 - self._margin
            if self.post_response:
                cycle.finished.wait(max(budget, 0))
            else:
                _wait_quietly(rest, budget)
                if not rest.done():
                    # Nothing holds the environment open after we return: stop it here
                    # rather than let it resume, half done, in some later invocation.
                    rest.cancel()
                    logger.error("work past the function timeout cancelled")
            if cycle.state is not HTTPCycleState.COMPLETE:
                rest.cancel()
                logger.error("no response before the function timeout; request cancelled")
                return handler(_timeout_response())
            return handler(cycle.response())
        finally:
            if self._handoffs is not None:
                pending = rest if rest is not None and not rest.done() else None
                self._handoffs.put(context.aws_request_id, pending)

    def _infer(self, event: dict[str, Any], context: LambdaContext) -> LambdaHandler:
        if not isinstance(event, dict):
            raise UnsupportedEventError(
                f"expected an API Gateway event object, got {type(event).__name__}"
            )
        mangum_context = cast(MangumContext, context)
        for handler_class in HANDLERS:  # Mangum's own event shapes, in Mangum's order
            if handler_class.infer(event, mangum_context, self._config):
                return handler_class(event, mangum_context, self._config)
        keys = ", ".join(sorted(event)[:10]) or "none"
        raise UnsupportedEventError(
            "this function serves API Gateway HTTP events (HTTP API v2 or REST v1 proxy); "
            f"the event it got has top-level keys: {keys}"
        )

    def _start_extension(self, runtime_api: str) -> None:
        handoffs = Handoffs()
        extension = PostResponseExtension(
            runtime_api, handoffs, name=EXTENSION_NAME, deadline_margin=self._margin
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
        self._handoffs = handoffs


def _stage_prefix(event: dict[str, Any]) -> dict[str, Any]:
    """A REST API's default endpoint puts the stage before the path (/Prod/docs); Mangum drops it.

    Serving it as the ASGI root_path lets the app build links that work from the client's
    side: the docs page's /openapi.json, the Location of a queued task.
    """
    context = event.get("requestContext") or {}
    stage, full_path, path = context.get("stage"), context.get("path"), event.get("path")
    if event.get("version") == "2.0" or not (stage and full_path and path):
        return {}
    prefix = f"/{stage}"
    if full_path != prefix + path:
        return {}  # a custom domain: no stage in the client's URL
    return {"root_path": prefix, "path": prefix + path, "raw_path": None}


def _wait_quietly(future: Future[None], timeout: float) -> None:
    try:
        future.result(timeout=max(timeout, 0))
    except Exception:
        return  # Mangum's cycle already logged it and produced the 500, if any.


def _timeout_response() -> Response:
    return {
        "status": 504,
        "headers": [[b"content-type", b"application/json"]],
        "body": b'{"detail":"the request did not complete before the function timeout"}',
    }
