"""The randomized fault-and-cancel run (see ``fuzz.py``): 6 seeded iterations by default
(each API twice), 30 more with ``-m slow``. A failure names its seed;
``AIOREMOTION_FUZZ_SEED=<seed> pytest -m slow tests/faults/test_fuzz.py`` replays it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fuzz import Plan, run_iteration, seeds


@pytest.mark.parametrize("seed", seeds(6, base=1100, each_api=True),
                         ids=lambda seed: f"seed-{seed}")
async def test_fuzz_short(seed: int, tmp_path: Path) -> None:
    await run_iteration(Plan.draw(seed), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", seeds(30, base=20_000), ids=lambda seed: f"seed-{seed}")
async def test_fuzz_long(seed: int, tmp_path: Path) -> None:
    await run_iteration(Plan.draw(seed), tmp_path)
