"""How the command line shows renders: a rich progress bar on a terminal, sparse plain
lines when stderr is not a terminal, or JSON Lines on stdout with ``--json``.

Bars and human lines go to stderr; stdout only carries machine output.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from ..events import Done, Failed, Progress
from ..handles import RenderHandle
from ._common import emit_json, human_size

__all__ = ["BatchReporter", "Mode", "RenderReporter", "choose_mode", "format_eta"]

Mode = Literal["json", "bar", "plain"]

#: Plain mode prints a progress line when progress advanced this much...
PLAIN_STEP = 0.10
#: ...or when this many seconds passed since the last line.
PLAIN_INTERVAL_S = 15.0


def choose_mode(json_output: bool, stream: IO[str] | None = None) -> Mode:
    """``json`` with ``--json``; a bar when stderr is a terminal and rich is installed;
    else plain lines."""
    if json_output:
        return "json"
    err = stream or sys.stderr
    if not (hasattr(err, "isatty") and err.isatty()):
        return "plain"
    try:
        import rich  # noqa: F401
    except ImportError:
        return "plain"
    return "bar"


def format_eta(seconds: float | None) -> str:
    """``75.2`` -> ``'1:15'``; ``None`` -> ``'-'``."""
    if seconds is None:
        return "-"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _chunks(event: Progress) -> str:
    return f"{event.chunks}/{event.total_chunks}" if event.total_chunks else str(event.chunks)


def _cost(event: Progress) -> str:
    return event.cost_display or f"${event.cost_so_far:.4f}"


def progress_line(label: str, event: Progress) -> str:
    """One plain progress line."""
    return (f"{label}: {event.progress:6.1%}  {event.frames_rendered} frames, "
            f"{_chunks(event)} chunks, ETA {format_eta(event.eta_seconds)}, "
            f"{_cost(event)} so far")


def outcome_line(label: str, event: Done | Failed) -> str:
    """One plain line for a finished render."""
    if isinstance(event, Done):
        cost = f", {event.cost_display}" if event.cost_display else ""
        return f"{label}: done {event.url} ({human_size(event.size)}{cost})"
    explanation = f" ({event.explanation})" if event.explanation else ""
    return f"{label}: failed: {event.message}{explanation}"


def _progress_factory(stream: IO[str]) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[frames]}"),
        TextColumn("{task.fields[chunks]}"),
        TextColumn("{task.fields[eta]}"),
        TextColumn("{task.fields[cost]}"),
        console=Console(file=stream),
        refresh_per_second=8,
    )


def _fields(event: Progress | None) -> dict[str, str]:
    if event is None:
        return {"frames": "", "chunks": "", "eta": "ETA -", "cost": ""}
    return {"frames": f"{event.frames_rendered} frames", "chunks": f"{_chunks(event)} chunks",
            "eta": f"ETA {format_eta(event.eta_seconds)}", "cost": _cost(event)}


@dataclass
class _PlainState:
    last_progress: float = -1.0
    last_at: float = 0.0


class _Console:
    """What both reporters share: human lines on stderr, above a rich bar if one runs."""

    mode: Mode
    stream: IO[str]
    _progress: Any

    def note(self, message: str) -> None:
        """A human line on stderr (above the bar when there is one)."""
        if self.mode == "json":
            return
        if self._progress is not None:
            self._progress.console.print(message, highlight=False, markup=False)
        else:
            print(message, file=self.stream, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class RenderReporter(_Console):
    """Shows one render's events (``render``, ``watch``): use it with ``with``."""

    def __init__(self, mode: Mode, label: str, *, stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.mode = mode
        self.label = label
        self.stream = stream or sys.stderr
        self._clock = clock
        self._plain = _PlainState()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> RenderReporter:
        if self.mode == "bar":
            self._progress = _progress_factory(self.stream)
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=100, **_fields(None))
        return self

    def started(self, handle: RenderHandle, *, resumed: bool = False) -> None:
        """The render was accepted (or is being followed)."""
        if self.mode == "json":
            emit_json({"type": "started", "resumed": resumed,
                       **handle.model_dump(mode="json", by_alias=True, exclude_none=True)})
            return
        verb = "following" if resumed else "started"
        self.note(f"{self.label}: {verb} render {handle.render_id} in {handle.bucket_name} "
                  f"({handle.function_name}, {handle.region})")
        self._plain.last_at = self._clock()

    def event(self, event: Progress | Done | Failed) -> None:
        """A watch event."""
        if self.mode == "json":
            emit_json(event.model_dump(mode="json"))
            return
        if isinstance(event, Progress):
            if self._progress is not None:
                self._progress.update(self._task, completed=event.progress * 100,
                                      **_fields(event))
                return
            now = self._clock()
            if (event.progress - self._plain.last_progress >= PLAIN_STEP
                    or now - self._plain.last_at >= PLAIN_INTERVAL_S):
                self._plain.last_progress, self._plain.last_at = event.progress, now
                self.note(progress_line(self.label, event))
            return
        if isinstance(event, Done) and self._progress is not None:
            done_fields = {"eta": "ETA 0:00", "cost": event.cost_display or ""}
            if event.frames_rendered is not None:
                done_fields["frames"] = f"{event.frames_rendered} frames"
            if event.chunks is not None:
                done_fields["chunks"] = f"{event.chunks} chunks"
            self._progress.update(self._task, completed=100, **done_fields)
        if isinstance(event, Done):  # a failure is reported by the command, on stderr
            self.note(outcome_line(self.label, event))


