"""What every loopback test server here shares: an address on 127.0.0.1 and ``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from typing_extensions import Self


class LoopbackAddress:
    """``port``, ``endpoint_url`` and ``client_kwargs()`` of a server on 127.0.0.1."""

    _port: int | None = None
    region: str = "us-east-1"

    @property
    def port(self) -> int:
        """The bound TCP port (once started)."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``, for a client's ``endpoint_url``."""
        return f"http://127.0.0.1:{self.port}"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``session.create_client(service, **kwargs)``: endpoint,
        region and the dummy credentials the servers accept (add a ``config`` yourself)."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }


class AsyncLoopbackServer(LoopbackAddress):
    """A loopback server with ``async start()``/``close()``, usable as ``async with``."""

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
