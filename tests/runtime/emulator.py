"""In-process emulator of the AWS Lambda Runtime API (2018-06-01) and Extensions API (2020-01-01).

Tests start a real `awslambdaric` process against it, so the wire format follows what that client
(and its native aws-lambda-cpp/libcurl core) sends and expects:

* `/next` replies carry the event as the body and the invoke metadata as headers; the
  ``Content-Type`` must be exactly ``application/json`` or awslambdaric hands the handler raw bytes.
* The native client keeps one HTTP/1.1 connection alive for next/response/error, so every reply
  is HTTP/1.1 with a ``Content-Length``.
* The native client posts ``/error`` *without* ``Lambda-Runtime-Function-Error-Type`` (only
  ``lambda-runtime-function-xray-error-cause``); the error type is then taken from the JSON body.

Lifecycle model (AWS documented behaviour): an invoke is dispatched only once the runtime and every
registered extension wait in their ``/next``; it is released once each of them has called ``/next``
again after receiving it. Extension registration closes at the runtime's first ``/next``. With a
``Sandbox`` attached (the runtime process), the emulator also acts on the process as Lambda does:

* it freezes the process (SIGSTOP) while every participant waits in ``/next`` with nothing to do,
  and thaws it (SIGCONT) to dispatch the next invoke;
* at an invoke's deadline, if the runtime or an extension is still busy, it kills the process; the
  caller gets ``Sandbox.Timedout`` if no response had been posted, and the next invoke starts a
  fresh process with a new Init (Lambda's "suppressed init"). A runtime that exits mid-invoke
  resets the environment the same way, with ``Runtime.ExitError``.

Payloads follow Lambda's limits: an invoke over 6 MB is refused (``RequestTooLargeException``), a
``/response`` over 6 MB + 100 bytes gets 413 and the caller a ``Function.ResponseSizeTooLarge``.

Two platform modes: ``max_concurrency`` models Lambda Managed Instances (several runtime workers
each calling ``/next``, invokes overlapping, never frozen, internal extensions may subscribe to no
event); ``snapstart`` serves ``/runtime/restore/next``, where awslambdaric waits after its
before-snapshot hooks, until ``restore()`` (the after-restore hooks then run).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import select
import socket
import socketserver
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Protocol, Self

_log = logging.getLogger(__name__)

_RUNTIME = "/2018-06-01/runtime"
_EXTENSION = "/2020-01-01/extension"

# Lambda's own cap on extensions per function (RIE core.MaxAgentsAllowed).
MAX_EXTENSIONS = 10
KNOWN_EVENTS = frozenset({"INVOKE", "SHUTDOWN"})
# Events an internal extension (a thread of the runtime process) may subscribe to: it dies with the
# runtime, so Lambda never sends it SHUTDOWN.
INTERNAL_EXTENSION_EVENTS = frozenset({"INVOKE"})

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

# Invoke API: "Request must be smaller than 6291456 bytes for the InvokeFunction operation".
MAX_INVOKE_PAYLOAD = 6 * 1024 * 1024
# Runtime API (RIE interop.MaxPayloadSize): 6 MiB + 100 bytes.
MAX_RESPONSE_PAYLOAD = 6 * 1024 * 1024 + 100


class Sandbox(Protocol):
    """The runtime process, as far as the emulator acts on it (freeze, thaw, kill, re-init)."""

    def suspend(self) -> None: ...
    def resume(self) -> None: ...
    def kill(self) -> None: ...
    def start(self) -> None: ...
    @property
    def returncode(self) -> int | None: ...


class RequestTooLargeError(ValueError):
    """The Invoke API refused the payload (HTTP 413 ``RequestTooLargeException``)."""

    status = 413
    error_type = "RequestTooLargeException"


class InitError(RuntimeError):
    """The runtime or an extension reported an init error (`/init/error`)."""

    def __init__(self, errors: list[RecordedError]) -> None:
        self.errors = errors
        super().__init__(
            "function init failed: "
            + "; ".join(f"{e.source} {e.error_type}: {e.body!r}" for e in errors)
        )


@dataclass(frozen=True)
class RecordedError:
    """An error posted by the runtime (init) or by an extension (init/exit)."""

    source: str  # "runtime" or the extension's name
    kind: str  # "init" or "exit"
    error_type: str | None  # the *-Function-Error-Type header, if sent
    body: Any  # parsed JSON body, raw text if not JSON, None if empty


@dataclass(frozen=True)
class RejectedRegistration:
    """A `/extension/register` call that was refused."""

    name: str | None
    events: Any
    status: int
    error_type: str
    error_message: str


@dataclass(eq=False)
class _Invocation:
    request_id: str
    body: bytes
    dispatched_at: float | None = None
    deadline_at: float | None = None  # monotonic
    deadline_ms: int = 0  # epoch ms, as sent in Lambda-Runtime-Deadline-Ms
    trace_id: str = ""
    responded_at: float | None = None
    payload: Any = None
    error: dict[str, Any] | None = None
    error_type: str | None = None
    released_at: float | None = None
    released: threading.Event = field(default_factory=threading.Event)
    killed: bool = False  # the environment was reset during this invoke
    reset_reason: str | None = None  # Sandbox.Timedout or Runtime.ExitError

    def timed_out(self) -> bool:
        """Dispatched, and the response or the release missed (or is now past) the deadline."""
        if self.reset_reason == "Sandbox.Timedout":
            return True
        if self.deadline_at is None:
            return False
        late = [t for t in (self.responded_at, self.released_at) if t is not None]
        pending = self.responded_at is None or self.released_at is None
        return any(t > self.deadline_at for t in late) or (
            pending and time.monotonic() > self.deadline_at
        )


@dataclass
class InvokeResult:
    """What the caller of an invoke sees, plus lifecycle timestamps (all `time.monotonic()`)."""

    request_id: str
    payload: Any  # parsed JSON of /response (text if not JSON); None for errors
    error: dict[str, Any] | None  # JSON body posted to /error
    error_type: str | None
    dispatched_at: float
    responded_at: float
    deadline_ms: int
    _invocation: _Invocation = field(repr=False, compare=False)

    @property
    def released_at(self) -> float | None:
        return self._invocation.released_at

    @property
    def timed_out(self) -> bool:
        """True if the response or the release did not happen by the deadline."""
        return self._invocation.timed_out()

    @property
    def killed(self) -> bool:
        """True if the environment was reset during this invoke (deadline or runtime exit)."""
        return self._invocation.killed

    def wait_released(self, timeout: float) -> float:
        """Block until the runtime and all extensions are back in `/next`; return released_at."""
        if not self._invocation.released.wait(timeout):
            raise TimeoutError(
                f"invoke {self.request_id} was not released within {timeout:.1f}s: the runtime or"
                " an extension has not called /next again"
            )
        released = self._invocation.released_at
        assert released is not None
        return released


@dataclass(eq=False)
class _Participant:
    """The runtime or one extension; each takes part in every invoke through its `/next`."""

    name: str
    receives_invoke: bool
    next_calls: int = 0
    waiting: bool = False
    # Dispatched to this participant but not yet picked up from its /next.
    mailbox: _Invocation | None = None
    # Picked up; cleared when the participant calls /next again.
    holding: _Invocation | None = None
    # Dropped by a reset or a restore: its pending /next ends without a reply.
    evicted: bool = False


@dataclass(eq=False)
class _Extension(_Participant):
    identifier: str = ""
    events: list[str] = field(default_factory=list)


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def _json_reply(status: int, obj: object, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(obj).encode(), headers or {})


def _error_reply(status: int, error_type: str, message: str) -> _Reply:
    return _json_reply(status, {"errorMessage": message, "errorType": error_type})


_ACCEPTED = _json_reply(202, {"status": "OK"})


def _parse_body(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


def _trace_id() -> str:
    return (
        f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
        f"Parent={secrets.token_hex(8)};Sampled=0"
    )


def _peer_closed(sock: socket.socket) -> bool:
    """True if the client hung up (readable with EOF) while we were holding its request."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class LambdaEmulator:
    """Runtime + Extensions API server for one execution environment. Use as a context manager."""

    def __init__(
        self,
        *,
        function_timeout: float = 10.0,
        function_name: str = "test-function",
        handler: str = "",
        registration_open: bool = True,
        max_concurrency: int | None = None,
        snapstart: bool = False,
    ) -> None:
        self.function_timeout = function_timeout
        self.max_concurrency = max_concurrency
        self.snapstart = snapstart
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.handler = handler
        self.function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.runtime_api = ""
        self.init_errors: list[RecordedError] = []
        self.extension_errors: list[RecordedError] = []
        self.rejected_registrations: list[RejectedRegistration] = []
        self._cond = threading.Condition()
        self._initial_registration_open = registration_open
        self._registration_open = registration_open
        self.sandbox: Sandbox | None = None
        self.inits = 1  # Init phases so far (a kill at the deadline means a new one)
        self._frozen = False
        self.freezes = 0
        self._needs_init = False
        # SnapStart: None before the snapshot, False while snapshotted, True once restored.
        self._restored: bool | None = None
        self._restoring = False
        self._lmi_waiting = 0
        self._watchdog: threading.Thread | None = None
        self._runtime = _Participant("runtime", receives_invoke=True)
        self._extensions: dict[str, _Extension] = {}
        self._pending: deque[_Invocation] = deque()
        self._current: _Invocation | None = None
        self._invocations: dict[str, _Invocation] = {}
        self._stopping = False
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        server = _Server(self)
        port = server.server_address[1]
        self.runtime_api = f"127.0.0.1:{port}"
        self._server = server
        self._serve_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"lambda-emulator-{port}",
            daemon=True,
        )
        self._serve_thread.start()
        self._watchdog = threading.Thread(
            target=self._watch_deadlines, name=f"lambda-emulator-deadlines-{port}", daemon=True
        )
        self._watchdog.start()

    def attach(self, sandbox: Sandbox) -> None:
        """Act on ``sandbox`` as Lambda acts on the runtime process: freeze, thaw, kill, re-init."""
        self.sandbox = sandbox

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        with self._cond:
            self._stopping = True
            self._thaw()
            self._cond.notify_all()
        server.shutdown()
        # Keep-alive clients hold connections open between requests; close them so the handler
        # threads (blocked in readline or in a /next wait) exit now rather than at interpreter exit.
        server.close_connections(timeout=5.0)
        server.server_close()
        if self._serve_thread is not None:
            self._serve_thread.join(timeout=5.0)
        if self._watchdog is not None:
            self._watchdog.join(timeout=5.0)
        self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- observations ------------------------------------------------------------------------

    @property
    def extensions(self) -> list[str]:
        """Names of the registered extensions, in registration order."""
        with self._cond:
            return [ext.name for ext in self._extensions.values()]

    @property
    def timed_out_invokes(self) -> list[str]:
        """Request ids of dispatched invokes whose response or release missed the deadline."""
        with self._cond:
            return [i.request_id for i in self._invocations.values() if i.timed_out()]

    @property
    def frozen(self) -> bool:
        """The process is stopped (SIGSTOP), as Lambda freezes an idle environment."""
        with self._cond:
            return self._frozen

    @property
    def registration_open(self) -> bool:
        with self._cond:
            return self._registration_open

    # -- caller side -------------------------------------------------------------------------

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until init is done: the runtime and every extension have called `/next`.

        Raises InitError as soon as an init error is posted, TimeoutError otherwise.
        """
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._stopping or bool(self._init_failures()) or self._is_ready(), timeout
            )
            if failures := self._init_failures():
                raise InitError(failures)
            if self._stopping:
                raise RuntimeError("emulator stopped")
            if not ok:
                raise TimeoutError(f"function not ready after {timeout:.1f}s: {self._describe()}")

    def invoke(self, event: object, *, timeout: float = 30.0) -> InvokeResult:
        """Queue an invoke and block until the runtime posts its response or error."""
        if self._server is None:
            raise RuntimeError("emulator not started")
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        if len(body) > MAX_INVOKE_PAYLOAD:
            raise RequestTooLargeError(
                f"Request must be smaller than {MAX_INVOKE_PAYLOAD} bytes for the"
                " InvokeFunction operation"
            )
        self._reinit_if_needed()
        inv = _Invocation(request_id=str(uuid.uuid4()), body=body)
        deadline = time.monotonic() + timeout
        with self._cond:
            self._invocations[inv.request_id] = inv
            self._pending.append(inv)
            self._advance()
            while inv.responded_at is None:
                if self._stopping:
                    raise RuntimeError(f"emulator stopped before invoke {inv.request_id} finished")
                if inv.dispatched_at is None and (failures := self._init_failures()):
                    self._pending.remove(inv)
                    raise InitError(failures)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    dispatched = inv.dispatched_at is not None
                    if not dispatched:
                        self._pending.remove(inv)
                    raise TimeoutError(
                        f"invoke {inv.request_id} got no /response or /error within"
                        f" {timeout:.1f}s (dispatched: {dispatched}); {self._describe()}"
                    )
                self._cond.wait(remaining)
            assert inv.dispatched_at is not None
            return InvokeResult(
                request_id=inv.request_id,
                payload=inv.payload,
                error=inv.error,
                error_type=inv.error_type,
                dispatched_at=inv.dispatched_at,
                responded_at=inv.responded_at,
                deadline_ms=inv.deadline_ms,
                _invocation=inv,
            )

    # -- state machine (all called with self._cond held) -------------------------------------

    def _participants(self) -> list[_Participant]:
        return [self._runtime, *self._extensions.values()]

    def _is_ready(self) -> bool:
        if self.max_concurrency is not None:
            return self._lmi_waiting >= self.max_concurrency
        if self.snapstart and self._restored is False:
            # Snapshotted: the runtime waits in /restore/next, every extension in /next.
            return all(p.waiting for p in self._extensions.values())
        return all(p.next_calls > 0 for p in self._participants())

    # -- the process: freeze, thaw, kill, re-init ------------------------------------------------

    def _freeze_if_idle(self) -> None:
        if (
            self.sandbox is None
            or self._frozen
            or self.max_concurrency is not None
            or self._current is not None
            or self._pending
            or self._stopping
            or self._restoring
            or not self._is_ready()
            or not all(p.waiting and p.mailbox is None for p in self._extensions.values())
            or not (self._runtime.waiting or self._restored is False)
        ):
            return
        self.sandbox.suspend()
        self._frozen = True
        self.freezes += 1

    def _thaw(self) -> None:
        if self._frozen and self.sandbox is not None:
            self.sandbox.resume()
        self._frozen = False

    def _watch_deadlines(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                cur = self._current
                if cur is not None and self.max_concurrency is None:
                    if cur.deadline_at is not None and time.monotonic() > cur.deadline_at:
                        self._reset(
                            cur,
                            "Sandbox.Timedout",
                            f"Task timed out after {self.function_timeout:.2f} seconds",
                        )
                    elif self.sandbox is not None and self.sandbox.returncode is not None:
                        self._reset(
                            cur,
                            "Runtime.ExitError",
                            f"RequestId: {cur.request_id} Error: Runtime exited with error:"
                            f" exit status {self.sandbox.returncode}",
                        )
                self._cond.wait(0.02)

    def _reset(self, inv: _Invocation, error_type: str, message: str) -> None:
        """The invoke cannot end normally (timeout, runtime exit): the sandbox goes."""
        _log.warning("invoke %s: %s; resetting the environment", inv.request_id, error_type)
        if self.sandbox is not None:
            self.sandbox.kill()
        self._frozen = False
        now = time.monotonic()
        if inv.responded_at is None:
            inv.error = {"errorType": error_type, "errorMessage": message}
            inv.error_type = error_type
            inv.responded_at = now
        inv.killed = True
        inv.reset_reason = error_type
        inv.released_at = now
        inv.released.set()
        for p in self._participants():
            p.evicted = True
        self._current = None
        self._runtime = _Participant("runtime", receives_invoke=True)
        self._extensions = {}
        self._registration_open = self._initial_registration_open
        self._needs_init = self.sandbox is not None
        self._cond.notify_all()

    def _reinit_if_needed(self) -> None:
        with self._cond:
            if not self._needs_init or self.sandbox is None:
                return
            self._needs_init = False
            self.inits += 1
        self.sandbox.start()

    def _init_failures(self) -> list[RecordedError]:
        return self.init_errors + [e for e in self.extension_errors if e.kind == "init"]

    def _describe(self) -> str:
        not_waiting = [p.name for p in self._participants() if not p.waiting]
        return (
            f"runtime /next calls: {self._runtime.next_calls}; not waiting in /next: {not_waiting};"
            f" pending invokes: {len(self._pending)};"
            f" current: {self._current.request_id if self._current else None};"
            f" init errors: {self._init_failures()}"
        )

    def _advance(self) -> None:
        """Release the current invoke and dispatch the next one when the rules allow it."""
        if self.max_concurrency is not None:
            self._cond.notify_all()
            return
        now = time.monotonic()
        cur = self._current
        if cur is not None and all(
            p.mailbox is not cur and p.holding is not cur for p in self._participants()
        ):
            cur.released_at = now
            cur.released.set()
            self._current = None
            if cur.timed_out():
                _log.warning("invoke %s missed its deadline", cur.request_id)
        if (
            self._current is None
            and self._pending
            and all(p.waiting and p.mailbox is None for p in self._participants())
        ):
            inv = self._pending.popleft()
            inv.dispatched_at = now
            inv.deadline_at = now + self.function_timeout
            inv.deadline_ms = int((time.time() + self.function_timeout) * 1000)
            inv.trace_id = _trace_id()
            self._current = inv
            self._thaw()
            for p in self._participants():
                if p.receives_invoke:
                    p.mailbox = inv
        self._freeze_if_idle()
        self._cond.notify_all()

    def _await_event(self, p: _Participant, sock: socket.socket) -> _Invocation | None:
        """Body of a `/next`: mark p as back, then block until an invoke is dispatched to it.

        Returns None when the emulator stops or the client hangs up.
        """
        with self._cond:
            p.next_calls += 1
            p.holding = None
            p.waiting = True
            if p is self._runtime and self._registration_open:
                self._registration_open = False
            self._advance()
            while p.mailbox is None:
                if self._stopping or p.evicted or _peer_closed(sock):
                    p.waiting = False
                    return None
                # Timed wait so a client that disconnects (e.g. a killed process) is noticed.
                self._cond.wait(0.2)
            inv = p.mailbox
            p.mailbox = None
            p.holding = inv
            p.waiting = False
            return inv

    # -- Runtime API -------------------------------------------------------------------------

    def _runtime_next(self, sock: socket.socket) -> _Reply | None:
        if self.max_concurrency is not None:
            inv = self._await_any_invoke(sock)
        else:
            inv = self._await_event(self._runtime, sock)
        if inv is None:
            return None
        return _Reply(
            200,
            inv.body,
            {
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
                "Lambda-Runtime-Trace-Id": inv.trace_id,
            },
        )

    def _await_any_invoke(self, sock: socket.socket) -> _Invocation | None:
        """Managed Instances: each runtime worker's /next takes the oldest pending invoke."""
        with self._cond:
            self._registration_open = False
            self._lmi_waiting += 1
            self._cond.notify_all()
            try:
                while not self._pending:
                    if self._stopping or _peer_closed(sock):
                        return None
                    self._cond.wait(0.2)
                inv = self._pending.popleft()
                now = time.monotonic()
                inv.dispatched_at = now
                inv.deadline_at = now + self.function_timeout
                inv.deadline_ms = int((time.time() + self.function_timeout) * 1000)
                inv.trace_id = _trace_id()
                return inv
            finally:
                self._lmi_waiting -= 1
                self._cond.notify_all()

    def _runtime_result(
        self, request_id: str, body: bytes, error_type_header: str | None, *, is_error: bool
    ) -> _Reply:
        with self._cond:
            inv = self._invocations.get(request_id)
            if inv is None or inv.dispatched_at is None:
                return _error_reply(400, "InvalidRequestID", f"Invalid request ID: {request_id}")
            concurrent = self.max_concurrency is not None
            if inv.responded_at is not None or not (concurrent or inv is self._current):
                return _error_reply(
                    403, "InvalidStateTransition", f"Invoke {request_id} already has a result"
                )
            if not is_error and len(body) > MAX_RESPONSE_PAYLOAD:
                # As Lambda: the runtime gets 413, the caller a function error.
                inv.error = {
                    "errorType": "Function.ResponseSizeTooLarge",
                    "errorMessage": f"Response payload size ({len(body)} bytes) exceeded maximum"
                    f" allowed payload size ({MAX_RESPONSE_PAYLOAD} bytes).",
                }
                inv.error_type = "Function.ResponseSizeTooLarge"
                self._respond(inv)
                return _error_reply(
                    413,
                    "RequestEntityTooLarge",
                    f"Exceeded maximum allowed payload size ({MAX_RESPONSE_PAYLOAD} bytes).",
                )
            if is_error:
                parsed = _parse_body(body)
                inv.error = parsed if isinstance(parsed, dict) else {"body": parsed}
                body_type = inv.error.get("errorType")
                inv.error_type = error_type_header or (
                    body_type if isinstance(body_type, str) else None
                )
            else:
                inv.payload = _parse_body(body)
            self._respond(inv)
        return _ACCEPTED

    def _respond(self, inv: _Invocation) -> None:
        inv.responded_at = time.monotonic()
        if self.max_concurrency is not None:
            # No extension takes part in an invoke there: the response ends it.
            inv.released_at = inv.responded_at
            inv.released.set()
        self._cond.notify_all()

    # -- SnapStart ---------------------------------------------------------------------------

    def _restore_next(self, sock: socket.socket) -> _Reply | None:
        """The runtime's wait after its before-snapshot hooks: the snapshot is taken here."""
        with self._cond:
            self._registration_open = False
            if self._restored is None:
                self._restored = False
            self._advance()
            self._freeze_if_idle()
            # After a reset Lambda restores the snapshot again; here the new Init stands in.
            while not self._restored:
                if self._stopping or _peer_closed(sock):
                    return None
                self._cond.wait(0.2)
            self._restoring = False
        return _Reply(200, b"")

    def restore(self, *, keep_extensions: bool = True) -> None:
        """Resume the snapshotted environment; awslambdaric then runs its after-restore hooks.

        ``keep_extensions=False`` models a restore that does not carry the extensions'
        registrations over: their pending ``/next`` ends without a reply, and the Extensions
        API no longer knows their identifiers (403).
        """
        with self._cond:
            if self._restored is not False:
                raise RuntimeError("nothing to restore: no snapshot has been taken")
            self._thaw()
            if not keep_extensions:
                for ext in self._extensions.values():
                    ext.evicted = True
                self._extensions = {}
            self._restored = True
            self._restoring = True
            self._cond.notify_all()

    def _restore_error(self, body: bytes, error_type: str | None) -> _Reply:
        with self._cond:
            self.init_errors.append(
                RecordedError("runtime", "restore", error_type, _parse_body(body))
            )
            self._cond.notify_all()
        return _ACCEPTED

    def _runtime_init_error(self, body: bytes, error_type: str | None) -> _Reply:
        with self._cond:
            self.init_errors.append(RecordedError("runtime", "init", error_type, _parse_body(body)))
            self._cond.notify_all()
        return _ACCEPTED

    # -- Extensions API ----------------------------------------------------------------------

    def _register(self, name: str | None, body: bytes) -> _Reply:
        events, error = self._validate_registration(name, body)
        if error is None:
            assert name is not None
            return self._register_valid(name, events)
        # Lambda answers every refused registration with 403 (RIE RenderForbiddenWithTypeMsg).
        with self._cond:
            self.rejected_registrations.append(RejectedRegistration(name, events, 403, *error))
        return _error_reply(403, *error)

    def _validate_registration(
        self, name: str | None, body: bytes
    ) -> tuple[Any, tuple[str, str] | None]:
        """Return (events, None) for a well-formed request, else (events, (errorType, message))."""
        try:
            request = json.loads(body) if body else {}
        except ValueError as exc:
            return None, ("InvalidRequestFormat", f"Invalid JSON body: {exc}")
        events = request.get("events") if isinstance(request, dict) else None
        if not name:
            return events, ("Extension.InvalidExtensionName", "Empty extension name")
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            return events, ("InvalidRequestFormat", "'events' must be a list of strings")
        if self.max_concurrency is not None and events:
            return events, (
                "Extension.InvalidEventType",
                "No events allowed for internal extensions",
            )
        for event in events:
            if event not in KNOWN_EVENTS:
                return events, ("Extension.InvalidEventType", f"{event}: unknown event type")
            # Every registration comes from inside the function process here, i.e. from an
            # internal extension, and those may not subscribe to SHUTDOWN.
            if event not in INTERNAL_EXTENSION_EVENTS:
                return events, (
                    "Extension.InvalidEventType",
                    f"{event}: internal extensions cannot register for {event}",
                )
        return events, None

    def _register_valid(self, name: str, events: list[str]) -> _Reply:
        with self._cond:
            if not self._registration_open:
                error = ("Extension.RegistrationClosed", "Extension registration closed already")
            elif any(ext.name == name for ext in self._extensions.values()):
                error = (
                    "Extension.InvalidExtensionState",
                    "Extension with this name already registered",
                )
            elif len(self._extensions) >= MAX_EXTENSIONS:
                error = (
                    "Extension.TooManyExtensions",
                    f"Extension limit ({MAX_EXTENSIONS}) reached",
                )
            else:
                identifier = str(uuid.uuid4())
                self._extensions[identifier] = _Extension(
                    name, receives_invoke="INVOKE" in events, identifier=identifier, events=events
                )
                self._cond.notify_all()
                return _json_reply(
                    200,
                    {
                        "functionName": self.function_name,
                        "functionVersion": self.function_version,
                        "handler": self.handler,
                    },
                    {"Lambda-Extension-Identifier": identifier},
                )
            self.rejected_registrations.append(
                RejectedRegistration(name, events, 403, error[0], error[1])
            )
        return _error_reply(403, *error)

    def _find_extension(self, identifier: str | None) -> _Extension | _Reply:
        if not identifier:
            return _error_reply(
                403, "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier"
            )
        with self._cond:
            ext = self._extensions.get(identifier)
        if ext is None:
            return _error_reply(
                403, "Extension.UnknownExtensionIdentifier", f"Unknown extension {identifier}"
            )
        return ext

    def _extension_next(self, identifier: str | None, sock: socket.socket) -> _Reply | None:
        ext = self._find_extension(identifier)
        if isinstance(ext, _Reply):
            return ext
        inv = self._await_event(ext, sock)
        if inv is None:
            return None
        return _json_reply(
            200,
            {
                "eventType": "INVOKE",
                "deadlineMs": inv.deadline_ms,
                "requestId": inv.request_id,
                "invokedFunctionArn": self.function_arn,
                "tracing": {"type": "X-Amzn-Trace-Id", "value": inv.trace_id},
            },
            {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())},
        )

    def _extension_error(
        self, kind: str, identifier: str | None, error_type: str | None, body: bytes
    ) -> _Reply:
        ext = self._find_extension(identifier)
        if isinstance(ext, _Reply):
            return ext
        with self._cond:
            self.extension_errors.append(
                RecordedError(ext.name, kind, error_type, _parse_body(body))
            )
            self._cond.notify_all()
        return _ACCEPTED

    # -- routing -----------------------------------------------------------------------------

    def _route(self, method: str, path: str, req: _Handler) -> _Reply | None:
        for want, name, pattern in _ROUTES:
            m = pattern.fullmatch(path)
            if m is None:
                continue
            if method != want:
                return _error_reply(405, "MethodNotAllowed", f"{method} not allowed on {path}")
            header = req.headers.get
            match name:
                case "runtime-next":
                    return self._runtime_next(req.connection)
                case "runtime-result":
                    is_error = m["kind"] == "error"
                    return self._runtime_result(
                        m["id"],
                        req.body,
                        header("Lambda-Runtime-Function-Error-Type") if is_error else None,
                        is_error=is_error,
                    )
                case "runtime-init-error":
                    return self._runtime_init_error(
                        req.body, header("Lambda-Runtime-Function-Error-Type")
                    )
                case "runtime-restore-next":
                    return self._restore_next(req.connection)
                case "runtime-restore-error":
                    return self._restore_error(
                        req.body, header("Lambda-Runtime-Function-Error-Type")
                    )
                case "extension-register":
                    return self._register(header("Lambda-Extension-Name"), req.body)
                case "extension-next":
                    return self._extension_next(
                        header("Lambda-Extension-Identifier"), req.connection
                    )
                case "extension-error":
                    return self._extension_error(
                        m["kind"],
                        header("Lambda-Extension-Identifier"),
                        header("Lambda-Extension-Function-Error-Type"),
                        req.body,
                    )
            raise AssertionError(f"unhandled route {name}")
        return _error_reply(404, "NotFound", f"No such endpoint: {method} {path}")


