"""The one retry layer of aioremotion: throttled Lambda invocations, and one backoff helper.

Only a throttle (HTTP 429) is retried, because AWS guarantees that a throttled invocation
never ran: sending it again cannot start a render twice. Nothing else is retried here:
not a lost answer (:class:`~aioremotion.errors.StartOutcomeUnknownError`), not a
permanent error (no such function, access denied, bad credentials, ...).

How many times a start is sent, in total:

* called directly (``render_media``, ``render_still``, ...): at most
  ``RemotionLambda(throttle_retry=...).attempts`` times (default :data:`DEFAULT_ATTEMPTS`);
* started by :class:`~aioremotion.Batch` (so also ``render_many`` and ``aioremotion batch``):
  at most ``Batch.start_retry.attempts`` times (default: the client's ``throttle_retry``).
  The batch owns the loop (so its waits are not shielded from cancellation, and its start
  pacer sees every throttle); the client then makes exactly one attempt per send.

Waits between attempts are "full jitter" exponential backoff: attempt ``n`` (from 1) is
followed by a wait drawn uniformly from ``[0, min(cap_s, base_s * 2**(n-1))]``; with the
defaults (0.1 s, capped at 30 s, 10 attempts) a start throttled every time is given up
after at most 51 s of waiting (25 s on average).

Example:
    >>> policy = ThrottleRetry(attempts=3, base_s=0.5, cap_s=10)
    >>> [backoff(n, base_s=policy.base_s, cap_s=policy.cap_s) for n in (1, 2, 3, 10)]
    [0.5, 1.0, 2.0, 10]
    >>> 0 <= backoff(3, base_s=0.5, cap_s=10, jitter=0.5) == 1.0
    True
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from .errors import ConcurrencyLimitError
from .protocol.replies import concurrency_limit_message

__all__ = ["DEFAULT_ATTEMPTS", "ThrottleRetry", "backoff", "retry_throttled"]

T = TypeVar("T")

#: How many times a throttled invocation is sent at most, by default.
DEFAULT_ATTEMPTS = 10


def backoff(attempt: int, *, base_s: float, cap_s: float, jitter: float | None = None) -> float:
    """The wait after attempt ``attempt`` (from 1): ``min(cap_s, base_s * 2**(attempt-1))``,
    scaled by ``jitter`` (a uniform sample of ``[0, 1)``: full jitter) when given.

    The one backoff formula of the package; pure (the caller draws the jitter).
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1; got {attempt}")
    ceiling = cap_s if attempt > 64 else min(cap_s, base_s * 2 ** (attempt - 1))
    return ceiling if jitter is None else ceiling * jitter


@dataclass(frozen=True)
class ThrottleRetry:
    """How throttled (HTTP 429) invocations are retried: full-jitter exponential backoff.

    ``attempts`` is the most times one invocation is sent (1: never retried); attempt
    ``n`` (from 1) is followed by a wait of ``uniform(0, min(cap_s, base_s * 2**(n-1)))``.
    """

    attempts: int = DEFAULT_ATTEMPTS
    base_s: float = 0.1
    cap_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1; got {self.attempts}")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The (jittered) wait after attempt ``attempt``."""
        return backoff(attempt, base_s=self.base_s, cap_s=self.cap_s, jitter=rng.random())


#: One generator for every caller that brings none.
_RNG = random.Random()


async def retry_throttled(
    send: Callable[[], Awaitable[T]],
    policy: ThrottleRetry,
    *,
    sleep: Callable[[float], Awaitable[None]],
    rng: random.Random | None = None,
    on_throttle: Callable[[], None] | None = None,
) -> T:
    """``await send()``, sent again after a jittered wait each time it raises
    :class:`~aioremotion.errors.ConcurrencyLimitError`, at most ``policy.attempts`` times
    in all; then the last throttle is raised with the attempt count. ``on_throttle`` is
    called after every throttle. Any other error propagates at once.
    """
    generator = rng or _RNG
    attempt = 0
    while True:
        attempt += 1
        try:
            return await send()
        except ConcurrencyLimitError as exc:
            if on_throttle is not None:
                on_throttle()
            if attempt >= policy.attempts:
                raise ConcurrencyLimitError(
                    concurrency_limit_message(exc.original, attempt),
                    attempts=attempt, reason=exc.reason, original=exc.original,
                    service=exc.service, operation=exc.operation, code=exc.code,
                ) from exc
        await sleep(policy.delay(attempt, generator))
