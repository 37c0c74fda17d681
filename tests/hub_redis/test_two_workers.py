"""The issue's done-when: two web workers in two processes (two ``uvicorn`` serving
``aioremotion.web:create_app``), one emulator, one Redis. Worker A streams a render
(``POST /api/lambda/render``, ``Accept: application/x-ndjson``); the render's webhook URL
points at worker B; A's stream ends on the outcome B received, carried by the RedisHub
both workers build from ``AIOREMOTION_HUB_URL``."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from aioremotion.emulator import RemotionEmulator
from aioremotion.protocol.webhooks import webhook_headers, webhook_payload

from .conftest import RedisServer

if not os.environ.get("CI"):
    pytest.importorskip("redis", reason='pip install "aioremotion[redis]"')

from aioremotion.hub_redis import RedisHub

SECRET = "two-workers-s3cr3t"
NDJSON = {"Accept": "application/x-ndjson"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def worker(port: int, env: dict[str, str]) -> AsyncIterator[str]:
    """``uvicorn aioremotion.web:create_app --factory`` in its own process on ``port``;
    yields its base URL once it has started (its log says so), stops it on exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "aioremotion.web:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "info",
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert process.stderr is not None
    log: list[str] = []
    try:
        with anyio.fail_after(60):
            while True:
                line = (await process.stderr.readline()).decode(errors="replace")
                if not line:
                    raise RuntimeError("the worker exited before it started:\n" + "".join(log))
                log.append(line)
                if "Application startup complete" in line:
                    break

        async def drain() -> None:  # keep reading its log so it never blocks on a full pipe
            assert process.stderr is not None
            while line := await process.stderr.readline():
                log.append(line.decode(errors="replace"))

        drainer = asyncio.ensure_future(drain())
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            with anyio.fail_after(30):
                await process.wait()
            await drainer
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@asynccontextmanager
async def two_workers(emulator: RemotionEmulator,
                      redis_server: RedisServer) -> AsyncIterator[tuple[str, str]]:
    """Workers A and B, configured alike from the environment only; every render's
    webhook goes to B (in production: to the load balancer in front of both)."""
    port_a, port_b = _free_port(), _free_port()
    env = {
        **os.environ, **emulator.env,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "REMOTION_WEBHOOK_SECRET": SECRET,
        "REMOTION_WEBHOOK_URL": f"http://127.0.0.1:{port_b}/api/lambda/webhook",
        "AIOREMOTION_HUB_URL": redis_server.url,
    }
    async with AsyncExitStack() as stack:
        base_a = await stack.enter_async_context(worker(port_a, env))
        base_b = await stack.enter_async_context(worker(port_b, env))
        yield base_a, base_b


async def ndjson(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if line.strip():
            yield json.loads(line)


@pytest.mark.remotion_emulator(frame_cost_ms=2.0)
async def test_a_render_streamed_by_a_finishes_on_the_webhook_b_received(
    emulator: RemotionEmulator, redis_server: RedisServer, admin: Any,
) -> None:
    """The emulator's own webhook goes to B, which publishes it into Redis; A streams the
    render to its end (A may also have read "done" from S3 first: the next test shows the
    outcome crossing from B to A when only the webhook can tell)."""
    async with two_workers(emulator, redis_server) as (base_a, _), \
            httpx.AsyncClient(base_url=base_a, timeout=60) as http:
        with anyio.fail_after(120):
            async with http.stream("POST", "/api/lambda/render", json={"id": "HelloWorld"},
                                   headers=NDJSON) as response:
                assert response.status_code == 200
                events = [event async for event in ndjson(response)]
        started, last = events[0], events[-1]
        assert started["type"] == "started"
        assert last["type"] == "done", events
        assert last["size"] > 0
        render_id = started["renderId"]
        # one subscriber: A's hub (a hub subscribes on its first wait; B only publishes)
        assert await admin.pubsub_numsub("aioremotion:outcomes") == [
            (b"aioremotion:outcomes", 1)]
        # B verifies the emulator's webhook and publishes it into Redis (only B is ever
        # sent webhooks): a hub here sees it, kept or when it comes
        async with RedisHub(redis_server.url) as hub:
            with anyio.fail_after(60):
                outcome = await hub.wait_outcome(render_id)
        assert outcome.kind == "success" and outcome.payload["renderId"] == render_id
        assert outcome.payload["outputUrl"] == last["url"]


@pytest.mark.remotion_emulator(frame_cost_ms=500.0)
async def test_a_ends_on_an_outcome_only_the_webhook_to_b_carried(
    emulator: RemotionEmulator, redis_server: RedisServer,
) -> None:
    """The render is slow and still running when a signed timeout webhook reaches B:
    polling S3 cannot have told A so, so A's error line came from B through Redis."""
    async with two_workers(emulator, redis_server) as (base_a, base_b), \
            httpx.AsyncClient(base_url=base_a, timeout=60) as http_a, \
            httpx.AsyncClient(base_url=base_b, timeout=60) as http_b:
        with anyio.fail_after(120):
            async with http_a.stream("POST", "/api/lambda/render",
                                     json={"id": "HelloWorld"}, headers=NDJSON) as response:
                assert response.status_code == 200
                events = ndjson(response)
                started = await anext(events)
                assert started["type"] == "started"
                render_id, bucket = started["renderId"], started["bucketName"]
                body = json.dumps(webhook_payload(
                    "timeout", render_id=render_id, expected_bucket_owner="123456789012",
                    bucket_name=bucket, custom_data=None)).encode()
                hook = await http_b.post("/api/lambda/webhook", content=body,
                                         headers=webhook_headers(body, SECRET, "timeout"))
                assert hook.status_code == 200, hook.text
                rest = [event async for event in events]
        assert rest[-1]["type"] == "error", rest
        assert all(event["type"] == "progress" for event in rest[:-1])
        # S3 still says the render is in progress: the error did not come from a read
        progress = await http_a.post("/api/lambda/progress",
                                     json={"id": render_id, "bucketName": bucket})
        assert progress.json()["data"]["type"] == "progress", progress.text
