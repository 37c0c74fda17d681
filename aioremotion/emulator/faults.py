"""Fault injection for the emulator: arm a fault from Python, the next renders hit it.

Example::

    async with RemotionEmulator() as emulator:
        emulator.faults.throttle_next(3)                  # the next 3 invokes get HTTP 429
        emulator.faults.fail_chunk(1, retryable=True)     # chunk 1 fails once, then retries
        emulator.faults.crash_launch_before_metadata()    # the next launch dies silently
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import EmulatorConfig


@dataclass
class ChunkFault:
    """Chunk ``chunk`` of the next render(s) fails ``times`` times."""

    chunk: int
    retryable: bool
    times: int = 1
    message: str | None = None


@dataclass
class RenderFaults:
    """The faults one render was armed with when its launch started."""

    chunk_faults: list[ChunkFault] = field(default_factory=list)
    crash_before_metadata: bool = False
    stall: bool = False
    stall_after_chunks: bool = False
    #: How many times longer each frame takes (None: the emulator-wide
    #: :meth:`Faults.slow_renders` factor, filled in when the launch starts).
    slow_factor: float | None = None
    #: This render's invoke latency in ms (simulated, before the ``speed`` division;
    #: None: the config's ``invoke_latency_ms``).
    invoke_latency_ms: float | None = None
    drop_writes: int = 0

    @property
    def frame_factor(self) -> float:
        """The factor each frame's cost is multiplied by."""
        return 1.0 if self.slow_factor is None else self.slow_factor

    def frame_s(self, config: EmulatorConfig) -> float:
        """Real seconds one frame costs: the frame cost times this render's slow factor
        (only frame work is slowed), divided by the speed factor."""
        return config.real_s(config.frame_cost_ms * self.frame_factor)

    def invoke_latency_s(self, config: EmulatorConfig) -> float:
        """Real seconds an invocation takes to start: this render's own latency, else the
        config's, divided by the speed factor (never slowed)."""
        latency = self.invoke_latency_ms
        return config.real_s(config.invoke_latency_ms if latency is None else latency)

    def take_chunk_fault(self, chunk: int) -> ChunkFault | None:
        for fault in self.chunk_faults:
            if fault.chunk == chunk and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def take_dropped_write(self) -> bool:
        if self.drop_writes > 0:
            self.drop_writes -= 1
            return True
        return False


@dataclass
class Faults:
    """What is armed. Each ``*_next``/render fault applies to the next launch(es)."""

    throttles: int = 0
    throttle_routines: frozenset[str] | None = None
    _pending: list[RenderFaults] = field(default_factory=list)
    slow_factor: float = 1.0

    def throttle_next(self, count: int = 1, *, routines: set[str] | None = None) -> None:
        """Answer the next ``count`` invocations (of ``routines``, default all) with HTTP 429
        TooManyRequestsException, before the function runs."""
        self.throttles += count
        self.throttle_routines = frozenset(routines) if routines else None

    def take_throttle(self, routine: str | None) -> bool:
        if self.throttles <= 0:
            return False
        if self.throttle_routines is not None and routine not in self.throttle_routines:
            return False
        self.throttles -= 1
        return True

    def _next(self) -> RenderFaults:
        if not self._pending:
            self._pending.append(RenderFaults())
        return self._pending[-1]

    def next_render(self) -> RenderFaults:
        """Start arming faults for one more render (faults armed after it go to the next)."""
        faults = RenderFaults()
        self._pending.append(faults)
        return faults

    def fail_chunk(
        self, chunk: int, *, retryable: bool = True, times: int = 1, message: str | None = None
    ) -> None:
        """Chunk ``chunk`` of the next render fails ``times`` times: a retryable error is
        retried while the render's ``maxRetries`` allow, a fatal one fails the render."""
        self._next().chunk_faults.append(ChunkFault(chunk, retryable, times, message))

    def crash_launch_before_metadata(self) -> None:
        """The next launch dies (as out of memory) after opening the site: renderMetadata
        stays null and nothing more is written; only the reader can tell it timed out."""
        self._next().crash_before_metadata = True

    def stall_launch(self, *, after_chunks: bool = False) -> None:
        """The next launch hangs until its timeout: no more progress writes, then the
        timeout webhook (and cancel.json when cancellation is on). It hangs right after
        writing its metadata (a chunk timeout: no chunk is rendered), or with
        ``after_chunks`` once every chunk is rendered (a stitch timeout)."""
        if after_chunks:
            self._next().stall_after_chunks = True
        else:
            self._next().stall = True

    def slow_renders(self, factor: float) -> None:
        """Every render from now on takes ``factor`` times longer per frame (the frame
        work only: invoke latency and stitching keep their cost). A render armed with its
        own ``next_render().slow_factor`` keeps that one."""
        self.slow_factor = factor

    def drop_progress_writes(self, count: int = 1) -> None:
        """The next render loses ``count`` progress.json uploads (as failed uploads do)."""
        self._next().drop_writes += count

    def take_render_faults(self) -> RenderFaults:
        """The faults for a launch that starts now."""
        faults = self._pending.pop(0) if self._pending else RenderFaults()
        if faults.slow_factor is None:
            faults.slow_factor = self.slow_factor
        return faults
