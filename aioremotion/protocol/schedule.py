"""When to poll ``renders/<id>/progress.json`` next: a pure scheduling policy.

A render watcher reads progress.json over and over (a conditional GET: a new ETag means
something changed, a 304 that nothing did) until the render is done or failed. Every GET
costs money, yet users want to hear about completion quickly. This module decides *when*
the next read happens; the watcher loop does the I/O and tells it what it saw. Nothing
here sleeps, reads a clock or touches the network: time is passed in as ``now`` (seconds
on a monotonic clock) and randomness comes from an injectable :class:`random.Random`.

The rules, in order:

* before the first read, wait ``first_delay_s`` after ``start`` (a quick first look);
* after a read that saw a change, wait ``base_s``;
* while nothing changes, back off exponentially: the ``k``-th unchanged read in a row
  waits up to ``base_s * backoff**k``, capped at ``cap_s``, with full jitter (uniform
  between ``floor_s`` and that ceiling, so many watchers do not read in lockstep);
* when a finish time can be predicted (a least-squares line through the last
  ``eta_samples`` increasing progress values) and it is within ``near_finish_window_s``
  (before or after), read every ``near_finish_s`` instead of backing off; never sleep
  past the predicted finish, nor past the start of that window;
* while the last stage has begun but shows no rate yet (a combine too short to report
  progress), read at half ``base_s`` (at least ``near_finish_s``), backing off while
  nothing changes;
* while that window is still ahead, sleep ``eta_share`` of the time left until it
  (at least the wait the rules above give, at most ``cap_s``): a render predicted to
  end in a minute is read a few times on the way, not every ``base_s``;
* after a transient error (throttling, a 5xx, a timeout), back off on a separate
  counter, also capped at ``cap_s``, which wins over the near-finish cadence (do not
  hammer a throttled bucket); a successful read resets it;
* never wait less than ``floor_s``: Remotion rewrites progress.json at most every
  250 ms, so reading faster only buys 304s; and never wait past ``deadline`` (if set) by
  more than that floor.

Example:
    >>> import random
    >>> from aioremotion.schedule import PollPolicy, PollSchedule
    >>> s = PollSchedule(PollPolicy.default(), rng=random.Random(7), start=0.0)
    >>> s.next_delay(0.0)                        # the quick first look
    0.25
    >>> s.observe(0.25, changed=True, progress=0.0)
    >>> s.next_delay(0.25)                       # it changed: poll again at base_s
    0.5
    >>> s.observe(0.75, changed=False, progress=0.0)
    >>> s.observe(1.75, changed=False, progress=0.0)
    >>> round(s.next_delay(1.75), 3)             # idle twice: jittered in [0.25, 2.0]
    1.433
    >>> s.consecutive_idle
    2
    >>> t = 2.0
    >>> for p in (0.1, 0.2, 0.3, 0.4):           # steady progress, 0.2 per second
    ...     t += 0.5
    ...     s.observe(t, changed=True, progress=p)
    >>> round(s.eta(t), 3)                       # (1 - 0.4) / 0.2
    3.0
    >>> s.predicted_finish
    7.0
    >>> s.next_delay(t)                          # change seen, finish still far
    0.5
    >>> s.observe(5.5, changed=True, progress=0.7)
    >>> s.next_delay(5.5)                        # within 2 s of the finish: tighten
    0.3
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields

from ..errors import InvalidOptionsError

__all__ = ["PollPolicy", "PollSchedule"]

_PROGRESS_FILE_PERIOD_S = 0.25
"""Remotion's launch function rewrites progress.json at most this often."""


def _tradeoff_scale(value: float, spread: float, s: float) -> float:
    """``value * spread**s`` rounded to the millisecond (``s`` is in -1 .. 1)."""
    return round(value * math.pow(spread, s), 3)


