"""The fast test mode's outputs: tiny deterministic bytes that start like the real
container or image format (no encoder, no optional dependency).
"""

from __future__ import annotations

import json
import struct
import zlib

from .audio import wav_header
from .encoding import output_extension
from .stills import normalise_still_format

__all__ = [
    "synthetic_output",
    "synthetic_still",
]

# -- synthetic outputs (fast test mode) ---------------------------------------------------------


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _ebml_element(element_id: bytes, payload: bytes) -> bytes:
    return element_id + b"\x01" + len(payload).to_bytes(7, "big") + payload


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\x00\x00\x00", 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def synthetic_output(codec: str, *, frames: int, fps: float) -> bytes:
    """Tiny deterministic stand-in for a rendered file, for the no-encoder test mode.

    Not playable, but it starts with the magic of the codec's default container (an
    ``ftyp`` box for MP4/MOV, EBML for WebM, ``GIF89a``, ``ID3``, an ADTS sync word, a
    RIFF/WAVE header) followed by a JSON note of the codec, frame count and fps.

    Example:
        >>> synthetic_output("h264", frames=150, fps=30)[4:8]
        b'ftyp'
        >>> synthetic_output("gif", frames=1, fps=30)[:6]
        b'GIF89a'
    """
    ext = output_extension(codec)
    note = json.dumps(
        {"aioremotion": "synthetic", "codec": codec, "frames": frames, "fps": fps},
        sort_keys=True,
    ).encode()
    if ext in ("mp4", "mov"):
        brand = b"qt  " if ext == "mov" else b"isom"
        compat = b"qt  " if ext == "mov" else b"isomiso2avc1mp41"
        return _box(b"ftyp", brand + struct.pack(">I", 0x200) + compat) + _box(b"free", note)
    if ext == "webm":
        header = _ebml_element(b"\x42\x82", b"webm")
        return _ebml_element(b"\x1a\x45\xdf\xa3", header) + _ebml_element(b"\xec", note)
    if ext == "gif":
        comment = b"".join(bytes([len(note[i : i + 255])]) + note[i : i + 255]
                           for i in range(0, len(note), 255))  # fmt: skip
        return (
            b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
            + b"\x21\xfe" + comment + b"\x00"
            + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
            + b"\x3b"
        )  # fmt: skip
    if ext == "mp3":
        syncsafe = bytes((len(note) >> shift) & 0x7F for shift in (21, 14, 7, 0))
        return b"ID3\x04\x00\x00" + syncsafe + note
    if ext == "aac":
        return b"\xff\xf1\x50\x80" + note
    return wav_header(0) + b"LIST" + struct.pack("<I", len(note)) + note  # wav


def synthetic_still(image_format: str) -> bytes:
    """Tiny deterministic stand-in for a rendered still (a valid 1x1 PNG for ``png``).

    Example:
        >>> synthetic_still("png")[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
        >>> synthetic_still("pdf")[:5]
        b'%PDF-'
    """
    fmt = normalise_still_format(image_format)
    note = b'{"aioremotion":"synthetic"}'
    if fmt == "png":
        return _png_1x1()
    if fmt == "jpeg":
        app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        return (
            b"\xff\xd8\xff\xe0" + struct.pack(">H", 2 + len(app0)) + app0
            + b"\xff\xfe" + struct.pack(">H", 2 + len(note)) + note + b"\xff\xd9"
        )  # fmt: skip
    if fmt == "webp":
        body = b"WEBP" + b"VP8L" + struct.pack("<I", len(note)) + note
        return b"RIFF" + struct.pack("<I", len(body)) + body
    return b"%PDF-1.4\n%" + note + b"\n%%EOF\n"

