"""Outcome hubs: verified webhooks, handed to the watches waiting for them.

Remotion Lambda POSTs a signed webhook when a render ends (``success``, ``error`` or
``timeout``). Whoever receives it (the web app's webhook route, or a
:class:`~aioremotion.web.webhooks.WebhookReceiver` given ``hub=``) publishes a
:class:`RenderOutcome` to an :class:`OutcomeHub`; a watch given ``hub=`` (``watch``,
``wait``, ``Batch``, ``render_many``) waits on it and finishes on the webhook, reading S3
only for progress a caller displays, plus a slow safety poll (``WatchOptions.safety_poll_s``)
in case a webhook never arrives.

:class:`LocalHub` is the in-process hub: one process receives the webhooks and runs the
watches. ``aioremotion.hub_redis`` provides a hub shared by several processes.

What a hub does with an outcome nobody waits for (a webhook for a render it does not know,
or that arrives before its watch subscribes): it keeps it ``keep_s`` seconds (at most
``max_kept`` outcomes, the oldest dropped first), so a watcher that subscribes later still
sees it at once; nothing else (no S3 request, no callback). The first outcome published for
a render wins while it is kept: a retried delivery changes nothing.

Example:
    >>> import anyio
    >>> async def main():
    ...     hub = LocalHub()
    ...     outcome = RenderOutcome.from_webhook(
    ...         {"type": "timeout", "renderId": "k1a2b3c4d5", "bucketName": "b"},
    ...         received_at=0.0)
    ...     async with anyio.create_task_group() as tg:
    ...         tg.start_soon(hub.publish, outcome)
    ...         got = await hub.wait_outcome("k1a2b3c4d5")
    ...     await hub.aclose()
    ...     return got.kind
    >>> anyio.run(main)
    'timeout'
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import anyio
import anyio.lowlevel

from .errors import RemotionError
from .protocol.webhooks import OutcomeKind, RenderOutcome, outcome_event

__all__ = ["HubClosedError", "LocalHub", "OutcomeHub", "OutcomeKind", "RenderOutcome",
           "outcome_event"]


class HubClosedError(RemotionError):
    """The hub was closed while (or before) a watch waited on it."""


@runtime_checkable
class OutcomeHub(Protocol):
    """Where verified webhooks' outcomes are published and waited for.

    ``wait_outcome`` returns at once if an outcome for the render is already kept (kept
    ``keep_s`` seconds even when nobody waits: a watcher that subscribes after the webhook
    still sees it); otherwise it blocks until one is published. It is cancellable, and
    many concurrent waiters (100,000) must be cheap.

    Example::

        hub = LocalHub()
        async with RemotionLambda() as remotion:
            done = await wait(remotion, handle, hub=hub)   # finishes on the webhook
    """

    async def publish(self, outcome: RenderOutcome) -> None:
        """Hand ``outcome`` to its waiters, and keep it for later ones."""
        ...

    async def wait_outcome(self, render_id: str) -> RenderOutcome:
        """The outcome of ``render_id``: at once if kept, else when published."""
        ...

    async def aclose(self) -> None:
        """Release the hub's resources; waiters then raise :class:`HubClosedError`."""
        ...


class _Slot:
    """The waiters of one render: one event they all wait on, however many they are."""

    __slots__ = ("event", "outcome", "waiters")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.outcome: RenderOutcome | None = None
        self.waiters = 0


class LocalHub(OutcomeHub):
    """The in-process :class:`OutcomeHub` (anyio: asyncio or trio).

    Each render being waited for costs one :class:`anyio.Event` shared by all its
    waiters (no task per waiter); published outcomes are kept ``keep_s`` seconds by
    ``clock`` (monotonic seconds; injectable), at most ``max_kept`` of them, the oldest
    dropped first. An outcome for a render nobody waits for is kept the same way and
    nothing else is done with it.

    Example:
        >>> import anyio
        >>> now = [0.0]
        >>> hub = LocalHub(keep_s=600, clock=lambda: now[0])
        >>> outcome = RenderOutcome.from_webhook(
        ...     {"type": "error", "renderId": "r1", "bucketName": "b"}, received_at=0.0)
        >>> anyio.run(hub.publish, outcome)      # nobody waits yet: kept
        >>> anyio.run(hub.wait_outcome, "r1") == outcome
        True
        >>> now[0] = 601.0                        # expired
        >>> hub.kept("r1") is None
        True
    """

    def __init__(self, *, keep_s: float = 600.0, max_kept: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if keep_s <= 0 or max_kept < 1:
            raise ValueError("keep_s must be positive and max_kept at least 1")
        self.keep_s = keep_s
        self.max_kept = max_kept
        self._clock = clock
        self._kept: OrderedDict[str, tuple[float, RenderOutcome]] = OrderedDict()
        self._slots: dict[str, _Slot] = {}
        self._closed = False

    def __len__(self) -> int:
        """How many outcomes are kept (expired ones dropped first)."""
        self._expire(self._clock())
        return len(self._kept)

    @property
    def waiting(self) -> int:
        """How many renders are being waited for."""
        return len(self._slots)

    def _expire(self, now: float) -> None:
        kept = self._kept
        while kept:
            render_id, (at, _) = next(iter(kept.items()))
            if now - at < self.keep_s:
                return
            del kept[render_id]

    def kept(self, render_id: str) -> RenderOutcome | None:
        """The outcome kept for ``render_id`` (None when none, or it expired)."""
        self._expire(self._clock())
        entry = self._kept.get(render_id)
        return entry[1] if entry is not None else None

    async def publish(self, outcome: RenderOutcome) -> None:
        """Wake every waiter of the render and keep the outcome (the first one wins)."""
        if self._closed:
            raise HubClosedError("the hub is closed")
        now = self._clock()
        self._expire(now)
        if outcome.render_id in self._kept:
            return
        self._kept[outcome.render_id] = (now, outcome)
        while len(self._kept) > self.max_kept:
            self._kept.popitem(last=False)
        slot = self._slots.pop(outcome.render_id, None)
        if slot is not None:
            slot.outcome = outcome
            slot.event.set()

    async def wait_outcome(self, render_id: str) -> RenderOutcome:
        """The outcome of ``render_id``: at once if kept, else when published."""
        if self._closed:
            raise HubClosedError("the hub is closed")
        outcome = self.kept(render_id)
        if outcome is not None:
            await anyio.lowlevel.checkpoint()
            return outcome
        slot = self._slots.get(render_id)
        if slot is None:
            slot = self._slots[render_id] = _Slot()
        slot.waiters += 1
        try:
            await slot.event.wait()
        finally:
            slot.waiters -= 1
            if slot.waiters == 0 and self._slots.get(render_id) is slot:
                del self._slots[render_id]  # the last waiter left before an outcome
        if slot.outcome is None:
            raise HubClosedError(f"the hub was closed while waiting for render {render_id}")
        return slot.outcome

    async def aclose(self) -> None:
        """Wake every waiter (they raise :class:`HubClosedError`) and forget everything."""
        self._closed = True
        slots, self._slots = self._slots, {}
        for slot in slots.values():
            slot.event.set()
        self._kept.clear()

    async def __aenter__(self) -> LocalHub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
