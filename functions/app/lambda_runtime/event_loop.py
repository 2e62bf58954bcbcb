"""One asyncio loop for the life of the execution environment, in a daemon thread.

Requests and their background work run on it, so work left over from one invocation keeps
running (while the extension holds the environment) after the handler has returned.
"""

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

from starlette.types import ASGIApp, Message


class BackgroundLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="asgi-loop", daemon=True)
        self._thread.start()
        # Lambda never runs this (it discards frozen environments); a test run or a local
        # process does, and pending tasks must end before the interpreter tears down.
        atexit.register(self.close)

    def close(self) -> None:
        if self.loop.is_closed() or not self.loop.is_running():
            return
        # Best effort at exit: there is nobody left to report a failure to.
        with contextlib.suppress(Exception):
            self.submit(_cancel_pending()).result(timeout=2)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=2)
        if not self._thread.is_alive():
            self.loop.close()

    def submit[T](self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)


# The loop holds only weak references to its tasks. The lifespan task waits forever on an
# Event nothing else references, so without this set the garbage collector would destroy it
# ("Task was destroyed but it is pending!") and, by closing the coroutine, run the app's
# lifespan shutdown code (closing clients and pools) while the environment is still serving.
_lifespan_tasks: set[asyncio.Future[None]] = set()


async def _cancel_pending() -> None:
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


class LifespanStartupFailed(RuntimeError):
    """The app's lifespan startup reported failure; the environment cannot serve."""


async def start_lifespan(app: ASGIApp) -> dict[str, Any]:
    """Run the app's lifespan startup once and return its state for every request's scope.

    Shutdown is never sent: an internal extension cannot subscribe to SHUTDOWN, and Lambda
    freezes and later discards the environment. An app without lifespan support gets {}.
    """
    state: dict[str, Any] = {}
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    sent_startup = False

    async def receive() -> Message:
        nonlocal sent_startup
        if not sent_startup:
            sent_startup = True
            return {"type": "lifespan.startup"}
        await asyncio.Event().wait()  # no shutdown message ever comes
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if started.done():
            return
        if message["type"] == "lifespan.startup.complete":
            started.set_result(None)
        elif message["type"] == "lifespan.startup.failed":
            started.set_exception(LifespanStartupFailed(message.get("message", "")))

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
    lifespan = asyncio.ensure_future(app(scope, receive, send))
    _lifespan_tasks.add(lifespan)
    lifespan.add_done_callback(_lifespan_tasks.discard)
    await asyncio.wait([started, lifespan], return_when=asyncio.FIRST_COMPLETED)
    if started.done():
        started.result()
        return state
    if lifespan.exception() is not None:
        return {}  # the app does not speak lifespan, like Mangum's "auto" mode
    return state