_ROUTES: list[tuple[str, str, re.Pattern[str]]] = [
    ("GET", "runtime-next", re.compile(f"{_RUNTIME}/invocation/next")),
    (
        "POST",
        "runtime-result",
        re.compile(f"{_RUNTIME}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)"),
    ),
    ("POST", "runtime-init-error", re.compile(f"{_RUNTIME}/init/error")),
    ("GET", "runtime-restore-next", re.compile(f"{_RUNTIME}/restore/next")),
    ("POST", "runtime-restore-error", re.compile(f"{_RUNTIME}/restore/error")),
    ("POST", "extension-register", re.compile(f"{_EXTENSION}/register")),
    ("GET", "extension-next", re.compile(f"{_EXTENSION}/event/next")),
    ("POST", "extension-error", re.compile(f"{_EXTENSION}/(?P<kind>init|exit)/error")),
]


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so keep-alive clients (libcurl in awslambdaric) reuse the connection; every reply
    # therefore carries Content-Length.
    protocol_version = "HTTP/1.1"
    # Buffer the status line, headers and body into one send (flushed by handle_one_request) and
    # disable Nagle: written separately, the body would wait for the client's delayed ACK (~40 ms).
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _Server
    body: bytes = b""

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        # Always consume the body first so the next request on this connection parses cleanly.
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        _log.debug("%s %s headers=%s", method, path, dict(self.headers))
        reply = self.server.emulator._route(method, path, self)
        if reply is None:
            # Emulator stopping or the client left: drop the connection without a reply.
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


class _Server(socketserver.TCPServer):
    """TCP server with one thread per connection, all of which can be closed and joined."""

    allow_reuse_address = False
    daemon_threads = True

    def __init__(self, emulator: LambdaEmulator) -> None:
        self.emulator = emulator
        self._conn_lock = threading.Lock()
        self._connections: dict[threading.Thread, socket.socket] = {}
        # Port 0: the OS picks a free ephemeral port; only loopback is ever bound.
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        assert isinstance(request, socket.socket)
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), daemon=True
        )
        with self._conn_lock:
            self._connections[thread] = request
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            # Typically a client that disconnected mid-reply; not the emulator's concern.
            _log.debug("connection from %s failed", client_address, exc_info=True)
        finally:
            self.shutdown_request(request)
            with self._conn_lock:
                self._connections.pop(threading.current_thread(), None)

    def close_connections(self, timeout: float) -> None:
        with self._conn_lock:
            live = dict(self._connections)
        for sock in live.values():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in live:
            thread.join(max(0.0, deadline - time.monotonic()))
