"""A moto S3 server on ``127.0.0.1`` for tests.

moto's in-process ``mock_aws`` patches botocore's synchronous HTTP layer and
does not intercept aiobotocore's aiohttp requests, so async tests must talk to
a real moto server over HTTP.  :class:`S3Server` runs
:class:`moto.server.ThreadedMotoServer` in a background thread, bound to the
loopback interface on a free port::

    with S3Server() as s3:                 # or: async with S3Server() as s3:
        session.create_client("s3", endpoint_url=s3.endpoint_url, ...)
        ...
        s3.reset()                         # wipe all moto state

moto keeps its state in process-wide backends: every moto server (and any
``mock_aws``) in the same process shares it, and :meth:`S3Server.reset`
clears all of it.

Known limitation: moto's S3 responses carry ``Server: AmazonS3`` on top of
the ``Server`` header werkzeug always sends.  aiohttp's lenient default
parser accepts that, but its strict parser - enabled by ``python -X dev`` or
``PYTHONASYNCIODEBUG=1`` - rejects such responses ("Duplicate 'Server'
header"), so S3 calls through aiobotocore fail in those modes.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from types import TracebackType
from typing import Any

from ._loopback import LoopbackAddress

__all__ = ["S3Server"]


class S3Server(LoopbackAddress):
    """moto's server (S3 and the other moto services) on ``127.0.0.1``.

    Usable as a sync or async context manager; :meth:`start` / :meth:`stop`
    (and :meth:`astart` / :meth:`astop`) can also be called directly.  The
    async variants run the blocking start/stop in a worker thread.

    Args:
        port: TCP port; 0 (default) picks a free one, see :attr:`port`.
        region: region reported by :meth:`client_kwargs`.
    """

    def __init__(self, *, port: int = 0, region: str = "us-east-1") -> None:
        self.region = region
        self._requested_port = port
        self._server: Any = None
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Start the server thread and wait until it listens.  Idempotent.

        Raises:
            OSError: a fixed ``port`` is already in use.
        """
        if self._server is not None:
            return
        if self._requested_port:
            # ThreadedMotoServer.start() waits forever if its thread cannot
            # bind, so fail early when a fixed port is taken.
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind(("127.0.0.1", self._requested_port))
        from moto.server import ThreadedMotoServer  # heavy: imported when first needed

        server = ThreadedMotoServer(
            ip_address="127.0.0.1", port=self._requested_port, verbose=False
        )
        server.start()
        self._server = server
        self._port = server.get_host_and_port()[1]

    def stop(self) -> None:
        """Stop the server, join its thread and close its socket.  Idempotent."""
        server = self._server
        if server is None:
            return
        self._server = None
        self._port = None
        server.stop()
        # ThreadedMotoServer.stop() shuts the serve loop down but leaves the
        # listening socket open; close it so nothing leaks between tests.
        wsgi_server = getattr(server, "_server", None)
        if wsgi_server is not None:
            wsgi_server.server_close()

    async def astart(self) -> None:
        """:meth:`start` without blocking the event loop."""
        await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        """:meth:`stop` without blocking the event loop."""
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> S3Server:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    # -- state -------------------------------------------------------------

    def reset(self) -> None:
        """Wipe all moto state (``POST /moto-api/reset``).

        Raises:
            RuntimeError: the server is not started or moto refused.
        """
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset", data=b"", method="POST"
        )
        # Never route loopback traffic through an environment-configured proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30) as response:
            status = response.status
        if status != 200:
            raise RuntimeError(f"moto reset failed with HTTP {status}")

    async def areset(self) -> None:
        """:meth:`reset` without blocking the event loop."""
        await asyncio.to_thread(self.reset)
