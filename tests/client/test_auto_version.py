"""``remotion_version="auto"``: ask the function once, build its version's payloads."""

from __future__ import annotations

import anyio
import pytest

from aioremotion import RemotionLambda
from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.errors import InvalidOptionsError
from aioremotion.watching import wait

FAST = EmulatorConfig(progress_write_interval_s=0.02)


def _routines(emulator: RemotionEmulator) -> list[tuple[str | None, object]]:
    return [(inv.routine, (inv.payload_json or {}).get("version"))
            for inv in emulator.server.invocations]


@pytest.mark.parametrize("version", ["4.0.491", "4.0.527"])
async def test_auto_builds_for_the_functions_version(version: str) -> None:
    async with RemotionEmulator(remotion_version=version, config=FAST) as emulator, \
            emulator.client(remotion_version="auto") as remotion:
        async with anyio.create_task_group() as tg:  # concurrent first calls: one question
            for _ in range(3):
                tg.start_soon(lambda: remotion.render_media(
                    serve_url=emulator.serve_url, composition="Square", codec="h264"))
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="Square", codec="h264")
        done = await wait(remotion, render)
        routines = _routines(emulator)
    assert done.url
    assert routines.count(("info", None)) == 1
    starts = [v for routine, v in routines if routine == "start"]
    assert starts == [version] * 4
    if version == "4.0.491":  # the payload is 4.0.491's, not 4.0.527's with its version
        start = next(inv.payload_json for inv in emulator.server.invocations
                     if inv.routine == "start")
        assert "enableCancellation" not in start


async def test_auto_refuses_a_function_outside_the_supported_range() -> None:
    async with RemotionEmulator(remotion_version="4.0.300", config=FAST) as emulator, \
            emulator.client(remotion_version="auto") as remotion:
        with pytest.raises(InvalidOptionsError) as info:
            await remotion.render_media(serve_url=emulator.serve_url, composition="Square",
                                        codec="h264")
        routines = _routines(emulator)
    message = str(info.value)
    assert "4.0.300" in message and "4.0.403 to 4.0.542" in message
    assert [r for r, _ in routines] == ["info"]  # nothing was started


def test_auto_needs_a_function_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REMOTION_FUNCTION_NAME", raising=False)
    with pytest.raises(InvalidOptionsError, match="function_name="):
        RemotionLambda(region="us-east-1", remotion_version="auto")


async def test_auto_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMOTION_VERSION", "auto")
    async with RemotionEmulator(remotion_version="4.0.508", config=FAST) as emulator:
        async with emulator.client(remotion_version=None) as remotion:
            assert remotion.remotion_version == "auto"
            await remotion.render_media(serve_url=emulator.serve_url, composition="Square",
                                        codec="h264")
        starts = [v for routine, v in _routines(emulator) if routine == "start"]
    assert starts == ["4.0.508"]


def test_web_config_auto_needs_a_function_name() -> None:
    from aioremotion.web import WebConfig

    with pytest.raises(InvalidOptionsError, match="remotion_version"):
        WebConfig(region="us-east-1", serve_url="my-site", remotion_version="auto")
    name = "remotion-render-4-0-491-mem2048mb-disk2048mb-120sec"
    config = WebConfig(region="us-east-1", serve_url="my-site", remotion_version="auto",
                       function_name=name)
    assert config.resolved_function_name == name
