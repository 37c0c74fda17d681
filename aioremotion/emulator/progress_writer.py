"""The emulated launch function's progress.json: one in-memory object, uploaded whole on
every change, at most once per interval (250 ms by default), like Remotion's launch.

Writes are serialised and coalesced: many changes inside one interval become one upload of
the latest state. A failed upload is retried twice (100 ms, then 200 ms) and then dropped,
as Remotion does; fault injection can drop writes on purpose.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio

logger = logging.getLogger(__name__)

Upload = Callable[[bytes], Awaitable[None]]


#: The first version whose progress.json has ``framesUploaded``, ``outputSequence`` and
#: ``separateAudio`` (docs/PROTOCOL.md section 4.4).
SEQUENCE_PROGRESS_SINCE: Final = (4, 0, 535)


def initial_progress(*, now_ms: int, timeout_ms: int, cancellation_enabled: bool,
                     version: tuple[int, int, int] = (4, 0, 527)) -> dict[str, Any]:
    """The skeleton progress.json the start (and then launch) invocation writes, for a
    function of ``version``: from 4.0.535 on it has the image-sequence fields, with the
    values of a media render without ``separateAudioTo`` (no frame uploaded, no sequence,
    no separate audio)."""
    newer: dict[str, Any] = {}
    if version >= SEQUENCE_PROGRESS_SINCE:
        newer = {"framesUploaded": 0, "outputSequence": None, "separateAudio": None}
    return {
        "cancellationEnabled": cancellation_enabled,
        "chunks": [],
        "framesRendered": 0,
        "framesEncoded": 0,
        "combinedFrames": 0,
        "timeToCombine": None,
        "timeToEncode": None,
        "lambdasInvoked": 0,
        "retries": [],
        "postRenderData": None,
        "timings": [],
        "renderMetadata": None,
        "errors": [],
        "fatalErrorTimestamp": None,
        "timeToRenderFrames": None,
        "timeoutTimestamp": now_ms + timeout_ms,
        "functionLaunched": now_ms,
        "serveUrlOpened": None,
        "compositionValidated": None,
        "receivedArtifact": [],
        **newer,
    }


class ProgressWriter:
    """Holds a render's progress state and uploads it, coalesced.

    :meth:`set` never blocks: it records the change and wakes :meth:`run` (a background
    task of the render), which uploads the latest state at most once per interval.
    :meth:`write_now` uploads at once (final and fatal states). ``should_drop`` is asked
    before each upload (fault injection: a dropped write never reaches S3); once
    ``frozen`` nothing is uploaded any more (a stalled or crashed launch).
    """

    def __init__(
        self,
        state: dict[str, Any],
        upload: Upload,
        *,
        interval_s: float = 0.25,
        should_drop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.state = state
        self._upload = upload
        self._interval_s = interval_s
        self._should_drop = should_drop
        self._lock = anyio.Lock()
        self._changed = anyio.Event()
        self._dirty = False
        self._last_upload = -1e9
        self.frozen = False
        self.uploads = 0
        self.dropped = 0

    def set(self, **changes: Any) -> None:
        """Apply ``changes``; the background task uploads them soon."""
        self.state.update(changes)
        self.touch()

    def touch(self) -> None:
        """Record that the state was changed in place."""
        self._dirty = True
        self._changed.set()

    async def run(self) -> None:
        """Upload changes, at most once per interval, until cancelled."""
        while True:
            await self._changed.wait()
            self._changed = anyio.Event()
            wait = self._last_upload + self._interval_s - time.monotonic()
            if wait > 0:
                await anyio.sleep(wait)
            await self.write_now(only_if_dirty=True)

    async def write_now(self, *, only_if_dirty: bool = False, droppable: bool = True) -> None:
        """Upload the current state now. ``droppable=False`` is the start routine's first
        write, which Remotion awaits before replying (a failure there fails the start), so
        an injected dropped write never applies to it."""
        async with self._lock:
            if self.frozen or (only_if_dirty and not self._dirty):
                return
            self._dirty = False
            body = json.dumps(self.state).encode()
            self._last_upload = time.monotonic()
            if droppable and self._should_drop():
                self.dropped += 1
                return
            for attempt, backoff in enumerate((0.1, 0.2, None)):
                try:
                    await self._upload(body)
                    self.uploads += 1
                    return
                except Exception as exc:  # an upload failure is logged and dropped
                    if backoff is None:
                        logger.warning(
                            "progress.json upload failed after %d attempts: %s", attempt + 1, exc
                        )
                        self.dropped += 1
                        return
                    await anyio.sleep(backoff)
