"""``aioremotion emulator`` run as a user runs it: a child process whose ``export`` lines
(stdout) and banner (stderr) are read back, stopped with Ctrl+C (SIGINT) at the end; and
:func:`decode_video`, which checks that what it rendered plays.

Example::

    async with emulator_process("--synthetic") as running:
        assert "synthetic outputs" in running.banner
        env = {**os.environ, **running.env}   # what `eval` of the export lines sets
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio

#: How many ``export`` lines the emulator prints.
EXPORTS = 9
#: The banner's last line.
BANNER_END = "press Ctrl+C to stop"
#: Longest wait for the emulator to print its environment.
STARTUP_S = 60


@dataclass
class RunningEmulator:
    """A running ``aioremotion emulator``: its environment and what it wrote to stderr."""

    process: subprocess.Popen[str]
    env: dict[str, str] = field(default_factory=dict)
    stderr: list[str] = field(default_factory=list)

    @property
    def banner(self) -> str:
        return "".join(self.stderr)


def parse_export(line: str) -> tuple[str, str]:
    """``export KEY=VALUE`` (the value shell-quoted) as ``(KEY, VALUE)``."""
    assert line.startswith("export "), line
    words = shlex.split(line.removeprefix("export "))
    assert len(words) == 1, line
    key, _, value = words[0].partition("=")
    return key, value


async def _readline(stream: IO[str]) -> str:
    return await anyio.to_thread.run_sync(stream.readline, abandon_on_cancel=True)


def _drain(stream: IO[str], into: list[str]) -> Callable[[], None]:
    def run() -> None:
        for line in stream:
            into.append(line)

    return run


@asynccontextmanager
async def emulator_process(*flags: str) -> AsyncIterator[RunningEmulator]:
    """Start ``python -m aioremotion emulator FLAGS`` (the ``aioremotion`` entry point),
    wait for its export lines and banner, and stop it with SIGINT on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "aioremotion", "emulator", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None and process.stderr is not None
    running = RunningEmulator(process)
    readers: list[threading.Thread] = []
    try:
        with anyio.fail_after(STARTUP_S):
            while len(running.env) < EXPORTS:
                line = await _readline(process.stdout)
                if not line:  # it exited: say why
                    rest = await anyio.to_thread.run_sync(process.stderr.read)
                    raise AssertionError(f"the emulator exited: {''.join(running.stderr)}{rest}")
                key, value = parse_export(line.strip())
                running.env[key] = value
            while not running.stderr or BANNER_END not in running.stderr[-1]:
                line = await _readline(process.stderr)
                assert line, f"the emulator closed stderr: {running.banner}"
                running.stderr.append(line)
        # keep reading, so that a chatty emulator never blocks on a full pipe
        for stream, into in ((process.stderr, running.stderr), (process.stdout, [])):
            thread = threading.Thread(target=_drain(stream, into), daemon=True)
            thread.start()
            readers.append(thread)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl+C, as a user stops it
            try:
                await anyio.to_thread.run_sync(lambda: process.wait(timeout=30))
            except subprocess.TimeoutExpired:
                process.kill()
                await anyio.to_thread.run_sync(process.wait)
        for thread in readers:  # the pipes are at their end now
            await anyio.to_thread.run_sync(thread.join, 10)
        process.stdout.close()
        process.stderr.close()


def decode_video(path: Path) -> dict[str, Any]:
    """Decode every frame of ``path``: with PyAV when installed, else through the
    emulator's ``ffprobe_like``. Returns ``codec``, ``frames``, ``width``, ``height``."""
    try:
        import av
    except ImportError:
        from aioremotion.emulator.media import ffprobe_like

        info = ffprobe_like(path)
        assert info["returncode"] == 0 and not info["errors"], info
        return {"codec": info["video_codec"], "frames": info["frames"],
                "width": info["width"], "height": info["height"]}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {"codec": stream.codec_context.name, "frames": frames,
                "width": stream.width, "height": stream.height}
