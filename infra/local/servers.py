"""The local stack's two servers, on listening sockets bound before anything starts.

Binding both ports first is what makes a busy port fail fast: moto's ThreadedMotoServer
waits forever for a server thread that died on "Address already in use", and uvicorn only
finds out after the banner. Each server is then handed its already-bound socket.
"""

from __future__ import annotations

import errno
import socket
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer


class PortInUse(Exception):
    """A port the local stack needs is taken; says which variable picks another."""

    def __init__(self, host: str, port: int, variable: str) -> None:
        super().__init__(
            f"port {port} on {host} is already in use (another `make run`?): "
            f"stop what holds it, or choose a free port with {variable}=<port>"
        )
        self.port = port
        self.variable = variable


def listen(host: str, port: int, variable: str) -> socket.socket:
    """A socket listening on ``host:port``; ``variable`` is the setting named if it is busy.

    SO_REUSEADDR, as both servers set it themselves, so a port left in TIME_WAIT by the
    previous run is not reported as busy.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(host, port, variable) from None
        raise
    return sock


def bound_port(sock: socket.socket) -> int:
    """The port a socket listens on (the one the system chose, for port 0)."""
    port: int = sock.getsockname()[1]
    return port


class MotoServer:
    """moto's server app (what ThreadedMotoServer runs), behind S3's POST policy check, on a
    socket that is already bound."""

    def __init__(self, sock: socket.socket) -> None:
        # Imported here: moto takes a while to import, and a busy port is reported first.
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from infra.local.post_policy import PostPolicyCheck

        host, port = sock.getsockname()[:2]
        # S3 refuses a POST upload its signed policy does not allow (MaxUploadBytes); moto
        # does not check, so the local stack does it in front.
        app: Any = PostPolicyCheck(DomainDispatcherApplication(create_backend_app))
        # werkzeug duplicates the descriptor; the caller keeps and closes its own socket.
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=MotoRequestHandler, fd=sock.fileno()
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
