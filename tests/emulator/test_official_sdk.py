"""The official Python SDK (remotion-lambda 4.0.539), pointed at the emulator only through
the environment the emulator prints, starts a render on a function named for its own
version and polls it to done with its own get_render_progress (the status Lambda)."""

from __future__ import annotations

import time

import anyio
import pytest

from aioremotion.emulator import RemotionEmulator
from aioremotion.protocol.naming import speculate_function_name

remotion_lambda = pytest.importorskip("remotion_lambda", reason="test extra remotion-lambda")


def sdk_render_to_done(serve_url: str, function_name: str, region: str) -> tuple[str, object]:
    from remotion_lambda import RemotionClient
    from remotion_lambda.models import RenderMediaParams

    client = RemotionClient(region=region, serve_url=serve_url, function_name=function_name)
    response = client.render_media_on_lambda(RenderMediaParams(
        composition="HelloWorld", input_props={"title": "From the official SDK"}))
    assert response is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        progress = client.get_render_progress(render_id=response.render_id,
                                              bucket_name=response.bucket_name)
        assert progress is not None
        if progress.done or getattr(progress, "fatalErrorEncountered", False):
            return response.render_id, progress
        time.sleep(0.05)
    raise AssertionError("the official SDK never saw the render finish")


async def test_official_sdk_renders_on_the_emulator(
    emulator: RemotionEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in emulator.env.items():
        monkeypatch.setenv(key, value)
    from remotion_lambda.version import VERSION as version
    function = speculate_function_name(version=version, memory_mb=2048, disk_mb=2048,
                                       timeout_s=120)
    render_id, progress = await anyio.to_thread.run_sync(
        sdk_render_to_done, emulator.serve_url, function, emulator.region)
    assert progress.done, getattr(progress, "errors", None)  # type: ignore[attr-defined]
    assert progress.outputFile.endswith(f"renders/{render_id}/out.mp4")  # type: ignore[attr-defined]
    starts = emulator.server.invocations_of("start")
    assert [s.bare_name for s in starts] == [function]
    assert starts[0].payload_json["version"] == version
    assert emulator.server.invocations_of("status")
