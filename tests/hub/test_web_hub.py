"""The web app's hub: its webhook route (served by uvicorn, called by the emulator's
signed POSTs) publishes to RemotionWeb.hub, and a watch on that hub finishes on it."""

from __future__ import annotations

from typing import Any

import anyio
import httpx

from aioremotion.emulator import RemotionEmulator
from aioremotion.hub import LocalHub, RenderOutcome
from aioremotion.schedule import PollPolicy
from aioremotion.testing import FaultyProxy
from aioremotion.watching import WatchOptions, wait
from aioremotion.web import WebConfig, create_app
from aioremotion.web.app import RemotionWeb
from tests.web.conftest import bind_socket, serve

SECRET = "web-hub-s3cr3t"
FAST = WatchOptions(policy=PollPolicy(first_delay_s=0.01, floor_s=0.01, base_s=0.02,
                                      cap_s=0.1, near_finish_s=0.01))


def config(emulator: RemotionEmulator, **changes: Any) -> WebConfig:
    return WebConfig(region=emulator.region, serve_url=emulator.serve_url,
                     function_name=emulator.function_name, bucket_name=emulator.bucket,
                     **changes)


async def test_the_webhook_route_feeds_the_hub_a_watch_waits_on(
    emulator: RemotionEmulator,
) -> None:
    sock, port = bind_socket()
    settings = config(emulator, webhook_secret=SECRET,
                      webhook_url=f"http://127.0.0.1:{port}/api/lambda/webhook")
    async with FaultyProxy(emulator.s3_endpoint) as proxy, \
            emulator.client(endpoint_urls={"lambda": emulator.lambda_endpoint,
                                           "s3": proxy.endpoint_url}) as remotion:
        app = create_app(settings, client=remotion)
        web: RemotionWeb = app.state.remotion_web
        assert isinstance(web.hub, LocalHub)
        async with serve(app, sock) as base, httpx.AsyncClient(base_url=base) as http:
            reply = await http.post("/api/lambda/render", json={"id": "HelloWorld"})
            assert reply.status_code == 200, reply.text
            data = reply.json()["data"]
            render_id = data["renderId"]
            with anyio.fail_after(60):
                done = await wait(remotion, render_id, FAST, bucket_name=data["bucketName"],
                                  hub=web.hub)
            reads = proxy.count(match=f"renders/{render_id}/")
            outcome = await web.hub.wait_outcome(render_id)
        closed_after_shutdown = web.hub._closed  # type: ignore[union-attr]
    assert done.size > 0 and 1 <= reads <= 2
    assert outcome.kind == "success" and outcome.payload["renderId"] == render_id
    assert closed_after_shutdown  # the app's own hub is closed with the app


async def test_a_configured_hub_is_used_and_left_open(emulator: RemotionEmulator) -> None:
    hub = LocalHub()
    async with emulator.client() as remotion:
        app = create_app(config(emulator, webhook_secret=SECRET, hub=hub), client=remotion)
        assert app.state.remotion_web.hub is hub
        async with app.router.lifespan_context(app):
            pass
    outcome = RenderOutcome.from_webhook({"type": "timeout", "renderId": "r1",
                                          "bucketName": "b"}, received_at=0.0)
    await hub.publish(outcome)  # still open
    assert config(emulator, hub=hub).replace(composition="X").hub is hub


def test_no_webhooks_no_hub(emulator: RemotionEmulator) -> None:
    assert RemotionWeb(config(emulator)).hub is None
