"""The emulator's synthetic audio: a beep at the start of every second, as PCM WAV chunks
(plain Python: no numpy, no encoder).
"""

from __future__ import annotations

import functools
import math
import struct
import sys
from array import array
from pathlib import Path
from typing import Final

__all__ = [
    "AUDIO_CHANNELS",
    "AUDIO_RATE",
    "tone",
    "wav_header",
    "write_wav",
]

#: Sample rate and channel count of the emulator's synthetic audio.
AUDIO_RATE: Final = 48_000
AUDIO_CHANNELS: Final = 2
_BYTES_PER_SAMPLE: Final = 2 * AUDIO_CHANNELS


@functools.lru_cache(maxsize=1)
def _one_second() -> bytes:
    """One second of the tone, s16le stereo.  The tone repeats every second exactly (440
    whole cycles a second), so any stretch of it is cut from this period."""
    samples = array("h")
    beep = AUDIO_RATE // 5
    for n in range(AUDIO_RATE):
        value = round(0.2 * math.sin(2 * math.pi * 440.0 * n / AUDIO_RATE) * 32767)
        value = value if n < beep else 0
        samples.extend((value,) * AUDIO_CHANNELS)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def tone(start_sample: int, end_sample: int) -> bytes:
    """Interleaved s16le stereo from ``start_sample`` to ``end_sample``: a 440 Hz beep for
    the first 0.2 s of every second, else silence.  Sample positions are absolute, so
    chunks join without clicks.

    Example:
        >>> len(tone(0, 480)), tone(0, 48_000)[-4:], tone(48_000, 48_001) == tone(0, 1)
        (1920, b'\\x00\\x00\\x00\\x00', True)
    """
    if end_sample <= start_sample:
        return b""
    period = _one_second()
    out = bytearray()
    pos = start_sample
    while pos < end_sample:
        offset = pos % AUDIO_RATE
        take = min(AUDIO_RATE - offset, end_sample - pos)
        out += period[offset * _BYTES_PER_SAMPLE : (offset + take) * _BYTES_PER_SAMPLE]
        pos += take
    return bytes(out)


def wav_header(data_len: int, rate: int = AUDIO_RATE, channels: int = AUDIO_CHANNELS) -> bytes:
    """The 44-byte header of a PCM s16le WAV file with ``data_len`` bytes of samples.

    Example:
        >>> wav_header(0)[:4], wav_header(0)[8:12], len(wav_header(0))
        (b'RIFF', b'WAVE', 44)
    """
    block = channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 16)
    return (
        b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", data_len)
    )  # fmt: skip


def write_wav(path: Path, start_sample: int, end_sample: int) -> None:
    """Write the tone from ``start_sample`` to ``end_sample`` as a WAV file at ``path``.

    Example::

        write_wav(Path("chunk-0.wav"), 0, 48_000)   # the first second
    """
    pcm = tone(start_sample, end_sample)
    path.write_bytes(wav_header(len(pcm)) + pcm)
