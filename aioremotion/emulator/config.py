"""How the emulated functions behave: :class:`EmulatorConfig` (no heavy imports, so the
pytest plugin and the command line can build one before anything starts)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EmulatorConfig"]


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated functions behave.

    ``speed`` divides every simulated duration (frame cost, invoke latency, stitching);
    timestamps stay real. ``real_encoding`` draws and encodes real frames in-process with
    PyAV (``pip install "aioremotion[emulator]"``), the frame cost added to each; otherwise
    outputs are small synthetic files.
    ``account_concurrency`` caps concurrently running functions (start, launch, each
    renderer); beyond it, invokes get HTTP 429 like an AWS account at its limit.
    """

    speed: float = 1.0
    frame_cost_ms: float = 0.0
    invoke_latency_ms: float = 0.0
    combine_cost_ms: float = 0.0
    real_encoding: bool = False
    progress_write_interval_s: float = 0.25
    cancel_poll_interval_s: float = 1.0
    account_concurrency: int | None = None
    max_parallel_encoders: int = 2
