"""RedisHub against a real redis-server: publish and wait, kept outcomes, expiry, two
processes, many waiters on one connection, reconnection, and the errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import anyio
import pytest

from aioremotion.errors import HubUnavailableError, InvalidOptionsError, RemotionError
from aioremotion.hub import HubClosedError, OutcomeHub, RenderOutcome

if not os.environ.get("CI"):
    pytest.importorskip("redis", reason='redis-py is not installed: pip install '
                                        '"aioremotion[redis]"')

from aioremotion.hub_redis import RedisHub
from aioremotion.hub_url import hide_password

from .conftest import RedisServer

BUCKET = "remotionlambda-useast1-abcdefghij"


def outcome(render_id: str, kind: str = "success", **extra: Any) -> RenderOutcome:
    payload = {"type": kind, "renderId": render_id, "bucketName": BUCKET,
               "expectedBucketOwner": "123", **extra}
    return RenderOutcome.from_webhook(payload, received_at=time.time())


async def settled(hub: RedisHub, waiting: int) -> None:
    """Until ``waiting`` waiters are registered, subscribed, and their keys were read."""
    with anyio.fail_after(30):
        await hub._until(lambda: hub.waiting == waiting and hub._settled())


async def hub_connections(admin: Any, hub: RedisHub) -> int:
    clients = await admin.client_list()
    return sum(1 for client in clients if client.get("name") == f"{hub.prefix}hub")


def test_redis_hub_is_an_outcome_hub() -> None:
    assert isinstance(RedisHub("redis://127.0.0.1:1/0"), OutcomeHub)


def test_options_are_checked() -> None:
    with pytest.raises(InvalidOptionsError) as caught:
        RedisHub("http://127.0.0.1:6379", keep_s=0)
    assert caught.value.fields == ["url", "keep_s"]
    assert "redis://" in str(caught.value)


def test_passwords_are_hidden() -> None:
    assert hide_password("rediss://user:pw@h:1/2") == "rediss://user:***@h:1/2"
    assert hide_password("unix:///run/redis.sock") == "unix:///run/redis.sock"


async def test_publish_wakes_a_waiter_of_another_hub(redis_server: RedisServer) -> None:
    async with RedisHub(redis_server.url) as watcher, RedisHub(redis_server.url) as receiver:
        async with anyio.create_task_group() as tg:
            got: list[RenderOutcome] = []

            async def wait() -> None:
                got.append(await watcher.wait_outcome("r-one"))

            tg.start_soon(wait)
            await settled(watcher, 1)          # subscribed: this one comes as a message
            sent = outcome("r-one", outputUrl="https://x/out.mp4")
            await receiver.publish(sent)
        assert got == [sent]
        assert watcher.waiting == 0


async def test_the_publishing_process_wakes_its_own_waiters(redis_server: RedisServer) -> None:
    async with RedisHub(redis_server.url) as hub:
        async with anyio.create_task_group() as tg:
            results: list[RenderOutcome] = []

            async def wait() -> None:
                results.append(await hub.wait_outcome("r-self"))

            for _ in range(3):
                tg.start_soon(wait)
            await settled(hub, 3)
            await hub.publish(outcome("r-self", "error"))
        assert [r.kind for r in results] == ["error"] * 3


async def test_a_late_waiter_sees_the_kept_outcome(redis_server: RedisServer,
                                                    admin: Any) -> None:
    async with RedisHub(redis_server.url, keep_s=600) as receiver:
        sent = outcome("r-late", "timeout")
        await receiver.publish(sent)            # nobody waits yet: kept
        ttl_ms = await admin.pttl(receiver.key("r-late"))
        assert 0 < ttl_ms <= 600_000
        async with RedisHub(redis_server.url) as watcher:
            with anyio.fail_after(30):
                assert await watcher.wait_outcome("r-late") == sent


async def test_the_first_outcome_wins_while_kept(redis_server: RedisServer) -> None:
    async with RedisHub(redis_server.url) as hub:
        first = outcome("r-first", "success")
        await hub.publish(first)
        await hub.publish(outcome("r-first", "error"))  # a retried delivery changes nothing
        with anyio.fail_after(30):
            assert await hub.wait_outcome("r-first") == first


async def test_an_outcome_expires_after_keep_s(redis_server: RedisServer, admin: Any) -> None:
    async with RedisHub(redis_server.url, keep_s=2.5) as hub:
        await hub.publish(outcome("r-exp"))
        ttl_ms = await admin.pttl(hub.key("r-exp"))
        assert 0 < ttl_ms <= 2500          # Redis expires it keep_s after the publish
        # the expiry itself, without waiting for it: a deadline in the past expires it now
        assert await admin.pexpireat(hub.key("r-exp"), 1)
        assert await admin.exists(hub.key("r-exp")) == 0
        task = asyncio.ensure_future(hub.wait_outcome("r-exp"))
        await settled(hub, 1)                  # its key was read: nothing kept
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert hub.waiting == 0


CHILD = textwrap.dedent("""
    import asyncio, json, sys
    import anyio
    from aioremotion.hub_redis import RedisHub

    async def main():
        async with RedisHub(sys.argv[1]) as hub:
            task = asyncio.ensure_future(hub.wait_outcome(sys.argv[2]))
            with anyio.fail_after(60):
                await hub._until(lambda: hub.waiting == 1 and hub._settled())
                print("waiting", flush=True)
                got = await task
            print(json.dumps({"pid_kind": got.kind, "payload": got.payload}), flush=True)

    asyncio.run(main())
