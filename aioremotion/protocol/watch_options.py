"""How a watch polls and what it reports: :class:`WatchOptions` (pure values; the machine
that follows them is :class:`~aioremotion.protocol.watch.WatchMachine`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from ..errors import InvalidOptionsError
from .schedule import PollPolicy

__all__ = ["METADATA_GRACE_MS", "Via", "WatchOptions"]

#: Where a watch reads progress from: ``"s3"`` (conditional GETs of progress.json, computed
#: locally) or ``"lambda"`` (the status routine; 8-30x dearer, uses Lambda concurrency).
Via: TypeAlias = Literal["s3", "lambda"]

#: How long past its timeoutTimestamp a render may stay without metadata before the
#: watcher declares that its main function died (the official code never does).
METADATA_GRACE_MS: Final = 20_000

_NO_SOURCE: Final = object()


# ---------------------------------------------------------------- options


@dataclass(frozen=True, init=False)
class WatchOptions:
    """How a watch polls and what it reports.

    ``policy``: the poll schedule; ``via``: ``"s3"`` (default; conditional GETs of
    progress.json) or ``"lambda"`` (the status routine, 8-30x dearer) — the same word as
    ``RemotionLambda.get_progress(via=...)``; the old name ``source=`` still works for one
    release, with a :class:`DeprecationWarning`. ``progress_floor``: the smallest progress
    reported (the Next.js template uses 0.03); ``heartbeat_s``: re-send the last progress
    after this long without a change (for UIs); ``not_found_grace_s``: how long a missing
    progress.json is tolerated; ``max_consecutive_errors``: transient errors in a row
    before the watch gives up; ``metadata_grace_s``: how long past its
    ``timeoutTimestamp`` a render may lack metadata before it is reported as crashed.
    ``estimate_every_s``: between reads, send an estimated :class:`Progress`
    (``estimated=True``) this often, from the current stage's measured rate (for live
    displays: a bar fed by few reads then still moves; None, the default: only reads).

    With an outcome hub (``watch(..., hub=...)``: the watch finishes on the verified
    webhook), ``safety_poll_s`` is the slow poll kept in case no webhook ever arrives
    (Remotion retries a delivery at most twice), and ``poll_progress`` says whether
    progress.json is still read on ``policy`` for :class:`Progress` events a caller
    displays (``None``: only for a live display, when ``heartbeat_s`` or
    ``estimate_every_s`` is set). Without a hub both are ignored: the watch polls on
    ``policy``.

    Example:
        >>> WatchOptions(via="lambda", heartbeat_s=5).via
        'lambda'
        >>> WatchOptions(via="sqs")
        Traceback (most recent call last):
        ...
        aioremotion.errors.InvalidOptionsError: Invalid options:
          via: must be 's3' or 'lambda'; got 'sqs'
    """

    policy: PollPolicy
    via: Via
    progress_floor: float
    heartbeat_s: float | None
    not_found_grace_s: float
    max_consecutive_errors: int
    metadata_grace_s: float
    estimate_every_s: float | None
    safety_poll_s: float
    poll_progress: bool | None

    def __init__(
        self,
        policy: PollPolicy | None = None,
        via: Via = "s3",
        progress_floor: float = 0.0,
        heartbeat_s: float | None = None,
        not_found_grace_s: float = 10.0,
        max_consecutive_errors: int = 20,
        metadata_grace_s: float = METADATA_GRACE_MS / 1000,
        estimate_every_s: float | None = None,
        safety_poll_s: float = 60.0,
        poll_progress: bool | None = None,
        *,
        source: Via | object = _NO_SOURCE,
    ) -> None:
        if source is not _NO_SOURCE:
            warnings.warn("WatchOptions(source=...) is now WatchOptions(via=...), the name "
                          "get_progress(via=...) uses; 'source' goes in the next release",
                          DeprecationWarning, stacklevel=2)
            via = source  # type: ignore[assignment]
        if via not in ("s3", "lambda"):
            raise InvalidOptionsError([("via", f"must be 's3' or 'lambda'; got {via!r}")])
        if estimate_every_s is not None and (
                isinstance(estimate_every_s, bool) or not isinstance(estimate_every_s, (int, float))
                or not 0.0 < estimate_every_s < float("inf")):
            raise InvalidOptionsError([("estimate_every_s", "must be a positive number of "
                                        f"seconds, or None; got {estimate_every_s!r}")])
        if not safety_poll_s > 0:
            raise InvalidOptionsError([("safety_poll_s",
                                        f"must be positive; got {safety_poll_s!r}")])
        values = {
            "policy": policy if policy is not None else PollPolicy.default(),
            "via": via,
            "progress_floor": progress_floor,
            "heartbeat_s": heartbeat_s,
            "not_found_grace_s": not_found_grace_s,
            "max_consecutive_errors": max_consecutive_errors,
            "metadata_grace_s": metadata_grace_s,
            "estimate_every_s": None if estimate_every_s is None else float(estimate_every_s),
            "safety_poll_s": safety_poll_s,
            "poll_progress": poll_progress,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def progress_wanted(self) -> bool:
        """Whether a watch with a hub still polls for progress (see ``poll_progress``)."""
        if self.poll_progress is not None:
            return self.poll_progress
        return self.heartbeat_s is not None or self.estimate_every_s is not None

    @property
    def source(self) -> Via:
        """Deprecated: the old name of :attr:`via`."""
        warnings.warn("WatchOptions.source is now WatchOptions.via", DeprecationWarning,
                      stacklevel=2)
        return self.via
