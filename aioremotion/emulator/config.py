"""How the emulated functions behave: :class:`EmulatorConfig` (no heavy imports, so the
pytest plugin and the command line can build one before anything starts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["REAL_OUTPUTS", "SYNTHETIC_OUTPUTS", "EmulatorConfig"]

#: How a banner describes an emulator with ``real_encoding=True``.
REAL_OUTPUTS: Final = "real H.264 encoding"
#: How a banner describes an emulator with ``real_encoding=False``.
SYNTHETIC_OUTPUTS: Final = "synthetic outputs: files are not playable"


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated functions behave.

    ``speed`` divides every simulated duration (frame cost, invoke latency, stitching,
    the interval between progress.json writes, the function's timeout, so
    ``timeoutTimestamp`` is when the launch really gives up); timestamps stay real.
    ``real_encoding`` draws and encodes real frames in-process with PyAV
    (``pip install "aioremotion[emulator]"``), the frame cost added to each; otherwise
    outputs are small synthetic files of the right container type that no player can play.
    ``account_concurrency`` caps concurrently running functions (start, launch, each
    renderer); beyond it, invokes get HTTP 429 like an AWS account at its limit.
    ``strict_payloads`` (default on) makes a ``start``, ``still``, ``status`` or ``compositions``
    payload fail, with an error reply naming the keys and the version, when it lacks a key the
    function of its version reads or carries one only a later version reads (see
    :mod:`aioremotion.emulator.payload_check`); other extra keys are ignored, as on Lambda.

    The library's default is synthetic, so that tests (the ``remotion_emulator`` fixture)
    are fast; the command line's ``aioremotion emulator``, ``serve --local`` and
    ``render --local`` encode real video unless told ``--synthetic``.

    Example::

        >>> EmulatorConfig(real_encoding=True, speed=10).outputs
        'real H.264 encoding'
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
    strict_payloads: bool = True

    def real_s(self, ms: float) -> float:
        """Real seconds for ``ms`` of simulated time (divided by ``speed``).

        Example::

            >>> EmulatorConfig(speed=4).real_s(1000)
            0.25
        """
        return max(0.0, ms / 1000 / self.speed)

    @property
    def outputs(self) -> str:
        """What the renders produce, in the words of the command line's banner:
        :data:`REAL_OUTPUTS` or :data:`SYNTHETIC_OUTPUTS`.

        Example::

            >>> EmulatorConfig().outputs
            'synthetic outputs: files are not playable'
        """
        return REAL_OUTPUTS if self.real_encoding else SYNTHETIC_OUTPUTS
