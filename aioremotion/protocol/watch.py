"""The watch rules as a sans-IO state machine: when to read, and what a read means.

A watch reads ``renders/<id>/progress.json`` over and over until the render is done or
failed. Everything that decides *what to do* lives here, free of I/O and of any event
loop (like h11 for HTTP/1.1): the poll schedule, progress that never goes backwards, the
ETag and raw-body cache that answers 304s, the grace period for a missing file, the
heartbeat, the budget of consecutive errors, a render whose launch died before writing
its metadata, and when the output must be HEADed. The caller does the I/O:

1. ask :meth:`WatchMachine.next_action` (passing ``now``, monotonic seconds) what to do:
   :class:`Read` progress.json (conditionally, ``if_none_match``), :class:`Head` the output,
   or :class:`Sleep` (with ``WatchOptions.estimate_every_s``, a Sleep until the next
   estimate may carry an estimated :class:`~aioremotion.events.Progress` to emit
   first); or the watch is over: :class:`Finished` (its last event was
   :class:`~aioremotion.events.Done` or :class:`~aioremotion.events.Failed`),
   :class:`GiveUp` (too many errors in a row: raise
   :class:`~aioremotion.watching.WatchError`) or :class:`Abort` (a permanent error: raise it);
2. do it, and feed the outcome to :meth:`WatchMachine.receive`: :class:`ReadOk` (a 200 with
   its ETag and body), :class:`NotModified` (a 304), :class:`StatusReply` (the status
   Lambda's answer), :class:`HeadResult`, :class:`NotFound`, :class:`TransientError` or
   :class:`PermanentError`. It returns the event to emit, if any: a
   :class:`~aioremotion.events.Progress` only when something changed (or as a heartbeat),
   then exactly one ``Done`` or ``Failed``.

Between polls the machine keeps the last ETag and the raw body (about 2.5 KB), never a
parsed model (about 20 KB): a 304 parses the body again.

Example (a fake clock and scripted reads; no event loop):
    >>> import random
    >>> from aioremotion.protocol.progress import ProgressContext
    >>> ctx = ProgressContext.for_function(
    ...     "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec", region="us-east-1",
    ...     render_id="k1a2b3c4d5", bucket_name="remotionlambda-useast1-abcdefghij")
    >>> machine = WatchMachine(ctx, start=0.0, rng=random.Random(0))
    >>> machine.next_action(0.0)                  # the first read waits first_delay_s
    Sleep(seconds=0.25)
    >>> machine.next_action(0.25)
    Read(if_none_match=None)
    >>> body = b'{"functionLaunched": 1760000000000, "lambdasInvoked": 1}'
    >>> event = machine.receive(ReadOk(body, etag='"v1"'), now_ms=1_760_000_000_200)
    >>> event.type, round(event.progress, 4)
    ('progress', 0.0333)
    >>> machine.next_action(0.25)                 # it changed: read again at base_s
    Sleep(seconds=0.5)
    >>> machine.next_action(0.75)
    Read(if_none_match='"v1"')
    >>> machine.receive(NotModified(), now_ms=1_760_000_000_700) is None   # nothing new
    True
    >>> round(machine.next_action(0.75).seconds, 3)  # unchanged: back off, with jitter
    0.367
    >>> machine.next_action(1.2)
    Read(if_none_match='"v1"')
    >>> machine.receive(PermanentError(PermissionError("no")))
    >>> machine.next_action(1.3), machine.finished
    (Abort(error=PermissionError('no')), True)
"""

from __future__ import annotations

import random
from typing import Final, Literal

