"""Watch and fan-out tests run on the emulator (fast synthetic renders)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aioremotion.emulator import EmulatorConfig, RemotionEmulator

from ..emulator.conftest import no_ambient_aws  # noqa: F401  (autouse fixture)

QUICK = EmulatorConfig(progress_write_interval_s=0.02, cancel_poll_interval_s=0.05,
                       frame_cost_ms=0.5)


@pytest.fixture
async def emulator() -> AsyncIterator[RemotionEmulator]:
    async with RemotionEmulator(config=QUICK) as running:
        yield running
