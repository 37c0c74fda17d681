"""The ``emulator`` extra's tools: whether numpy, Pillow and imageio-ffmpeg are installed,
and running the ffmpeg binary imageio-ffmpeg bundles (no system ffmpeg is used).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import importlib.util
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from ...errors import RemotionError

__all__ = [
    "FFmpegError",
    "MediaDependencyError",
    "ffmpeg_available",
    "ffmpeg_exe",
    "ffprobe_like",
    "remove_file",
    "require_extra",
    "run_ffmpeg",
]

_EXTRA_HINT: Final = 'pip install "aioremotion[emulator]"'


# -- errors ----------------------------------------------------------------------------------


class MediaDependencyError(RemotionError, ImportError):
    """Real rendering was asked for but the ``emulator`` extra is not installed."""


class FFmpegError(RemotionError, RuntimeError):
    """ffmpeg exited with an error.

    Attributes:
        returncode: ffmpeg's exit status.
        stderr: what ffmpeg wrote to stderr (its ``-loglevel error`` messages).
    """

    def __init__(self, what: str, returncode: int, stderr: str) -> None:
        tail = stderr.strip()[-2000:]
        super().__init__(f"ffmpeg failed to {what} (exit status {returncode}): {tail or '-'}")
        self.returncode = returncode
        self.stderr = stderr


# -- dependencies ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _missing_modules() -> tuple[str, ...]:
    needed = {"numpy": "numpy", "PIL": "Pillow", "imageio_ffmpeg": "imageio-ffmpeg"}
    return tuple(pkg for mod, pkg in needed.items() if importlib.util.find_spec(mod) is None)


def require_extra(*packages: str) -> None:
    """Raise :class:`MediaDependencyError` naming the extra if any of ``packages`` (default:
    all of numpy, Pillow and imageio-ffmpeg) is not installed."""
    missing = [p for p in _missing_modules() if not packages or p in packages]
    if missing:
        raise MediaDependencyError(
            f"real rendering in the emulator needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: {_EXTRA_HINT}"
        )


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg.

    Raises :class:`MediaDependencyError` if imageio-ffmpeg is missing.

    Example::

        subprocess.run([ffmpeg_exe(), "-version"], check=True)
    """
    require_extra("imageio-ffmpeg")
    module = importlib.import_module("imageio_ffmpeg")
    return str(module.get_ffmpeg_exe())


def ffmpeg_available() -> bool:
    """Whether the bundled ffmpeg (imageio-ffmpeg) can be used.

    Example::

        if not ffmpeg_available():
            pytest.skip("needs the emulator extra")
    """
    try:
        exe = ffmpeg_exe()
    except (ImportError, RuntimeError, OSError):
        return False
    return os.path.isfile(exe) and os.access(exe, os.X_OK)


# -- ffmpeg processes --------------------------------------------------------------------------


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Kill ``proc`` if it still runs, and reap it even if we are cancelled again."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    if proc.stdin is not None and not proc.stdin.is_closing():
        proc.stdin.close()
    with contextlib.suppress(asyncio.CancelledError, ProcessLookupError):
        await asyncio.shield(proc.wait())


async def run_ffmpeg(what: str, args: Sequence[str], stdin: Iterator[bytes] | None = None) -> None:
    """Run ffmpeg with ``args``, feeding the byte chunks of ``stdin`` to its standard input.

    The frames are produced between awaits (one draw at a time), so the event loop stays
    responsive; ffmpeg is killed and reaped if anything fails or the task is cancelled.
    """
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_exe(),
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-y",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    stderr_task = asyncio.ensure_future(proc.stderr.read())
    try:
        if stdin is not None:
            pipe = proc.stdin
            assert pipe is not None
            try:
                for data in stdin:
                    pipe.write(data)
                    await pipe.drain()
                    await asyncio.sleep(0)  # let other tasks run between frames
                pipe.close()
                await pipe.wait_closed()
            except (BrokenPipeError, ConnectionResetError):
                pass  # ffmpeg quit early: its exit status and stderr say why
        returncode = await proc.wait()
        err = await stderr_task
    except BaseException:
        await _stop(proc)
        stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await stderr_task
        raise
    # At ``-loglevel error`` anything on stderr is an error: the concat demuxer, for one,
    # logs a chunk it cannot open and exits 0 without it, so output there fails too.
    if returncode != 0 or err.strip():
        raise FFmpegError(what, returncode, err.decode("utf-8", "replace"))


