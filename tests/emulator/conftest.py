"""Emulator fixtures: a fresh emulator per test, fast synthetic rendering by default."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aioremotion.emulator import EmulatorConfig, RemotionEmulator

FAST = EmulatorConfig(progress_write_interval_s=0.02, cancel_poll_interval_s=0.05)


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "AWS_ENDPOINT_URL_LAMBDA", "REMOTION_FUNCTION_NAME",
                 "REMOTION_AWS_ACCESS_KEY_ID", "REMOTION_AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def emulator() -> AsyncIterator[RemotionEmulator]:
    async with RemotionEmulator(config=FAST) as running:
        yield running
