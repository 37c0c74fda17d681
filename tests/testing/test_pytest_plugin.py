"""The `remotion_emulator` fixture our users get from the pytest plugin (entry point)."""

from __future__ import annotations

import dataclasses

import pytest

from aioremotion.emulator import EmulatorConfig, RemotionEmulator


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


def test_the_default_config_is_fast(remotion_emulator_config: EmulatorConfig) -> None:
    assert remotion_emulator_config == EmulatorConfig(progress_write_interval_s=0.02,
                                                      cancel_poll_interval_s=0.05)


class TestAConftestOverride:
    """An override of remotion_emulator_config (here a class's, as a conftest.py's)."""

    @pytest.fixture
    def remotion_emulator_config(self, remotion_emulator_config: EmulatorConfig,
                                 ) -> EmulatorConfig:
        return dataclasses.replace(remotion_emulator_config, frame_cost_ms=0.25)

    async def test_reaches_the_emulator(self, remotion_emulator: RemotionEmulator) -> None:
        assert remotion_emulator.config.frame_cost_ms == 0.25
        assert remotion_emulator.config.progress_write_interval_s == 0.02  # kept

    @pytest.mark.remotion_emulator(frame_cost_ms=3, real_encoding=False)
    async def test_the_marker_applies_on_top(self, remotion_emulator: RemotionEmulator) -> None:
        assert remotion_emulator.config.frame_cost_ms == 3
        assert remotion_emulator.config.cancel_poll_interval_s == 0.05  # kept