def remove_file(path: Path) -> None:
    """Delete ``path`` if it exists; errors are ignored (cleaning up after a failure)."""
    with contextlib.suppress(OSError):
        path.unlink()


# -- probing ----------------------------------------------------------------------------------

_DURATION_RE: Final = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_TIME_RE: Final = re.compile(r"time=\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_FRAME_RE: Final = re.compile(r"frame=\s*(\d+)")
_INPUT_RE: Final = re.compile(r"Input #0, (.+?), from")
_VIDEO_RE: Final = re.compile(r"Stream #0:\d+.*?: Video: (\w+)")
_AUDIO_RE: Final = re.compile(r"Stream #0:\d+.*?: Audio: (\w+)")
_SIZE_RE: Final = re.compile(r", (\d{1,5})x(\d{1,5})[ ,]")
_FPS_RE: Final = re.compile(r", ([\d.]+) fps")
_PIX_RE: Final = re.compile(r"Video: [^,]*?(?:\([^)]*\))*, (\w+)")


def _seconds(m: re.Match[str] | None) -> float | None:
    if m is None:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def ffprobe_like(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Decode ``path`` fully with the bundled ffmpeg (``-f null``) and report what it found.

    Returns ``format`` (demuxer names), ``duration`` (container, s), ``video_codec``,
    ``width``, ``height``, ``fps``, ``pix_fmt``, ``audio_codec`` (``None`` where absent),
    ``frames`` (video frames decoded), ``decoded_seconds`` (time reached), ``errors``
    (ffmpeg's error lines) and ``returncode``.  Blocking: meant for tests.

    Example::

        info = ffprobe_like("out.mp4")
        assert info["video_codec"] == "h264" and info["frames"] == 150 and not info["errors"]
    """
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "level+info",
         "-i", os.fspath(path), "-map", "0", "-f", "null", "-"],
        capture_output=True, text=True, errors="replace", timeout=600, check=False,
    )  # fmt: skip
    lines = re.split(r"[\r\n]+", done.stderr)
    head: list[str] = []
    for line in lines:
        if "Stream mapping:" in line or "Output #0" in line:
            break
        head.append(line)
    head_text = "\n".join(head)
    video_line = next((ln for ln in head if _VIDEO_RE.search(ln)), "")
    audio = _AUDIO_RE.search(head_text)
    fmt = _INPUT_RE.search(head_text)
    size = _SIZE_RE.search(video_line)
    fps = _FPS_RE.search(video_line)
    pix = _PIX_RE.search(video_line)
    frame_hits = _FRAME_RE.findall(done.stderr)
    times = list(_TIME_RE.finditer(done.stderr))
    video = _VIDEO_RE.search(video_line)
    return {
        "format": fmt.group(1) if fmt else None,
        "duration": _seconds(_DURATION_RE.search(head_text)),
        "video_codec": video.group(1) if video else None,
        "width": int(size.group(1)) if size else None,
        "height": int(size.group(2)) if size else None,
        "fps": float(fps.group(1)) if fps else None,
        "pix_fmt": pix.group(1) if pix else None,
        "audio_codec": audio.group(1) if audio else None,
        "frames": int(frame_hits[-1]) if frame_hits and video else None,
        "decoded_seconds": _seconds(times[-1]) if times else None,
        "errors": [ln for ln in lines if "[error]" in ln or "[fatal]" in ln],
        "returncode": done.returncode,
    }
