"""The emulated launch uploads progress.json at most once per interval, latest state."""

from __future__ import annotations

import itertools
import json
import time

import anyio
import anyio.lowlevel

from aioremotion.emulator.progress_writer import ProgressWriter, initial_progress


async def test_rapid_changes_are_coalesced_and_spaced() -> None:
    uploads: list[tuple[float, dict[str, object]]] = []
    last_seen = anyio.Event()

    async def upload(body: bytes) -> None:
        uploads.append((time.monotonic(), json.loads(body)))
        if uploads[-1][1]["framesRendered"] == 200:
            last_seen.set()

    writer = ProgressWriter(initial_progress(now_ms=0, timeout_ms=1000,
                                             cancellation_enabled=False),
                            upload, interval_s=0.1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.run)
        for frame in range(1, 201):
            writer.set(framesRendered=frame)
            await anyio.lowlevel.checkpoint()
        await last_seen.wait()
        tg.cancel_scope.cancel()
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(uploads)]
    assert len(uploads) < 20  # 200 changes, a handful of uploads
    assert all(gap >= 0.1 * 0.95 for gap in gaps), gaps
    assert uploads[-1][1]["framesRendered"] == 200


async def test_dropped_and_frozen_writes() -> None:
    uploads: list[bytes] = []

    async def upload(body: bytes) -> None:
        uploads.append(body)

    drops = iter([True, False])
    writer = ProgressWriter({"a": 1}, upload, should_drop=lambda: next(drops, False))
    await writer.write_now()
    await writer.write_now()
    assert (writer.dropped, writer.uploads) == (1, 1)
    writer.frozen = True
    writer.set(a=2)
    await writer.write_now()
    assert len(uploads) == 1