@dataclass
class _Job:
    label: str
    task: Any = None


@dataclass
class BatchReporter(_Console):
    """Shows a batch: a bar per active render plus a total (or plain lines, or JSON Lines
    of events tagged with each job's ``key`` and ``line``)."""

    mode: Mode
    total: int
    already_finished: int = 0
    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    finished: int = 0
    failed: int = 0
    _progress: Any = None
    _total_task: Any = None
    _jobs: dict[int, _Job] = field(default_factory=dict)

    def __enter__(self) -> BatchReporter:
        self.finished = self.already_finished
        if self.mode == "bar":
            self._progress = _progress_factory(self.stream)
            self._progress.start()
            self._total_task = self._progress.add_task(
                "total", total=max(1, self.total), completed=self.finished,
                **self._total_fields())
        return self

    def _total_fields(self) -> dict[str, str]:
        return {"frames": f"{self.finished}/{self.total} jobs",
                "chunks": f"{self.failed} failed" if self.failed else "",
                "eta": "", "cost": ""}

    def started(self, index: int, label: str, tags: dict[str, Any], handle: RenderHandle,
                *, resumed: bool) -> None:
        """A job's render started (or is re-attached to, ``resumed``)."""
        if self.mode == "json":
            emit_json({**tags, "type": "started", "resumed": resumed,
                       **handle.model_dump(mode="json", by_alias=True, exclude_none=True)})
            return
        job = self._jobs[index] = _Job(label)
        if self._progress is not None:
            job.task = self._progress.add_task(label, total=100, **_fields(None))
        else:
            verb = "re-attached to" if resumed else "started"
            self.note(f"{label}: {verb} render {handle.render_id}")

    def event(self, index: int, tags: dict[str, Any], event: Progress | Done | Failed) -> None:
        """A job's watch event (plain mode shows only the outcome)."""
        if self.mode == "json":
            emit_json({**tags, **event.model_dump(mode="json")})
            return
        job = self._jobs.get(index)
        if isinstance(event, Progress) and job is not None and job.task is not None:
            self._progress.update(job.task, completed=event.progress * 100, **_fields(event))

    def finished_job(self, index: int, label: str, result: dict[str, Any]) -> None:
        """A job ended (``result`` is its results-file record)."""
        self.finished += 1
        ok = result.get("status") == "done"
        if not ok:
            self.failed += 1
        job = self._jobs.pop(index, None)
        if self.mode == "json":
            return
        if self._progress is not None:
            if job is not None and job.task is not None:
                self._progress.remove_task(job.task)
            self._progress.update(self._total_task, completed=self.finished,
                                  **self._total_fields())
        if ok:
            line = f"{label}: done {result.get('url')} ({human_size(result.get('size') or 0)})"
        else:
            line = f"{label}: {result.get('status')}: {result.get('error')}"
        self.note(f"[{self.finished}/{self.total}] {line}")
