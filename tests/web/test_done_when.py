"""Issue 15's check for the stream, end to end: what ``aioremotion serve --local`` serves
(the same app, built by the same function, real H.264 encoding, on uvicorn on 127.0.0.1)
answers ``POST /api/lambda/render`` with ``Accept: application/x-ndjson`` as a stream of
started → progress (never decreasing) → done, whose url downloads a playable MP4; and the
same path still answers the Next.js template's JSON without that header."""

from __future__ import annotations

import io
import json
from contextlib import AsyncExitStack
from typing import Any

import anyio
import httpx
import pytest

from aioremotion.cli._serve import local_app

from .conftest import serve

av = pytest.importorskip("av", reason="PyAV is not installed (the emulator extra)")

JS_RESULT_KEYS = {"renderId", "bucketName", "cloudWatchLogs", "cloudWatchMainLogs",
                  "folderInS3Console", "lambdaInsightsLogs", "progressJsonInConsole"}


def decoded_frames(mp4: bytes) -> tuple[int, str]:
    """How many video frames PyAV decodes from ``mp4``, and the codec."""
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        return sum(1 for _ in container.decode(stream)), stream.codec_context.name


async def test_serve_local_streams_a_render_and_keeps_the_json_contract(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REMOTION_COMPOSITION", raising=False)
    async with AsyncExitStack() as stack:
        app, _emulator = await local_app(stack, real=True)
        base_url = await stack.enter_async_context(serve(app))
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=base_url,
                                                                 timeout=60))
        events: list[dict[str, Any]] = []
        with anyio.fail_after(120):
            async with http.stream("POST", "/api/lambda/render",
                                   json={"inputProps": {"title": "Streamed"}},
                                   headers={"accept": "application/x-ndjson"}) as response:
                assert response.status_code == 200
                assert response.headers["content-type"] == "application/x-ndjson"
                async for line in response.aiter_lines():
                    events.append(json.loads(line))

            started, *progress, done = events
            assert started["type"] == "started" and set(started) == {
                "type", "renderId", "bucketName"}
            assert progress and all(e["type"] == "progress" for e in progress)
            values = [e["progress"] for e in progress]
            assert values == sorted(values) and 0 < values[-1] <= 1
            assert done["type"] == "done" and set(done) == {"type", "url", "size"}

            video = await http.get(done["url"])
            assert video.status_code == 200 and len(video.content) == done["size"]
            frames, codec = decoded_frames(video.content)
            assert frames > 0 and codec == "h264"

            # the same path without the header: the Next.js template's JSON, unchanged
            plain = await http.post("/api/lambda/render", json={"inputProps": {}})
            assert plain.status_code == 200
            assert plain.headers["content-type"] == "application/json"
            body = plain.json()
            assert body["type"] == "success" and set(body["data"]) == JS_RESULT_KEYS
