"""Batch and render_many with an outcome hub: every watch finishes on its webhook."""

from __future__ import annotations

import anyio

from aioremotion.emulator import RemotionEmulator
from aioremotion.fanout import Batch, render_many
from aioremotion.hub import LocalHub
from aioremotion.schedule import PollPolicy
from aioremotion.testing import FaultyProxy
from aioremotion.watching import WatchOptions

from .conftest import SECRET, webhook_server

FAST = WatchOptions(policy=PollPolicy(first_delay_s=0.01, floor_s=0.01, base_s=0.02,
                                      cap_s=0.1, near_finish_s=0.01))


async def test_a_batch_finishes_on_webhooks_with_two_reads_per_render(
    emulator: RemotionEmulator,
) -> None:
    hub = LocalHub()
    async with webhook_server(hub) as url, FaultyProxy(emulator.s3_endpoint) as proxy, \
            emulator.client(endpoint_urls={"lambda": emulator.lambda_endpoint,
                                           "s3": proxy.endpoint_url}) as remotion:
        job = {"serve_url": emulator.serve_url, "composition": "HelloWorld",
               "codec": "h264", "webhook": {"url": url, "secret": SECRET}}
        with anyio.fail_after(120):
            async with Batch(remotion, watch_options=FAST, hub=hub) as batch:
                for index in range(6):
                    batch.submit({**job, "input_props": {"n": index}}, key=str(index))
        reads = {r.render.render_id: proxy.count(match=f"renders/{r.render.render_id}/")
                 for r in batch.results if r.render is not None}
    assert [r.status for r in batch.results] == ["done"] * 6
    assert all(r.done is not None and r.done.size > 0 for r in batch.results)
    assert len(reads) == 6 and all(1 <= n <= 2 for n in reads.values()), reads


async def test_render_many_passes_the_hub(emulator: RemotionEmulator) -> None:
    hub = LocalHub()
    async with webhook_server(hub) as url, FaultyProxy(emulator.s3_endpoint) as proxy, \
            emulator.client(endpoint_urls={"lambda": emulator.lambda_endpoint,
                                           "s3": proxy.endpoint_url}) as remotion:
        job = {"serve_url": emulator.serve_url, "composition": "HelloWorld",
               "codec": "h264", "webhook": {"url": url, "secret": SECRET}}
        with anyio.fail_after(120):
            results = await render_many(remotion, [job, job, job], hub=hub,
                                        watch_options=FAST)
        reads = [proxy.count(match=f"renders/{r.render.render_id}/")
                 for r in results if r.render is not None]
    assert [r.status for r in results] == ["done"] * 3
    assert all(hub.kept(r.render.render_id) is not None for r in results if r.render)
    assert len(reads) == 3 and all(1 <= n <= 2 for n in reads), reads