@dataclass(frozen=True)
class PollPolicy:
    """The knobs of a :class:`PollSchedule`; all durations are in seconds.

    Attributes:
        first_delay_s: wait before the first read, counted from the schedule's ``start``.
        floor_s: the shortest wait ever returned. progress.json changes at most every
            250 ms, so a lower floor mostly pays for 304s.
        base_s: the wait after a read that saw a change (the cadence while the render
            makes progress; also the refresh rate of a progress bar).
        cap_s: the longest wait while nothing changes or while errors repeat.
        backoff: growth factor of the wait per unchanged read (and per error) in a row.
        near_finish_s: the cadence around the predicted finish.
        near_finish_window_s: how far before and after the predicted finish the tight
            cadence applies; later than that the prediction is considered stale.
        jitter: the share of the backoff interval that is randomized: 1.0 is full jitter
            (uniform between ``floor_s`` and the backoff ceiling), 0.0 none.
        eta_samples: how many recent increasing progress samples the ETA fit uses.
        eta_share: while the predicted finish is more than ``near_finish_window_s``
            away, the share of the time left until that window to sleep after a read
            (at most ``cap_s``); 0 keeps the ``base_s`` cadence for the whole render.
        cost_latency: the trade-off this policy was derived from by :meth:`for_tradeoff`,
            0 = lowest latency … 1 = lowest cost. It is a record, not a control:
            constructing ``PollPolicy(cost_latency=...)`` directly does not rescale the
            other knobs; use :meth:`for_tradeoff` for that.

    The defaults are :meth:`default`, i.e. ``for_tradeoff(0.5)``.

    Example:
        >>> PollPolicy.cheap().base_s, PollPolicy.default().base_s
        (2.0, 0.5)
        >>> PollPolicy(cap_s=0.1)
        Traceback (most recent call last):
        ...
        aioremotion.errors.InvalidOptionsError: Invalid options:
          cap_s: must be >= base_s (0.5); got 0.1
    """

    first_delay_s: float = 0.25
    floor_s: float = _PROGRESS_FILE_PERIOD_S
    base_s: float = 0.5
    cap_s: float = 8.0
    backoff: float = 2.0
    near_finish_s: float = 0.3
    near_finish_window_s: float = 2.0
    jitter: float = 1.0
    eta_samples: int = 5
    eta_share: float = 0.25
    cost_latency: float = 0.5

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            wanted = int if f.name == "eta_samples" else (int, float)
            if isinstance(value, bool) or not isinstance(value, wanted):
                kind = "an integer" if f.name == "eta_samples" else "a number"
                problems.append((f.name, f"must be {kind}; got {value!r}"))
            elif not math.isfinite(value):
                problems.append((f.name, f"must be finite; got {value!r}"))
        if problems:
            raise InvalidOptionsError(problems)

        def at_least(name: str, low: float, what: str) -> None:
            value = getattr(self, name)
            if value < low:
                problems.append((name, f"must be >= {what}; got {value!r}"))

        if self.floor_s <= 0:
            problems.append(("floor_s", f"must be > 0; got {self.floor_s!r}"))
        at_least("first_delay_s", self.floor_s, f"floor_s ({self.floor_s!r})")
        at_least("base_s", self.floor_s, f"floor_s ({self.floor_s!r})")
        at_least("cap_s", self.base_s, f"base_s ({self.base_s!r})")
        at_least("near_finish_s", self.floor_s, f"floor_s ({self.floor_s!r})")
        at_least("backoff", 1.0, "1.0")
        at_least("near_finish_window_s", 0.0, "0")
        at_least("eta_samples", 2, "2")
        for name in ("first_delay_s", "near_finish_s"):
            if self.cap_s >= self.base_s and getattr(self, name) > self.cap_s:
                problems.append((name, f"must be <= cap_s ({self.cap_s!r}); "
                                       f"got {getattr(self, name)!r}"))
        for name in ("jitter", "eta_share", "cost_latency"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append((name, f"must be between 0 and 1; got {getattr(self, name)!r}"))
        if problems:
            raise InvalidOptionsError(problems)

    @classmethod
    def for_tradeoff(cls, cost_latency: float) -> PollPolicy:
        """A policy scaled along one axis: 0 = lowest latency … 1 = lowest cost.

        0.5 gives the defaults. Towards 1 every interval grows (``base_s`` 0.5 → 2 s,
        ``cap_s`` 8 → 32 s, ``near_finish_s`` 0.3 → 0.6 s, ``first_delay_s`` 0.25 → 3 s:
        the first look then usually finds the frames rendering), the backoff steepens
        (2 → 2.5), the share of the predicted time left that is slept grows
        (``eta_share`` 0.25 → 0.6) and the tight window around the predicted
        finish narrows (±2 → ±1 s). Towards 0 the opposite, with every interval held at
        or above the 250 ms floor (``cap_s`` 2 s, ``backoff`` 1.5, ``eta_share`` 0.1,
        window ±4 s).

        Example:
            >>> p = PollPolicy.for_tradeoff(1.0)
            >>> p.base_s, p.cap_s, p.near_finish_s, p.near_finish_window_s, p.eta_share
            (2.0, 32.0, 0.6, 1.0, 0.6)
            >>> PollPolicy.for_tradeoff(0.0).base_s
            0.25
            >>> PollPolicy.for_tradeoff(0.5) == PollPolicy()
            True
        """
        if isinstance(cost_latency, bool) or not isinstance(cost_latency, (int, float)) or not (
            0.0 <= cost_latency <= 1.0
        ):
            raise InvalidOptionsError(
                [("cost_latency", f"must be a number between 0 and 1; got {cost_latency!r}")]
            )
        s = 2.0 * float(cost_latency) - 1.0  # -1 (latency) .. 0 (default) .. +1 (cost)
        floor = _PROGRESS_FILE_PERIOD_S
        return cls(
            first_delay_s=max(floor, _tradeoff_scale(0.25, 12.0 if s > 0 else 4.0, s)),
            floor_s=floor,
            base_s=max(floor, _tradeoff_scale(0.5, 4.0, s)),
            cap_s=_tradeoff_scale(8.0, 4.0, s),
            backoff=round(2.0 + 0.5 * s, 3),
            near_finish_s=max(floor, _tradeoff_scale(0.3, 2.0, s)),
            near_finish_window_s=_tradeoff_scale(2.0, 2.0, -s),
            jitter=1.0,
            eta_share=_tradeoff_scale(0.25, 2.4 if s > 0 else 2.5, s),
            cost_latency=float(cost_latency),
        )

    @classmethod
    def default(cls) -> PollPolicy:
        """The balanced preset (``for_tradeoff(0.5)``, the field defaults)."""
        return cls.for_tradeoff(0.5)

    @classmethod
    def interactive(cls) -> PollPolicy:
        """For a person watching a live display (the command line's bar, a notebook, the
        demo page): read every ``base_s`` (0.5 s) while the render moves and at least
        once a second while it does not (``cap_s`` 1 s), without stretching the sleeps
        towards a distant predicted finish (``eta_share`` 0). A bar then moves about
        twice a second, and an error or the finish shows within a second.

        What it costs: about two reads a second for the whole render, so about 120 GETs
        for a 1-minute render where :meth:`default` makes 15 to 40 and :meth:`cheap` 5
        to 15 (S3 charges about $0.0004 per 1,000 GETs: about $0.00005 a minute of
        rendering, and completion is seen within about 0.3 s instead of up to 3 s).
        Batches and servers keep :meth:`default`; the demo page reads on this. Live
        displays (the command line's bar, notebooks) use
        :func:`~aioremotion.watching.live_watch_options` instead: the default reads with
        estimated progress between them came closer to the true progress in the benchmark
        at a seventh of these reads. It is not on the :meth:`for_tradeoff` axis
        (``cost_latency`` records 0, its latency end).

        Example:
            >>> p = PollPolicy.interactive()
            >>> p.base_s, p.cap_s, p.eta_share
            (0.5, 1.0, 0.0)
        """
        return cls(first_delay_s=0.25, base_s=0.5, cap_s=1.0, backoff=1.5, near_finish_s=0.25,
                   near_finish_window_s=2.0, eta_share=0.0, cost_latency=0.0)

    @classmethod
    def cheap(cls) -> PollPolicy:
        """The fewest reads (``for_tradeoff(1.0)``): about 6 for a 10 s render, 12 for
        2 minutes in the schedule's simulation (one per second would be 10 and 120).
        Completion may be noticed 1-2 s later than with :meth:`default` (2 s at p50 in
        the benchmark), and progress is seen far less often (sleeps of up to 32 s)."""
        return cls.for_tradeoff(1.0)


class PollSchedule:
    """The state of one render's polling: what was seen, and when to look next.

    ``start`` is the time the render was started (monotonic seconds, the clock the caller
    also passes as ``now``). ``deadline``, if given, is a time not to sleep past (e.g. the
    render's timeout); the caller decides what to do once :meth:`expired` is true. A
    schedule is not thread-safe; use one per watched render.

    Example:
        >>> import random
        >>> s = PollSchedule(PollPolicy.cheap(), rng=random.Random(1), start=100.0,
        ...                  deadline=103.0)
        >>> s.next_delay(100.0)                      # first_delay_s is 3.0
        3.0
        >>> s.observe(101.0, changed=True, progress=0.10)
        >>> s.next_delay(101.0)                      # base_s is 2.0
        2.0
        >>> s.observe(101.5, changed=True, progress=0.12)
        >>> s.next_delay(101.5)                      # the deadline comes first
        1.5
        >>> s.observe_error(102.0)
        >>> s.consecutive_errors
        1
        >>> s.expired(103.0)
        True
    """

    def __init__(
        self,
        policy: PollPolicy | None = None,
        *,
        start: float,
        rng: random.Random | None = None,
        deadline: float | None = None,
    ) -> None:
        self.policy: PollPolicy = policy if policy is not None else PollPolicy.default()
        self.start: float = _finite("start", start)
        self.deadline: float | None = None if deadline is None else _finite("deadline", deadline)
        self._rng = rng if rng is not None else random.Random()
        # A list trimmed to eta_samples (a deque's first block alone is ~0.7 KB).
        self._samples: list[tuple[float, float]] = []
        self._finish: float | None = None
        self._stage: str | None = None
        self._origin: float | None = None
        self._last_stage = True
        self._last_seen: float | None = None
        self._idle = 0
        self._errors = 0
        self._polls = 0

    # ------------------------------------------------------------------ observations

    def observe(self, now: float, *, changed: bool, progress: float | None,
                stage: str | None = None, last_stage: bool = True) -> None:
        """Record a successful read at ``now``.

        ``changed`` is whether progress.json differed from the previous read (a new ETag
        or new values; a 404 before the file exists counts as unchanged). ``progress`` is
        the progress 0..1 if known; values outside are clamped, NaN is ignored. Only
        changed reads with a progress above the last sample's feed the ETA fit (and not
        0, which lasts however long the render takes to start).

        ``stage`` names the phase ``progress`` measures, when the caller tracks phases
        that run at different speeds (Remotion renders the frames, then combines the
        chunks). A new stage starts a new fit, whose first line is drawn from when the
        stage began: its first read if nothing was done yet (the prediction errs early),
        else midway between that read and the previous one, so that one read of a stage
        under way already predicts its end. While the last stage has no prediction yet,
        the reads come at half ``base_s`` (at least ``near_finish_s``, backing off while
        nothing changes): a short combine may end before it shows any progress.
        ``last_stage=False`` says that the predicted end is not the render's finish: one
        read is landed on it (to see the next stage begin) instead of the tight
        near-finish cadence, which is kept for the end of the last stage.

        Example:
            >>> s = PollSchedule(PollPolicy.cheap(), start=0.0)
            >>> s.observe(10.0, changed=True, progress=0.25, stage="frames")
            >>> s.observe(20.0, changed=True, progress=0.75, stage="frames")
            >>> s.predicted_finish                   # the frames should be done at 25 s
            25.0
            >>> s.observe(25.0, changed=True, progress=0.0, stage="combine")
            >>> s.predicted_finish is None           # no sample of the new stage yet
            True
            >>> s.observe(26.0, changed=True, progress=0.25, stage="combine")
            >>> s.predicted_finish                   # a quarter in 1 s since 25 s
            29.0
        """
        previous = self._last_seen
        now = self._tick(now)
        if stage is not None and stage != self._stage:
            self._samples.clear()
            self._finish = None  # that was the end of the previous stage
            self._origin = _stage_origin(previous, now, progress)
            self._stage = stage
        self._last_stage = last_stage
        self._errors = 0
        if changed:
            self._idle = 0
        elif not self._near_finish(now):
            # Tight reads around a predicted finish do not count towards the backoff,
            # so a stale prediction hands back to a gentle backoff, not straight to cap_s.
            self._idle += 1
        if changed and progress is not None and not math.isnan(progress):
            p = min(1.0, max(0.0, float(progress)))
            # Non-increasing values say nothing about the rate, and neither does 0.
            if p > 0.0 and (not self._samples or p > self._samples[-1][1]):
                self._samples.append((now, p))
                del self._samples[: -self.policy.eta_samples]
                fitted = self._fit_finish()
                if fitted is not None:  # else the previous prediction stands
                    self._finish = fitted

    def observe_error(self, now: float) -> None:
        """Record a failed read (throttled, 5xx, timeout): the next waits back off."""
        self._tick(now)
        self._errors += 1

    # ------------------------------------------------------------------ decisions

    def next_delay(self, now: float) -> float:
        """Seconds to wait from ``now`` before the next read (always ``>= floor_s``)."""
        now = _finite("now", now)
        policy = self.policy
        if self._last_seen is None:
            delay = min(policy.cap_s, max(policy.floor_s, self.start + policy.first_delay_s - now))
        elif self._errors:
            delay = self._jittered(self._ceiling(self._errors))
        else:
            delay = policy.base_s if self._idle == 0 else self._jittered(self._ceiling(self._idle))
            delay = self._towards_finish(now, delay)
            if self._finish is None and self._last_stage and self._stage is not None:
                # The last stage began and nothing predicts its end yet (a short combine
                # shows no progress before it is over): its end is near, whatever it is.
                delay = min(delay, self._unpredicted_last_stage())
        if self.deadline is not None:
            delay = min(delay, self.deadline - now)
        return max(policy.floor_s, delay)

    def eta(self, now: float) -> float | None:
        """Predicted seconds from ``now`` until progress reaches 1 (0 if overdue), or None.

        None until at least two increasing progress samples were seen.
        """
        now = _finite("now", now)
        if self._finish is None:
            return None
        return max(0.0, self._finish - now)

    def stage_estimate(self, now: float) -> float | None:
        """The current stage's progress (0..1) predicted at ``now``: along a line from the
        last sample to the predicted end, never below that sample, never beyond 1 (the
        next stage's start). None without a prediction.

        Example:
            >>> s = PollSchedule(PollPolicy.default(), start=0.0)
            >>> s.observe(1.0, changed=True, progress=0.2, stage="frames")
            >>> s.observe(2.0, changed=True, progress=0.4, stage="frames")
            >>> s.stage_estimate(2.5), s.stage_estimate(9.0)   # 0.2 a second, then held
            (0.5, 1.0)
        """
        now = _finite("now", now)
        finish = self._finish
        if finish is None or not self._samples:
            return None
        t, p = self._samples[-1]
        if finish <= t:
            return p
        return min(1.0, max(p, p + (1.0 - p) * (now - t) / (finish - t)))

    @property
    def predicted_finish(self) -> float | None:
        """The predicted time (same clock as ``now``) progress reaches 1, or None."""
        return self._finish

    def expired(self, now: float) -> bool:
        """Whether ``deadline`` is set and ``now`` has reached it."""
        return self.deadline is not None and _finite("now", now) >= self.deadline

    @property
    def consecutive_idle(self) -> int:
        """Reads in a row that saw no change (outside the near-finish window)."""
        return self._idle

    @property
    def consecutive_errors(self) -> int:
        """Failed reads in a row (reset by any successful read)."""
        return self._errors

    @property
    def polls(self) -> int:
        """Reads recorded so far, successful or not."""
        return self._polls

    # ------------------------------------------------------------------ internals

    def _tick(self, now: float) -> float:
        now = _finite("now", now)
        if self._last_seen is not None and now < self._last_seen:
            raise ValueError(
                f"now went backwards ({now!r} < {self._last_seen!r}); pass a monotonic clock"
            )
        self._last_seen = now
        self._polls += 1
        return now

    def _ceiling(self, k: int) -> float:
        """``min(cap_s, base_s * backoff**k)`` without overflowing for large ``k``."""
        policy = self.policy
        if policy.backoff == 1.0:
            return policy.base_s
        if k * math.log(policy.backoff) >= math.log(policy.cap_s / policy.base_s):
            return policy.cap_s
        return min(policy.cap_s, policy.base_s * policy.backoff**k)

    def _jittered(self, ceiling: float) -> float:
        floor = self.policy.floor_s
        return ceiling - self.policy.jitter * self._rng.random() * (ceiling - floor)

    def _unpredicted_last_stage(self) -> float:
        """The wait while the last stage shows no rate: half ``base_s`` (at least
        ``near_finish_s``), growing with the backoff while nothing changes."""
        policy = self.policy
        first = max(policy.near_finish_s, policy.base_s / 2)
        return min(policy.cap_s, first * policy.backoff ** min(self._idle, 32))

    def _near_finish(self, now: float) -> bool:
        if self._finish is None or not self._last_stage:
            return False
        return abs(now - self._finish) <= self.policy.near_finish_window_s

    def _towards_finish(self, now: float, delay: float) -> float:
        """Shorten ``delay`` so a predicted finish is watched closely."""
        finish = self._finish
        if finish is None:
            return delay
        policy = self.policy
        if not self._last_stage:  # a stage's end: land one read just after it, no window
            ahead = finish + policy.floor_s - now
            if ahead <= 0:
                return delay
            if self._errors == 0:
                delay = max(delay, min(policy.cap_s, policy.eta_share * ahead))
            return min(delay, ahead)
        window_start = finish - policy.near_finish_window_s
        if now < window_start:  # sleep towards the window, never past its start
            ahead = window_start - now
            if self._errors == 0:
                delay = max(delay, min(policy.cap_s, policy.eta_share * ahead))
            return min(delay, ahead)
        if now > finish + policy.near_finish_window_s:  # stale prediction
            return delay
        delay = min(delay, policy.near_finish_s)
        if now < finish:  # land a read on the predicted finish itself
            delay = min(delay, finish - now)
        return delay

    def _fit_finish(self) -> float | None:
        """Least-squares line through the samples; the time it reaches progress 1."""
        samples = self._samples
        if samples[-1][1] >= 1.0:
            return samples[-1][0]
        if len(samples) < 2:
            origin = self._origin
            t, p = samples[0]
            if origin is None or origin >= t:
                return None
            finish = origin + (t - origin) / p
            return finish if math.isfinite(finish) else None
        n = len(samples)
        mean_t = math.fsum(t for t, _ in samples) / n
        mean_p = math.fsum(p for _, p in samples) / n
        var_t = math.fsum((t - mean_t) ** 2 for t, _ in samples)
        cov = math.fsum((t - mean_t) * (p - mean_p) for t, p in samples)
        if var_t <= 0.0 or cov <= 0.0:
            return None
        slope = cov / var_t
        finish = mean_t + (1.0 - mean_p) / slope
        return finish if math.isfinite(finish) else None


def _stage_origin(previous: float | None, now: float, progress: float | None) -> float | None:
    """When a stage first seen at ``now`` began, for the first line of its fit.

    Seen with nothing done yet: now (erring towards an early finish: a read too many, not
    a late one), so a caller whose stage may be seen before its work begins passes the
    stage only once its work shows (the watch machine tells the schedule ``frames`` once
    a frame is rendered: the renderers start 1-3 s after the metadata is written). Seen
    already under way: between the previous read, which showed another
    stage, and this one; the midpoint is the estimate, so one read of a stage under way
    gives an ETA. Unknown (None) on the very first read.

    >>> _stage_origin(10.0, 12.0, 0.0), _stage_origin(10.0, 12.0, 0.3)
    (12.0, 11.0)
    >>> _stage_origin(None, 12.0, 0.3) is None
    True
    """
    if progress is None or math.isnan(progress) or progress <= 0.0:
        return now
    return None if previous is None else (previous + now) / 2


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds; got {value!r}")
    return value
