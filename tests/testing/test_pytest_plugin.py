"""The `remotion_emulator` fixture our users get from the pytest plugin (entry point)."""

from __future__ import annotations

import pytest

from aioremotion.emulator import RemotionEmulator


async def test_fixture_gives_a_running_emulator(remotion_emulator: RemotionEmulator) -> None:
    async with remotion_emulator.client() as remotion:
        render = await remotion.render_media(serve_url=remotion_emulator.serve_url,
                                             composition="HelloWorld", codec="h264")
        await remotion_emulator.wait_for_renders()
        assert (await remotion.get_progress(render)).done


@pytest.mark.remotion_emulator(frame_cost_ms=1.5)
async def test_marker_configures_the_fixture(remotion_emulator: RemotionEmulator) -> None:
    assert remotion_emulator.config.frame_cost_ms == 1.5


def test_plugin_is_registered_by_entry_point(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("aioremotion")
