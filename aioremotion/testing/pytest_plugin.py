"""pytest plugin (registered by entry point): the ``remotion_emulator`` fixture.

Use it in your own backend's tests (needs pytest-asyncio or anyio's pytest plugin)::

    async def test_my_backend(remotion_emulator):
        async with remotion_emulator.client() as remotion:
            render = await remotion.render_media(
                serve_url=remotion_emulator.serve_url, composition="HelloWorld", codec="h264")
            await remotion_emulator.wait_for_renders()
            ...

Each test gets a fresh, running :class:`~aioremotion.emulator.RemotionEmulator` that
renders synthetic output at once and writes progress often (every 20 ms). Its
:class:`~aioremotion.emulator.EmulatorConfig` comes from two places:

* the ``remotion_emulator_config`` fixture, for every test in its scope. Override it in a
  ``conftest.py`` (a module's or a folder's); the override can ask for the fixture it
  overrides, to change only some fields::

      import dataclasses
      import pytest

      @pytest.fixture
      def remotion_emulator_config(remotion_emulator_config):
          return dataclasses.replace(remotion_emulator_config, frame_cost_ms=0.5)

* the ``remotion_emulator`` marker, for one test, applied on top::

      @pytest.mark.remotion_emulator(real_encoding=True)
      async def test_real_video(remotion_emulator): ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..emulator import EmulatorConfig, RemotionEmulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "remotion_emulator(**config): settings of the remotion_emulator fixture "
        "(EmulatorConfig fields such as real_encoding=True or frame_cost_ms=5)",
    )


@pytest.fixture
def remotion_emulator_config() -> EmulatorConfig:
    """The :class:`~aioremotion.emulator.EmulatorConfig` of the ``remotion_emulator``
    fixture: fast by default (synthetic output, progress written every 20 ms, cancellation
    noticed within 50 ms). Override this fixture to configure the emulator of many tests;
    see the module's documentation."""
    from ..emulator.config import EmulatorConfig

    return EmulatorConfig(progress_write_interval_s=0.02, cancel_poll_interval_s=0.05)


@pytest.fixture
async def remotion_emulator(
    request: pytest.FixtureRequest, remotion_emulator_config: EmulatorConfig
) -> AsyncIterator[RemotionEmulator]:
    """A running :class:`~aioremotion.emulator.RemotionEmulator` (fresh per test), configured
    by ``remotion_emulator_config`` and then by the test's ``remotion_emulator`` marker."""
    from ..emulator.emulator import RemotionEmulator

    config = remotion_emulator_config
    marker = request.node.get_closest_marker("remotion_emulator")
    if marker is not None:
        config = dataclasses.replace(config, **marker.kwargs)
    async with RemotionEmulator(config=config) as emulator:
        yield emulator