from ..errors import ProgressFileError, RemotionError
from .events import Done, Failed, Progress, render_stage
from .progress import (
    NOT_CHECKED,
    WEIGHT_COMBINING,
    WEIGHT_ENCODING,
    WEIGHT_FRAMES,
    OutputHead,
    OutputHeadRequest,
    ProgressContext,
    ProgressFile,
    RenderProgress,
    _NotChecked,
    compute_render_progress,
    parse_progress_file,
)
from .schedule import PollSchedule
from .watch_events import _differs, metadata_timeout_failure, progress_event
from .watch_messages import (
    Abort,
    Action,
    Finished,
    GiveUp,
    Head,
    HeadResult,
    NotFound,
    NotModified,
    PermanentError,
    Pushed,
    Read,
    ReadOk,
    Sleep,
    StatusReply,
    TransientError,
    WatchInput,
    WatchProtocolError,
)
from .watch_options import METADATA_GRACE_MS, Via, WatchOptions
from .webhooks import outcome_event

__all__ = [
    "METADATA_GRACE_MS",
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
    "Via",
    "WatchInput",
    "WatchMachine",
    "WatchOptions",
    "WatchProtocolError",
    "metadata_timeout_failure",
    "progress_event",
    "render_stage",
]

#: A read is due this close to its time (a loop's sleeps never land exactly on it).
_READ_TOLERANCE_S: Final = 1e-3
#: Estimates closer than this to what was sent are not sent (a 0.01 % step moves no bar).
_MIN_ESTIMATE_STEP: Final = 1e-4


# ---------------------------------------------------------------- the machine

#: One generator for every watch's jitter (a Random is 2.8 KB: 28 MB for 10,000 watches).
_SHARED_RNG = random.Random()

_State = Literal["read", "reading", "head", "sleep", "estimate", "ended"]

#: How much of the overall progress each measured stage moves (Remotion's weights: the
#: frames count as rendered and as encoded; the chunks move nothing; combining its tenth).
_STAGE_WEIGHT: Final = {"frames": WEIGHT_FRAMES + WEIGHT_ENCODING, "chunks": 0.0,
                        "combine": WEIGHT_COMBINING}


class _HeadStep:
    """A read waiting for the output's HEAD (held only while the HEAD is in flight)."""

    __slots__ = ("changed", "file", "now_ms", "request")

    def __init__(self, file: ProgressFile, now_ms: float, changed: bool,
                 request: OutputHeadRequest) -> None:
        self.file = file
        self.now_ms = now_ms
        self.changed = changed
        self.request = request


