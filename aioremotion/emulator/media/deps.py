"""The ``emulator`` extra's tools: whether Pillow and PyAV are installed, the errors of
real rendering, and running blocking PyAV work in a worker thread that stops cleanly.

PyAV (the ``av`` package) links FFmpeg's libraries in-process: no ffmpeg binary and no
subprocess is involved, and its wheel ships the encoders the emulator uses (libx264,
libx265, libvpx, ProRes, GIF, AAC, libmp3lame, libopus).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from ...errors import RemotionError

__all__ = [
    "EncodingError",
    "FFmpegError",
    "MediaDependencyError",
    "Stopped",
    "encoder_available",
    "ffmpeg_available",
    "remove_file",
    "require_extra",
    "run_in_worker",
]

_EXTRA_HINT: Final = 'pip install "aioremotion[emulator]"'

T = TypeVar("T")


# -- errors ----------------------------------------------------------------------------------


class MediaDependencyError(RemotionError, ImportError):
    """Real rendering was asked for but the ``emulator`` extra is not installed."""


class EncodingError(RemotionError, RuntimeError):
    """Encoding, decoding or muxing failed in FFmpeg's libraries (through PyAV).

    Attributes:
        what: what was being done (``"combine 2 h264 chunks"``).
        detail: the library's message.
        code: the library's error number (negative, as libav returns it), or ``None``.
        returncode: ``code`` or 1: never 0 (kept from the ffmpeg-subprocess era).
        stderr: ``detail`` (kept from the ffmpeg-subprocess era).

    Example::

        try:
            await combine_chunks([Path("junk.mp4")], Path("out.mp4"), codec="h264")
        except EncodingError as exc:
            print(exc.what, exc.detail)
    """

    def __init__(self, what: str, detail: str, *, code: int | None = None) -> None:
        super().__init__(f"failed to {what}: {detail.strip()[-2000:] or '-'}")
        self.what = what
        self.detail = detail
        self.code = code

    @property
    def returncode(self) -> int:
        return self.code or 1

    @property
    def stderr(self) -> str:
        return self.detail


#: The name this error had while encoding ran an ffmpeg subprocess.
FFmpegError = EncodingError


class Stopped(Exception):
    """Raised inside a worker whose caller was cancelled (see :func:`run_in_worker`)."""


# -- dependencies ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _missing_modules() -> tuple[str, ...]:
    needed = {"PIL": "Pillow", "av": "av"}
    return tuple(pkg for mod, pkg in needed.items() if importlib.util.find_spec(mod) is None)


def require_extra(*packages: str) -> None:
    """Raise :class:`MediaDependencyError` naming the extra if any of ``packages`` (default:
    both of Pillow and av) is not installed.

    Example::

        require_extra("Pillow")   # stills need Pillow only
    """
    missing = [p for p in _missing_modules() if not packages or p in packages]
    if missing:
        raise MediaDependencyError(
            f"real rendering in the emulator needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: {_EXTRA_HINT}"
        )


@functools.lru_cache(maxsize=1)
def encoder_available() -> bool:
    """Whether real rendering works here: Pillow and PyAV import, and PyAV has libx264.

    Example::

        if not encoder_available():
            pytest.skip("needs the emulator extra")
    """
    try:
        require_extra()
        import av

        av.codec.Codec("libx264", "w")
    except Exception:
        return False
    return True


#: The name :func:`encoder_available` had while encoding ran an ffmpeg subprocess.
ffmpeg_available = encoder_available


def remove_file(path: Path) -> None:
    """Delete ``path`` if it exists; errors are ignored (cleaning up after a failure)."""
    with contextlib.suppress(OSError):
        path.unlink()


# -- worker threads ----------------------------------------------------------------------------


async def run_in_worker(work: Callable[[threading.Event], T]) -> T:
    """Run the blocking ``work(stop)`` in a worker thread and return its result.

    If the calling task is cancelled (or fails) while ``work`` runs, ``stop`` is set and
    this waits for the thread to return before re-raising, so that nothing is left
    writing behind the caller's back: ``work`` must check ``stop`` often (once a frame)
    and raise :class:`Stopped` when it is set.

    Example::

        def work(stop: threading.Event) -> int:
            for i in range(100):
                if stop.is_set():
                    raise Stopped
                ...
            return 100

        frames = await run_in_worker(work)
    """
    stop = threading.Event()
    future = asyncio.get_running_loop().run_in_executor(None, work, stop)
    try:
        return await asyncio.shield(future)
    except BaseException:
        stop.set()
        while not future.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # retrieved: the caller's own error is what propagates
        raise
