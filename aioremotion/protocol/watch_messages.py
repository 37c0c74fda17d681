"""The messages between a :class:`~aioremotion.protocol.watch.WatchMachine` and the loop
that drives it: the actions it asks for (read, HEAD, sleep, finished, give up, abort) and
the inputs the loop feeds back (a read's result, a 304, a status reply, a HEAD, not
found, a transient or permanent error). Pure values; see :mod:`aioremotion.protocol.watch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from .events import Done, Failed, Progress
from .progress import OutputHead, OutputHeadRequest, ProgressFile, RenderProgress
from .webhooks import RenderOutcome

__all__ = [
    "Abort",
    "Action",
    "Finished",
    "GiveUp",
    "Head",
    "HeadResult",
    "NotFound",
    "NotModified",
    "PermanentError",
    "Pushed",
    "Read",
    "ReadOk",
    "Sleep",
    "StatusReply",
    "TransientError",
    "WatchInput",
    "WatchProtocolError",
]


# ---------------------------------------------------------------- actions (machine → caller)


@dataclass(frozen=True, slots=True)
class Read:
    """Read progress.json, conditionally when ``if_none_match`` is set (a 304 then means
    unchanged); with ``via="lambda"``, invoke the status routine instead."""

    if_none_match: str | None = None


@dataclass(frozen=True, slots=True)
class Head:
    """HEAD the render's output: reply with :class:`HeadResult`."""

    request: OutputHeadRequest


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this many seconds, then ask for the next action. ``event``, when set, is an
    estimated :class:`~aioremotion.events.Progress` to emit first (only watches with
    ``estimate_every_s`` get these; a loop that ignores it only shows fewer updates)."""

    seconds: float
    event: Progress | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Finished:
    """The watch is over; ``event`` (already returned by :meth:`WatchMachine.receive`) is
    its outcome."""

    event: Done | Failed


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Too many errors in a row: stop watching without an outcome (the render may still be
    running). ``error`` is the last error, when there was an exception object."""

    message: str
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class Abort:
    """A permanent error ended the watch: raise ``error``."""

    error: Exception


Action: TypeAlias = Read | Head | Sleep | Finished | GiveUp | Abort


# ---------------------------------------------------------------- inputs (caller → machine)


@dataclass(frozen=True, slots=True)
class ReadOk:
    """A 200: progress.json's raw ``body`` and its ``etag``. ``parsed`` may carry the file
    already parsed from that body (it is then not parsed again); one of the two is needed,
    and the body is what the machine keeps for later 304s."""

    body: bytes | None
    etag: str | None = None
    parsed: ProgressFile | None = None


@dataclass(frozen=True, slots=True)
class NotModified:
    """A 304: progress.json still has the ETag last read."""


@dataclass(frozen=True, slots=True)
class StatusReply:
    """What the status Lambda answered (``via="lambda"``); always counts as a change."""

    progress: RenderProgress


@dataclass(frozen=True, slots=True)
class HeadResult:
    """The output's HEAD: its size, or ``None`` when it is missing or forbidden."""

    head: OutputHead | None


@dataclass(frozen=True, slots=True)
class NotFound:
    """progress.json does not exist (yet?); ``message`` becomes the Failed event's message
    once the grace period is over."""

    message: str


@dataclass(frozen=True, slots=True)
class TransientError:
    """A read failed in a way that may heal (throttling, a 5xx, a timeout, a dropped
    connection): retried with backoff, within the budget of consecutive errors."""

    message: str
    error: BaseException | None = None

    @classmethod
    def from_exception(cls, error: BaseException) -> TransientError:
        """``TransientError("SlowDown: ...", error)``: the message names the error's type.

        >>> TransientError.from_exception(TimeoutError("read timed out")).message
        'TimeoutError: read timed out'
        """
        return cls(f"{type(error).__name__}: {error}", error)


@dataclass(frozen=True, slots=True)
class PermanentError:
    """A read failed in a way that will not heal: the watch ends at once (:class:`Abort`)."""

    error: Exception


@dataclass(frozen=True, slots=True)
class Pushed:
    """A verified webhook's outcome for this render arrived (through an outcome hub).

    Fed when no read or HEAD is in flight (while sleeping): ``error`` and ``timeout``
    finish the watch with :class:`Failed`; ``success`` makes the machine read
    progress.json once at once, for the size and final cost (the webhook has neither
    size nor chunks), then finish with :class:`Done` by the polling rules."""

    outcome: RenderOutcome


WatchInput: TypeAlias = (
    ReadOk | NotModified | StatusReply | HeadResult | NotFound | TransientError | PermanentError
    | Pushed
)


class WatchProtocolError(RuntimeError):
    """The caller fed the machine something it did not ask for (a bug in the loop)."""
