"""Watch and fan-out tests run on the emulator (fast synthetic renders)."""

from __future__ import annotations

import dataclasses

import pytest

from aioremotion.emulator import EmulatorConfig


@pytest.fixture
def remotion_emulator_config(remotion_emulator_config: EmulatorConfig) -> EmulatorConfig:
    """Frames cost 0.5 ms, so a render is seen in progress before it is done."""
    return dataclasses.replace(remotion_emulator_config, frame_cost_ms=0.5)
