"""Web backend fixtures: the emulator (fast), the app over ASGI, and uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from aioremotion.emulator import EmulatorConfig


@pytest.fixture
def remotion_emulator_config(remotion_emulator_config: EmulatorConfig) -> EmulatorConfig:
    """Frames cost 0.5 ms, so a render is seen in progress before it is done."""
    return dataclasses.replace(remotion_emulator_config, frame_cost_ms=0.5)


@asynccontextmanager
async def asgi_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling ``app`` in process, with the app's lifespan running
    (ASGITransport does not run it)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def bind_socket() -> tuple[socket.socket, int]:
    """A listening-ready socket on a free port of 127.0.0.1 (no race between picking the
    port and serving on it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


@asynccontextmanager
async def serve(app: ASGIApp, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn in this event loop; yields its base URL, stops on exit."""
    if sock is None:
        sock, _ = bind_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        with anyio.fail_after(30):
            while not server.started:
                if task.done():
                    task.result()  # raises what stopped it
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
