"""Mangum's HTTP cycle, telling the handler when the response is complete and how it ended."""

import asyncio
import threading
from typing import Any

from aws_lambda_powertools import Logger
from mangum.protocols.http import HTTPCycle, HTTPCycleState
from mangum.types import ASGI, Message, Response

logger = Logger(child=True)

_SERVER_ERROR: Response = {
    "status": 500,
    "headers": [[b"content-type", b"text/plain; charset=utf-8"]],
    "body": b"Internal Server Error",
}


class ResponseCycle(HTTPCycle):
    """Signals ``finished`` once the body is complete, or once the app's call has ended."""

    def __init__(self, scope: dict[str, Any], body: bytes) -> None:
        super().__init__(scope, body)
        self.finished = threading.Event()
        self.failed = False

    @property
    def complete(self) -> bool:
        return self.state is HTTPCycleState.COMPLETE

    async def run(self, app: ASGI) -> None:
        # Mangum's own run() logs *any* BaseException as an application error, so a deadline
        # cancellation used to print a CancelledError traceback (interleaved with the JSON
        # lines of other threads). A cancellation is not an app error: whoever cancelled
        # logs it, once, as a structured line. Everything else is Mangum's behaviour.
        try:
            await app(self.scope, self.receive, self.send)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failed = True
            logger.exception("the application raised an error")
            if self.state is HTTPCycleState.REQUEST:
                await self.send({**_start(_SERVER_ERROR), "type": "http.response.start"})
                await self.send({"type": "http.response.body", "body": _SERVER_ERROR["body"]})
        finally:
            self.finished.set()

    async def send(self, message: Message) -> None:
        await super().send(message)
        if self.complete:
            self.finished.set()

    def response(self) -> Response:
        """What the client gets: the app's response, or Mangum's 500 if the app broke it off."""
        if not self.complete:
            return {**_SERVER_ERROR}
        return {"status": self.status, "headers": self.headers, "body": self.body}


def _start(response: Response) -> dict[str, Any]:
    return {"status": response["status"], "headers": response["headers"]}
