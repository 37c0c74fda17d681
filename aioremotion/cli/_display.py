"""How the command line shows renders: a live bar on a terminal (drawn by
:mod:`._terminal`, no dependency), sparse plain lines when stderr is not a terminal, or
JSON Lines on stdout with ``--json``.

Bars and human lines go to stderr; stdout only carries machine output. A bar line holds
the label, the bar, the percent, what the render is doing, frames, chunks, the ETA of
that stage (counted down between reads on this process's clock) and the cost so far;
the parts that do not fit the terminal's width are left out, least useful first.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, Literal

from .. import environment
from ..events import STAGE_WORDS, Done, Failed, Progress, format_eta, shown_progress
from ..handles import RenderHandle
from ._common import emit_json, human_size
from ._terminal import LiveRegion, bar

__all__ = ["BatchReporter", "Mode", "RenderReporter", "bar_line", "choose_mode", "format_eta"]

Mode = Literal["json", "bar", "plain"]

#: Plain mode prints a progress line when progress advanced this much...
PLAIN_STEP = 0.10
#: ...or when this many seconds passed since the last line.
PLAIN_INTERVAL_S = 15.0
#: The bar's width range (it takes what the line leaves, within these).
MIN_BAR, MAX_BAR = 10, 40
#: Labels longer than this are cut on bar lines.
MAX_LABEL = 24
#: What a bar line leaves for the parts after the percent before sizing the bar (most of
#: the usual "  rendering  1500 frames  12/40 chunks  ETA 1:05  $0.012").
TAIL_ROOM = 48


def choose_mode(json_output: bool, stream: IO[str] | None = None) -> Mode:
    """``json`` with ``--json``; a live bar when stderr is a terminal (not ``TERM=dumb``);
    else plain lines."""
    if json_output:
        return "json"
    err = stream or sys.stderr
    if not (hasattr(err, "isatty") and err.isatty()) or environment.setting("terminal") == "dumb":
        return "plain"
    return "bar"


def _chunks(event: Progress) -> str:
    return f"{event.chunks}/{event.total_chunks}" if event.total_chunks else str(event.chunks)


def progress_line(label: str, event: Progress, eta: float | None = None) -> str:
    """One plain progress line (``eta``: the event's, counted down, if given)."""
    stage = f"{STAGE_WORDS[event.stage]}, " if event.stage else ""
    cost = f", {event.cost_display} so far" if event.cost_display else ""
    shown = event.eta_seconds if eta is None else eta
    return (f"{label}: {event.progress:6.1%}  {stage}{event.frames_rendered} frames, "
            f"{_chunks(event)} chunks, ETA {format_eta(shown)}{cost}")


def outcome_line(label: str, event: Done | Failed) -> str:
    """One plain line for a finished render."""
    if isinstance(event, Done):
        cost = f", {event.cost_display}" if event.cost_display else ""
        return f"{label}: done {event.url} ({human_size(event.size)}{cost})"
    explanation = f" ({event.explanation})" if event.explanation else ""
    return f"{label}: failed: {event.message}{explanation}"


def bar_line(label: str, fraction: float, parts: Sequence[tuple[int, str]], width: int,
             *, unicode: bool = True) -> str:
    """``label``, a bar, the percent and ``parts`` in one line of at most ``width``
    characters. ``parts`` are ``(priority, text)`` in display order. The bar's width
    depends on the terminal's only (it leaves :data:`TAIL_ROOM` for the parts), so that it
    stays put while the parts change; when the line does not fit, the part with the
    highest priority number goes first, then the bar shrinks, then it goes.

    >>> bar_line("job", 0.5, [(1, "ETA 0:10"), (2, "$0.001")], 80)
    'job  ██████████▌░░░░░░░░░░   50%  ETA 0:10  $0.001'
    >>> bar_line("job", 0.5, [(1, "ETA 0:10"), (2, "$0.001")], 30, unicode=False)
    'job  #####-----   50%'
    """
    if len(label) > MAX_LABEL:
        label = label[: MAX_LABEL - 1] + ("…" if unicode else "~")
    percent = f"{int(min(1.0, max(0.0, fraction)) * 100):3d}%"
    fixed = len(label) + len(percent) + 4
    size = min(MAX_BAR, max(MIN_BAR, width - fixed - TAIL_ROOM))
    kept = [part for part in parts if part[1]]
    tail = "".join(f"  {text}" for _, text in kept)
    while kept and fixed + size + len(tail) > width:
        kept.remove(max(kept, key=lambda part: part[0]))
        tail = "".join(f"  {text}" for _, text in kept)
    size = min(size, width - fixed - len(tail))
    if size < MIN_BAR // 2:
        return f"{label}  {percent}{tail}"
    return f"{label}  {bar(fraction, size, unicode=unicode)}  {percent}{tail}"


def _parts(event: Progress | Done | Failed | None, eta: float | None) -> list[tuple[int, str]]:
    """The parts of a render's bar line, in display order, with their priorities."""
    if event is None:
        return [(0, "waiting")]
    if isinstance(event, Failed):
        return [(0, "failed")]
    if isinstance(event, Done):
        chunks = f"{event.chunks}/{event.chunks} chunks" if event.chunks is not None else ""
        frames = f"{event.frames_rendered} frames" if event.frames_rendered is not None else ""
        return [(0, "done"), (3, frames), (4, chunks), (2, event.cost_display or "")]
    # dropped first when the line is too long: frames, then chunks, cost, the stage (it
    # says why a bar sits at 90%), the ETA
    return [(2, STAGE_WORDS[event.stage] if event.stage else ""),
            (5, f"{event.frames_rendered} frames"), (4, f"{_chunks(event)} chunks"),
            (1, f"ETA {format_eta(eta)}"), (3, event.cost_display or "")]


class _Shown:
    """One render as a bar shows it: its latest event, and when it came (for the ETA)."""

    __slots__ = ("at", "event", "label", "progress")

    def __init__(self, label: str) -> None:
        self.label = label
        self.event: Progress | Done | Failed | None = None
        self.at = 0.0
        self.progress = 0.0

    def set(self, event: Progress | Done | Failed, now: float) -> None:
        self.event, self.at = event, now
        if isinstance(event, Progress):  # a full bar means done: until then, 99% at most
            self.progress = shown_progress(event)
        elif isinstance(event, Done):
            self.progress = 1.0

    def eta(self, now: float) -> float | None:
        """The event's ETA, less the time since it came."""
        event = self.event
        if not isinstance(event, Progress) or event.eta_seconds is None:
            return None
        return max(0.0, event.eta_seconds - (now - self.at))

    def line(self, width: int, now: float, unicode: bool) -> str:
        return bar_line(self.label, self.progress, _parts(self.event, self.eta(now)), width,
                        unicode=unicode)


class _Console:
    """What both reporters share: human lines on stderr, above the live region if any."""

    mode: Mode
    stream: IO[str]
    _region: LiveRegion | None
    _clock: Callable[[], float]

    def _open_region(self, width: Callable[[], int] | None,
                     height: Callable[[], int] | None) -> None:
        if self.mode == "bar":
            self._region = LiveRegion(self.stream, clock=self._clock, width=width,
                                      height=height)

    def note(self, message: str) -> None:
        """A human line on stderr (above the bar when there is one)."""
        if self.mode == "json":
            return
        if self._region is not None:
            self._region.note(message)
        else:
            print(message, file=self.stream, flush=True)

    def _redraw(self, *, force: bool = False) -> None:
        if self._region is not None:
            self._region.update(self._lines(), force=force)

    def _lines(self) -> list[str]:  # pragma: no cover - overridden
        return []

    def __exit__(self, *exc: object) -> None:
        if self._region is not None:
            self._region.close()
            self._region = None


class RenderReporter(_Console):
    """Shows one render's events (``render``, ``watch``): use it with ``with``."""

    def __init__(self, mode: Mode, label: str, *, stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 width: Callable[[], int] | None = None,
                 height: Callable[[], int] | None = None) -> None:
        self.mode = mode
        self.label = label
        self.stream = stream or sys.stderr
        self._clock = clock
        self._shown = _Shown(label)
        self._region = None
        self._plain_progress = -1.0
        self._plain_at = 0.0
        self._open_region(width, height)

    def __enter__(self) -> RenderReporter:
        self._redraw(force=True)
        return self

    def _lines(self) -> list[str]:
        assert self._region is not None
        return [self._shown.line(self._region.width, self._clock(), self._region.unicode)]

    def started(self, handle: RenderHandle, *, resumed: bool = False) -> None:
        """The render was accepted (or is being followed)."""
        if self.mode == "json":
            emit_json({"type": "started", "resumed": resumed,
                       **handle.model_dump(mode="json", by_alias=True, exclude_none=True)})
            return
        verb = "following" if resumed else "started"
        self.note(f"{self.label}: {verb} render {handle.render_id} in {handle.bucket_name} "
                  f"({handle.function_name}, {handle.region})")
        self._plain_at = self._clock()

    def event(self, event: Progress | Done | Failed) -> None:
        """A watch event."""
        if self.mode == "json":
            emit_json(event.model_dump(mode="json"))
            return
        now = self._clock()
        self._shown.set(event, now)
        if self._region is not None:
            self._redraw(force=not isinstance(event, Progress))
        elif isinstance(event, Progress) and (
                event.progress - self._plain_progress >= PLAIN_STEP
                or now - self._plain_at >= PLAIN_INTERVAL_S):
            self._plain_progress, self._plain_at = event.progress, now
            self.note(progress_line(self.label, event))
        if isinstance(event, Done):  # a failure is reported by the command, on stderr
            self.note(outcome_line(self.label, event))


class BatchReporter(_Console):
    """Shows a batch: a bar per active render plus a total line (or plain lines, or JSON
    Lines of events tagged with each job's ``key`` and ``line``)."""

    def __init__(self, mode: Mode, *, total: int, already_finished: int = 0,
                 stream: IO[str] | None = None, clock: Callable[[], float] = time.monotonic,
                 width: Callable[[], int] | None = None,
                 height: Callable[[], int] | None = None) -> None:
        self.mode = mode
        self.total = total
        self.stream = stream or sys.stderr
        self.finished = already_finished
        self.failed = 0
        self._clock = clock
        self._region = None
        self._jobs: dict[int, _Shown] = {}
        self._open_region(width, height)

    def __enter__(self) -> BatchReporter:
        self._redraw(force=True)
        return self

    def _lines(self) -> list[str]:
        region = self._region
        assert region is not None
        now, width, unicode = self._clock(), region.width, region.unicode
        room = max(1, region.height - 3)  # the total line, and one for "... more"
        shown = list(self._jobs.values())
        lines = [job.line(width, now, unicode) for job in shown[:room]]
        if len(shown) > room:
            lines.append(f"... and {len(shown) - room} more running")
        moving = self.finished + sum(job.progress for job in shown)
        failed = (3, f"{self.failed} failed") if self.failed else (3, "")
        lines.append(bar_line("total", moving / max(1, self.total),
                              [(0, f"{self.finished}/{self.total} jobs"), failed],
                              width, unicode=unicode))
        return lines

    def started(self, index: int, label: str, tags: dict[str, Any], handle: RenderHandle,
                *, resumed: bool) -> None:
        """A job's render started (or is re-attached to, ``resumed``)."""
        if self.mode == "json":
            emit_json({**tags, "type": "started", "resumed": resumed,
                       **handle.model_dump(mode="json", by_alias=True, exclude_none=True)})
            return
        self._jobs[index] = _Shown(label)
        if self._region is not None:
            self._redraw()
        else:
            verb = "re-attached to" if resumed else "started"
            self.note(f"{label}: {verb} render {handle.render_id}")

    def event(self, index: int, tags: dict[str, Any], event: Progress | Done | Failed) -> None:
        """A job's watch event (plain mode shows only the outcome)."""
        if self.mode == "json":
            emit_json({**tags, **event.model_dump(mode="json")})
            return
        job = self._jobs.get(index)
        if job is not None:
            job.set(event, self._clock())
            self._redraw()

    def finished_job(self, index: int, label: str, result: dict[str, Any],
                     cost: str | None = None) -> None:
        """A job ended (``result`` is its results-file record; ``cost`` its cost as
        displayed)."""
        self.finished += 1
        ok = result.get("status") == "done"
        if not ok:
            self.failed += 1
        self._jobs.pop(index, None)
        if self.mode == "json":
            return
        if ok:
            where = result.get("file") or result.get("url")
            extra = f", {cost}" if cost else ""
            line = f"{label}: done {where} ({human_size(result.get('size') or 0)}{extra})"
        else:
            line = f"{label}: {result.get('status')}: {result.get('error')}"
        self.note(f"[{self.finished}/{self.total}] {line}")
        self._redraw(force=True)