class WatchMachine:
    """One render's watch rules: feed it reads, errors and the clock; it says what to do.

    ``ctx`` says which render (and its function's timeout, for the progress computation);
    ``start`` is the monotonic time the watch began (the clock later passed as ``now``);
    ``rng`` drives the schedule's jitter (a shared generator by default). Not thread-safe:
    one machine per watched render.

    The poll in flight is dated by the ``now`` of the :meth:`next_action` call that
    returned its :class:`Read`; ``now_ms`` passed to :meth:`receive` (the wall clock, ms
    since the epoch, when the read completed) is the time the progress is computed at.

    Example (a render that is done once its output exists: the machine asks for a HEAD):
        >>> import json
        >>> ctx = ProgressContext.for_function(
        ...     "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec", region="us-east-1",
        ...     render_id="k1a2b3c4d5", bucket_name="remotionlambda-useast1-abcdefghij")
        >>> combined = {"renderMetadata": {"startedDate": 1_760_000_000_000,
        ...     "totalChunks": 1, "frameRange": [0, 59], "codec": "h264"},
        ...     "chunks": [0, 0], "framesRendered": 60, "combinedFrames": 60,
        ...     "timeToCombine": 900, "lambdasInvoked": 1}
        >>> machine = WatchMachine(ctx, start=0.0)
        >>> machine.next_action(0.0)
        Sleep(seconds=0.25)
        >>> machine.next_action(0.25)
        Read(if_none_match=None)
        >>> machine.receive(ReadOk(json.dumps(combined).encode(), etag='"e"'),
        ...                 now_ms=1_760_000_010_000) is None
        True
        >>> machine.next_action(0.0)
        Head(request=OutputHeadRequest(bucket_name='remotionlambda-useast1-abcdefghij', \
key='renders/k1a2b3c4d5/out.mp4', custom_credentials=None))
        >>> done = machine.receive(HeadResult(OutputHead(content_length=1234)))
        >>> done.type, done.size, machine.next_action(0.1) == Finished(done)
        ('done', 1234, True)
    """

    __slots__ = (
        "_basis",
        "_best",
        "_end",
        "_errors_in_row",
        "_etag",
        "_file",
        "_first_missing",
        "_last",
        "_last_sent_at",
        "_now",
        "_pending",
        "_push",
        "_pushed",
        "_raw",
        "_read_at",
        "_settled",
        "_state",
        "context",
        "options",
        "schedule",
    )

    def __init__(
        self,
        ctx: ProgressContext,
        options: WatchOptions | None = None,
        *,
        start: float,
        rng: random.Random | None = None,
        push: bool = False,
    ) -> None:
        self.context: ProgressContext = ctx
        self.options: WatchOptions = options if options is not None else WatchOptions()
        self.schedule: PollSchedule = PollSchedule(
            self.options.policy, rng=rng if rng is not None else _SHARED_RNG, start=start
        )
        self._state: _State = "sleep"  # the first read waits the policy's first_delay_s
        self._now = start
        self._etag: str | None = None
        self._raw: bytes | None = None
        self._file: ProgressFile | None = None  # only when a read gave no raw body
        self._pending: _HeadStep | None = None
        self._best = 0.0
        self._last: Progress | None = None
        self._last_sent_at = start
        self._errors_in_row = 0
        self._first_missing: float | None = None
        self._end: Finished | GiveUp | Abort | None = None
        self._read_at = start
        # What an estimate extrapolates from: (the last read's progress, its stage's
        # progress, how much of the overall progress that stage moves).
        self._basis: tuple[float, float, float] | None = None
        # push: an outcome hub will deliver the webhook (slow safety poll unless progress
        # is wanted); pushed: a success webhook came (read now, then on the policy);
        # settled: the last read succeeded (errors and a missing file keep the policy)
        self._push = push and not self.options.progress_wanted
        self._pushed = False
        self._settled = False

    # ------------------------------------------------------------------ state

    @property
    def finished(self) -> bool:
        """Whether the watch is over (:meth:`next_action` returns how it ended)."""
        return self._end is not None

    @property
    def outcome(self) -> Done | Failed | None:
        """The Done or Failed the watch ended with (None while running, or after
        :class:`GiveUp` or :class:`Abort`)."""
        return self._end.event if isinstance(self._end, Finished) else None

    @property
    def etag(self) -> str | None:
        """The ETag of the last progress.json read (what the next :class:`Read` sends)."""
        return self._etag

    @property
    def best_progress(self) -> float:
        """The highest progress reported so far (events never go below it)."""
        return self._best

    @property
    def consecutive_errors(self) -> int:
        """Transient errors in a row (reset by a successful read)."""
        return self._errors_in_row

    # ------------------------------------------------------------------ outputs

    def next_action(self, now: float) -> Action:
        """What to do at ``now`` (monotonic seconds): :class:`Read`, :class:`Head` or
        :class:`Sleep`, else how the watch ended.

        A Read or Head stays the answer until its outcome is fed to :meth:`receive`; a
        Sleep is returned once (sleep, then ask again).
        """
        if self._end is not None:
            return self._end
        every = self.options.estimate_every_s
        if self._state == "sleep":
            delay = self.schedule.next_delay(now)
            if self._push and self._settled and not self._pushed:
                delay = max(delay, self.options.safety_poll_s)  # the webhook will tell
            if every is None or self._last is None:
                self._state = "read"
                return Sleep(delay)
            self._state, self._read_at = "estimate", now + delay
            return Sleep(min(delay, every))
        if self._state == "estimate":
            assert every is not None
            if now < self._read_at - _READ_TOLERANCE_S:
                return Sleep(min(every, self._read_at - now), self._estimate(now))
            self._state = "read"
        if self._state == "head":
            assert self._pending is not None
            return Head(self._pending.request)
        if self._state == "read":
            self._now = now
            self._state = "reading"
        return Read(self._etag)

    # ------------------------------------------------------------------ inputs

    def receive(self, result: WatchInput, *, now_ms: float | None = None
                ) -> Progress | Done | Failed | None:
        """Feed the outcome of the action in flight; returns the event to emit, if any.

        ``now_ms`` (the wall clock, ms since the epoch) is needed with :class:`ReadOk` and
        :class:`NotModified`: the progress is computed at that time.
        """
        if self._end is not None:
            raise WatchProtocolError(f"the watch has ended ({self._end!r}); "
                                     f"{type(result).__name__} is too late")
        if isinstance(result, Pushed):
            return self._pushed_outcome(result)
        if self._state not in ("reading", "head"):
            raise WatchProtocolError(f"{type(result).__name__} received, but no read or HEAD "
                                     "is in flight: call next_action() first")
        if isinstance(result, TransientError):
            self._error(result.message, result.error)
            return None
        if isinstance(result, PermanentError):
            self._abort(result.error)
            return None
        if isinstance(result, NotFound):
            return self._not_found(result.message)
        if isinstance(result, HeadResult):
            if self._state != "head" or self._pending is None:
                raise WatchProtocolError("HeadResult received, but no HEAD was asked for")
            step = self._pending
            return self._compute(step.file, step.now_ms, step.changed, result.head)
        if self._state != "reading":
            raise WatchProtocolError(f"{type(result).__name__} received while a HEAD is in "
                                     "flight: send HeadResult")
        if isinstance(result, StatusReply):
            return self._progress(result.progress, changed=True)
        if now_ms is None:
            raise WatchProtocolError(f"{type(result).__name__} needs now_ms, the wall clock "
                                     "the progress is computed at")
        if isinstance(result, NotModified):
            return self._not_modified(now_ms)
        return self._read_ok(result, now_ms)

    # ------------------------------------------------------------------ the rules

    def _read_ok(self, read: ReadOk, now_ms: float) -> Progress | Done | Failed | None:
        file = read.parsed
        if file is None:
            if read.body is None:
                raise WatchProtocolError("ReadOk needs the body, or the parsed file")
            try:
                file = parse_progress_file(read.body)
            except ProgressFileError as exc:
                self._error(f"{type(exc).__name__}: {exc}", exc)
                return None
        changed = read.etag != self._etag or (self._raw is None and self._file is None)
        self._etag = read.etag
        self._raw = read.body
        self._file = None if read.body is not None else file
        return self._compute(file, now_ms, changed, NOT_CHECKED)

    def _not_modified(self, now_ms: float) -> Progress | Done | Failed | None:
        if self._raw is not None:
            try:
                file = parse_progress_file(self._raw)  # a 304: parse again (~0.1 ms)
            except ProgressFileError as exc:
                self._error(f"{type(exc).__name__}: {exc}", exc)
                return None
        elif self._file is not None:
            file = self._file
        else:
            never = ProgressFileError("progress.json was not modified, but was never read")
            self._error(f"ProgressFileError: {never}", never)
            return None
        return self._compute(file, now_ms, False, NOT_CHECKED)

    def _compute(self, file: ProgressFile, now_ms: float, changed: bool,
                 head: OutputHead | _NotChecked | None) -> Progress | Done | Failed | None:
        self._pending = None
        try:
            result = compute_render_progress(file, self.context, now_ms=now_ms,
                                             output_head=head)
        except ProgressFileError as exc:
            self._error(f"{type(exc).__name__}: {exc}", exc)
            return None
        except RemotionError as exc:  # a still render: asking again will not help
            self._abort(exc)
            return None
        if isinstance(result, OutputHeadRequest):
            if not isinstance(head, _NotChecked):  # pragma: no cover - compute's contract
                raise WatchProtocolError("the progress computation asked for a second HEAD")
            self._pending = _HeadStep(file, now_ms, changed, result)
            self._state = "head"
            return None
        return self._progress(result, changed=changed)

    def _progress(self, progress: RenderProgress, *, changed: bool
                  ) -> Progress | Done | Failed | None:
        now = self._now
        self._errors_in_row = 0
        self._first_missing = None
        self._settled = True
        self._state = "sleep"
        opts = self.options
        event = progress_event(progress, self.context, floor=opts.progress_floor,
                               metadata_grace_s=opts.metadata_grace_s)
        if not isinstance(event, Progress):
            return self._finish(event)
        raw = event.progress
        self._best = max(self._best, raw)
        stage, stage_progress = render_stage(progress)
        measured: str = stage
        if stage == "frames" and not stage_progress:
            # The metadata is written before the renderers are invoked (1-3 s of invoke
            # latency): the frames' rate is measured from the first rendered frame, their
            # start placed between the last read without one and the first with one.
            measured, stage_progress = "starting", None
        self.schedule.observe(now, changed=changed, progress=stage_progress, stage=measured,
                              last_stage=stage == "combine")
        weight = _STAGE_WEIGHT.get(measured)
        self._basis = (None if weight is None or stage_progress is None
                       else (raw, stage_progress, weight))
        eta = self.schedule.eta(now)
        event = event.model_copy(update={"progress": self._best, "eta_seconds": eta})
        last = self._last
        if last is None or _differs(event, last):
            self._last, self._last_sent_at = event, now
            return event
        if opts.heartbeat_s is not None and now - self._last_sent_at >= opts.heartbeat_s:
            self._last_sent_at = now
            return last.model_copy(update={"heartbeat": True, "eta_seconds": eta,
                                           "progress": self._best})
        return None

    def _estimate(self, now: float) -> Progress | None:
        """The progress predicted at ``now`` from the current stage's rate, if it is
        ahead of everything sent so far (never backwards, never beyond the stage's end)."""
        last, basis = self._last, self._basis
        if last is None or basis is None:
            return None
        share = self.schedule.stage_estimate(now)
        if share is None:
            return None
        progress, stage_share, weight = basis
        estimate = min(1.0, progress + weight * max(0.0, share - stage_share))
        if estimate <= self._best + _MIN_ESTIMATE_STEP:
            return None
        self._best, self._last_sent_at = estimate, now
        return last.model_copy(update={"progress": estimate, "estimated": True,
                                       "eta_seconds": self.schedule.eta(now)})

    def _pushed_outcome(self, pushed: Pushed) -> Done | Failed | None:
        if self._state in ("reading", "head"):
            raise WatchProtocolError("Pushed received while a read or HEAD is in flight: "
                                     "feed the read's outcome first")
        if pushed.outcome.render_id != self.context.render_id:
            raise WatchProtocolError(f"Pushed outcome of render {pushed.outcome.render_id} "
                                     f"fed to the watch of {self.context.render_id}")
        event = outcome_event(pushed.outcome)
        if event is not None:
            return self._finish(event)
        self._pushed = True   # success: read progress.json now for the size and cost
        self._state = "read"
        return None

    def _not_found(self, message: str) -> Done | Failed | None:
        now = self._now
        self._pending = None
        if self._first_missing is None:
            self._first_missing = now
        if now - self._first_missing >= self.options.not_found_grace_s:
            return self._finish(Failed(message=message, render_id=self.context.render_id))
        self.schedule.observe_error(now)
        self._settled = False
        self._state = "sleep"
        return None

    def _error(self, message: str, error: BaseException | None) -> None:
        self._pending = None
        self._errors_in_row += 1
        if self._errors_in_row >= self.options.max_consecutive_errors:
            self._end = GiveUp(
                f"Stopped watching render {self.context.render_id} after "
                f"{self._errors_in_row} consecutive errors; the last: {message}",
                error,
            )
            self._state = "ended"
            return
        self.schedule.observe_error(self._now)
        self._settled = False
        self._state = "sleep"

    def _abort(self, error: Exception) -> None:
        self._pending = None
        self._end = Abort(error)
        self._state = "ended"

    def _finish(self, event: Done | Failed) -> Done | Failed:
        self._end = Finished(event)
        self._state = "ended"
        self._last = None
        self._raw = self._file = None
        return event
