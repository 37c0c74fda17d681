"""Fault tests run on the emulator (fast synthetic renders)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aioremotion.emulator import RemotionEmulator

from ..emulator.conftest import no_ambient_aws  # noqa: F401  (autouse fixture)
from ..watch.conftest import QUICK


@pytest.fixture
async def emulator() -> AsyncIterator[RemotionEmulator]:
    async with RemotionEmulator(config=QUICK) as running:
        yield running
