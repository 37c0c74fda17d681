"""pytest plugin (registered by entry point): a ``remotion_emulator`` fixture.

Use it in your own backend's tests (needs pytest-asyncio or anyio's pytest plugin)::

    async def test_my_backend(remotion_emulator):
        async with remotion_emulator.client() as remotion:
            render = await remotion.render_media(
                serve_url=remotion_emulator.serve_url, composition="HelloWorld", codec="h264")
            ...

The emulator renders synthetic output quickly by default; mark a test with
``@pytest.mark.remotion_emulator(real_encoding=True)`` (or any other
:class:`~aioremotion.testing.functions.EmulatorConfig` field) to change that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .emulator import RemotionEmulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "remotion_emulator(**config): settings of the remotion_emulator fixture "
        "(EmulatorConfig fields such as real_encoding=True or frame_cost_ms=5)",
    )


@pytest.fixture
async def remotion_emulator(request: pytest.FixtureRequest) -> AsyncIterator[RemotionEmulator]:
    """A running :class:`~aioremotion.testing.emulator.RemotionEmulator` (fresh per test)."""
    from .emulator import RemotionEmulator
    from .functions import EmulatorConfig

    marker = request.node.get_closest_marker("remotion_emulator")
    settings: dict[str, Any] = {"progress_write_interval_s": 0.02,
                                "cancel_poll_interval_s": 0.05}
    if marker is not None:
        settings.update(marker.kwargs)
    async with RemotionEmulator(config=EmulatorConfig(**settings)) as emulator:
        yield emulator
