"""Push tests: the emulator (fast synthetic renders; its webhooks are real signed HTTP
POSTs) and a loopback server that verifies them and feeds an outcome hub."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from aioremotion.emulator import EmulatorConfig
from aioremotion.hub import LocalHub
from aioremotion.web.webhooks import SIGNATURE_HEADER, WebhookReceiver, WebhookRejected

SECRET = "hub-s3cr3t"


@pytest.fixture
def remotion_emulator_config(remotion_emulator_config: EmulatorConfig) -> EmulatorConfig:
    """Frames cost 2 ms: a render lasts long enough for a poller to read it many times."""
    return dataclasses.replace(remotion_emulator_config, frame_cost_ms=2.0)


@asynccontextmanager
async def webhook_server(hub: LocalHub) -> AsyncIterator[str]:
    """A loopback HTTP server verifying webhooks and publishing them to ``hub``; yields
    the URL to give renders as ``webhook={"url": ..., "secret": SECRET}``."""
    receiver = WebhookReceiver(SECRET, hub=hub)

    async def handle(request: web.Request) -> web.Response:
        try:
            await receiver.receive(await request.read(), request.headers.get(SIGNATURE_HEADER))
        except WebhookRejected as exc:
            return web.json_response({"message": exc.message}, status=exc.status)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await runner.cleanup()