""")


async def test_a_waiter_in_another_process_wakes(redis_server: RedisServer) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, redis_server.url, "r-proc",
        stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert process.stdout is not None
    try:
        with anyio.fail_after(60):
            assert (await process.stdout.readline()).strip() == b"waiting"
            async with RedisHub(redis_server.url) as hub:
                await hub.publish(outcome("r-proc", "success", outputUrl="https://x/o.mp4"))
            line = await process.stdout.readline()
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    got = json.loads(line)
    assert got["pid_kind"] == "success"
    assert got["payload"]["outputUrl"] == "https://x/o.mp4"


async def test_a_thousand_waiters_share_one_subscription(redis_server: RedisServer,
                                                        admin: Any) -> None:
    ids = [f"r-many-{i}" for i in range(1000)]
    async with RedisHub(redis_server.url, prefix="many:") as watcher:
        results: dict[str, RenderOutcome] = {}

        async def wait(render_id: str) -> None:
            results[render_id] = await watcher.wait_outcome(render_id)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for render_id in ids:
                    tg.start_soon(wait, render_id)
                await settled(watcher, 1000)
                # one pub/sub connection and one for the (batched) reads, not one per waiter
                assert await hub_connections(admin, watcher) <= 2
                assert await admin.pubsub_numsub("many:outcomes") == [(b"many:outcomes", 1)]
                async with RedisHub(redis_server.url, prefix="many:") as receiver:
                    for render_id in ids:
                        await receiver.publish(outcome(render_id))
        assert sorted(results) == sorted(ids)
        assert all(results[i].render_id == i for i in ids)


async def test_it_reconnects_after_client_kill(redis_server: RedisServer, admin: Any) -> None:
    async with RedisHub(redis_server.url, prefix="rc:") as watcher:
        task = asyncio.ensure_future(watcher.wait_outcome("r-rc"))
        await settled(watcher, 1)
        killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert killed == 1
        # kept while the hub was away, never announced: only the read after it subscribes
        # again can find it
        await admin.set(watcher.key("r-rc"),
                        json.dumps({"render_id": "r-rc", "bucket_name": BUCKET,
                                    "kind": "error", "payload": {"type": "error"},
                                    "received_at": 1.0}))
        with anyio.fail_after(30):
            got = await task
        assert got.kind == "error"
        assert watcher.reconnects == 1
        # and it listens again
        task = asyncio.ensure_future(watcher.wait_outcome("r-rc2"))
        await settled(watcher, 1)
        async with RedisHub(redis_server.url, prefix="rc:") as receiver:
            await receiver.publish(outcome("r-rc2"))
        with anyio.fail_after(30):
            assert (await task).render_id == "r-rc2"


async def test_reads_survive_a_killed_command_connection(redis_server: RedisServer,
                                                         admin: Any) -> None:
    async with RedisHub(redis_server.url) as hub:
        await hub.publish(outcome("r-k1"))
        await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        with anyio.fail_after(30):
            assert (await hub.wait_outcome("r-k1")).render_id == "r-k1"


async def test_an_unreachable_redis_says_what_to_do(redis_server: RedisServer) -> None:
    redis_server.process.terminate()
    redis_server.process.wait(10)
    async with RedisHub(redis_server.url) as hub:
        with anyio.fail_after(30), pytest.raises(HubUnavailableError) as waited:
            await hub.wait_outcome("r-none")
        with anyio.fail_after(30), pytest.raises(HubUnavailableError) as published:
            await hub.publish(outcome("r-none"))
    for caught in (waited, published):
        message = str(caught.value)
        assert message.startswith(f"Redis at {redis_server.url} is unreachable")
        assert "start redis-server" in message and "AIOREMOTION_HUB_URL" in message
        assert isinstance(caught.value, RemotionError)
        assert caught.value.url == redis_server.url


async def test_close_wakes_the_waiters(redis_server: RedisServer) -> None:
    hub = RedisHub(redis_server.url)
    task = asyncio.ensure_future(hub.wait_outcome("r-close"))
    await settled(hub, 1)
    await hub.aclose()
    with pytest.raises(HubClosedError):
        await task
    with pytest.raises(HubClosedError):
        await hub.wait_outcome("r-close")
    await hub.aclose()  # twice is fine
