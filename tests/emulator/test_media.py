"""The emulator's compositions, frame drawing and real ffmpeg encoding (aioremotion.emulator.media).

Real-rendering tests need the ``emulator`` extra (numpy, Pillow, imageio-ffmpeg) and skip
with a reason when it is missing; the synthetic-output tests run everywhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from aioremotion.emulator import media
from aioremotion.emulator.media import (
    Composition,
    CompositionRegistry,
    FFmpegError,
    chunk_extension,
    combine_chunks,
    default_registry,
    encode_chunk,
    ffprobe_like,
    output_extension,
    output_size,
    parse_color,
    render_media,
    render_still,
    synthetic_output,
    synthetic_still,
)

EXTRA_REASON = 'needs the emulator extra: pip install "aioremotion[emulator]"'


@pytest.fixture
def drawing() -> Any:
    """numpy, once numpy and Pillow are known to be installed."""
    pytest.importorskip("PIL", reason=EXTRA_REASON)
    return pytest.importorskip("numpy", reason=EXTRA_REASON)


@pytest.fixture
def ffmpeg(drawing: Any) -> str:
    pytest.importorskip("imageio_ffmpeg", reason=EXTRA_REASON)
    return media.ffmpeg_exe()


HELLO = default_registry().get("HelloWorld")
SQUARE = default_registry().get("Square")


def children_of_this_process() -> set[int]:
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        children = task / "children"
        if children.exists():
            pids.update(int(p) for p in children.read_text().split())
    return pids


# -- compositions and registry -----------------------------------------------------------------


def test_default_registry_lists_the_built_in_compositions() -> None:
    registry = default_registry()
    assert registry.ids() == ["HelloWorld", "Square"]
    assert "HelloWorld" in registry and "Nope" not in registry
    assert len(registry) == 2
    assert (HELLO.width, HELLO.height, HELLO.fps, HELLO.duration_in_frames) == (1280, 720, 30, 150)
    assert HELLO.default_props == {
        "title": "Hello from aioremotion",
        "titleColor": "#ffffff",
        "backgroundColor": "#0b84f3",
    }
    assert (SQUARE.width, SQUARE.height, SQUARE.fps, SQUARE.duration_in_frames) == (160, 90, 30, 30)
    with pytest.raises(KeyError, match="HelloWorld, Square"):
        registry.get("Nope")


def test_registry_rejects_duplicates_unless_replacing() -> None:
    registry = CompositionRegistry([Composition("Blank", 320, 180, 30, 60)])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Composition("Blank", 10, 10, 30, 1))
    registry.register(Composition("Blank", 10, 10, 30, 1), replace=True)
    assert registry.get("Blank").width == 10
    assert [c.id for c in registry] == ["Blank"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": ""}, "non-empty id"),
        ({"width": 0}, "width and height"),
        ({"fps": 0}, "fps"),
        ({"duration_in_frames": 0}, "duration_in_frames"),
    ],
)
def test_composition_validates_its_metadata(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"id": "C", "width": 2, "height": 2, "fps": 30, "duration_in_frames": 1}
    with pytest.raises(ValueError, match=message):
        Composition(**(args | kwargs))


def test_to_json_has_get_compositions_shape_with_merged_props() -> None:
    got = HELLO.to_json({"title": "Hi", "extra": 1})
    assert got == {
        "id": "HelloWorld",
        "width": 1280,
        "height": 720,
        "fps": 30,
        "durationInFrames": 150,
        "defaultProps": HELLO.default_props,
        "props": {**HELLO.default_props, "title": "Hi", "extra": 1},
        "defaultCodec": None,
        "defaultOutName": None,
        "defaultVideoImageFormat": None,
        "defaultPixelFormat": None,
        "defaultProResProfile": None,
    }
    got["defaultProps"]["title"] = "mutated"
    assert HELLO.default_props["title"] == "Hello from aioremotion"
    assert [c["id"] for c in default_registry().to_json()] == ["HelloWorld", "Square"]


def test_output_size_scales_and_keeps_420_codecs_even() -> None:
    assert output_size(HELLO) == (1280, 720)
    assert output_size(HELLO, 0.5) == (640, 360)
    odd = Composition("Odd", 101, 51, 30, 1)
    assert output_size(odd) == (101, 51)
    assert output_size(odd, 1, "h264") == (100, 50)
    assert output_size(odd, 1, "prores") == (101, 51)
    with pytest.raises(ValueError, match="scale"):
        output_size(HELLO, 0)


def test_extensions_follow_remotion() -> None:
    assert output_extension("h264") == "mp4"
    assert output_extension("h264", "pcm-16") == "mkv"
    assert output_extension("prores") == "mov"
    assert output_extension("aac") == "aac"
    assert chunk_extension("h264") == "mp4"
    assert chunk_extension("vp8") == "webm"
    with pytest.raises(ValueError, match="not allowed with codec 'gif'"):
        output_extension("gif", "aac")
    with pytest.raises(ValueError, match="codec must be one of"):
        output_extension("avi")


# -- colours and drawing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rgb"),
    [
        ("#0b84f3", (11, 132, 243)),
        ("#FFF", (255, 255, 255)),
        ("rgb(1, 2, 3)", (1, 2, 3)),
        ("Orange", (255, 165, 0)),
        (" black ", (0, 0, 0)),
    ],
)
def test_parse_color_accepts_css_forms(text: str, rgb: tuple[int, int, int]) -> None:
    assert parse_color(text) == rgb


@pytest.mark.parametrize("bad", ["#12345", "blurple", "rgb(300, 0, 0)", "", 12, None])
def test_parse_color_rejects_naming_the_prop(bad: object) -> None:
    with pytest.raises(ValueError, match="prop 'titleColor': invalid colour"):
        parse_color(bad, prop="titleColor")


@pytest.mark.parametrize("prop", ["titleColor", "backgroundColor"])
def test_bad_colour_prop_is_a_clear_error(drawing: Any, prop: str) -> None:
    with pytest.raises(ValueError, match=f"prop '{prop}'"):
        HELLO.render_frame(0, {prop: "not-a-colour"})
    with pytest.raises(ValueError, match="prop 'color'"):
        SQUARE.render_frame(0, {"color": "#zzzzzz"})


def test_helloworld_frames_differ_over_time(drawing: Any) -> None:
    np = drawing
    frames = {i: HELLO.render_frame(i) for i in (0, 1, 10, 75, 148, 149)}
    for f in frames.values():
        assert f.shape == (720, 1280, 3) and f.dtype == np.uint8
    keys = list(frames)
    for a in keys:
        for b in keys:
            if a < b:
                assert not np.array_equal(frames[a], frames[b]), (a, b)
    # The progress bar grows with time.
    bar_row = frames[149][720 - 12]
    assert (bar_row == (255, 255, 255)).all(axis=1).sum() > 1200


def test_helloworld_reflects_props(drawing: Any) -> None:
    np = drawing
    props = {"title": "Props show", "titleColor": "#ff0000", "backgroundColor": "black"}
    frame = HELLO.render_frame(60, props)
    assert tuple(frame[5, 5]) == (0, 0, 0)
    title_band = frame[int(720 * 0.3) : int(720 * 0.55)]
    red = (title_band == (255, 0, 0)).all(axis=2).sum()
    assert red > 2000  # the title's solid glyph pixels
    # Default props: the blue background, white title, and no red anywhere.
    default = HELLO.render_frame(60)
    assert tuple(default[5, 5]) == (11, 132, 243)
    assert (default == (255, 0, 0)).all(axis=2).sum() == 0
    assert (default[int(720 * 0.3) : int(720 * 0.55)] == 255).all(axis=2).sum() > 2000
    # The title text itself matters.
    other = HELLO.render_frame(60, {**props, "title": "Another title"})
    assert not np.array_equal(frame[200:400], other[200:400])


def test_helloworld_scales_and_handles_odd_titles(drawing: Any) -> None:
    small = HELLO.render_frame(30, size=(320, 180))
    assert small.shape == (180, 320, 3)
    long_title = HELLO.render_frame(30, {"title": "W" * 300}, size=(320, 180))
    assert long_title.shape == (180, 320, 3)
    assert HELLO.render_frame(30, {"title": ""}).shape == (720, 1280, 3)
    assert HELLO.render_frame(30, {"title": 42}).shape == (720, 1280, 3)


def test_render_frame_checks_the_frame_and_draw_output(drawing: Any) -> None:
    np = drawing
    with pytest.raises(ValueError, match="outside composition 'Square'"):
        SQUARE.render_frame(30)
    blank = Composition("Blank", 4, 2, 30, 1)
    assert not blank.render_frame(0).any()
    wrong = Composition("Wrong", 4, 2, 30, 1, draw=lambda f, p, s: np.zeros((2, 4), np.uint8))
    with pytest.raises(ValueError, match="draw returned"):
        wrong.render_frame(0)


def test_helloworld_draws_fast(drawing: Any) -> None:
    HELLO.render_frame(0)  # builds the cached text layer
    start = time.perf_counter()
    for i in range(150):
        HELLO.render_frame(i)
    per_frame = (time.perf_counter() - start) / 150
    # Typically ~1-2 ms on the 2-core CI machine; the bound is loose to stay unflaky.
    assert per_frame < 0.025, f"{per_frame * 1000:.1f} ms per frame"


# -- synthetic outputs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "magic_at", "magic"),
    [
        ("h264", 4, b"ftyp"),
        ("h265", 4, b"ftyp"),
        ("prores", 4, b"ftyp"),
        ("vp8", 0, b"\x1a\x45\xdf\xa3"),
        ("vp9", 0, b"\x1a\x45\xdf\xa3"),
        ("gif", 0, b"GIF89a"),
        ("mp3", 0, b"ID3"),
        ("aac", 0, b"\xff\xf1"),
        ("wav", 0, b"RIFF"),
    ],
)
def test_synthetic_output_is_small_deterministic_and_plausible(
    codec: str, magic_at: int, magic: bytes
) -> None:
    data = synthetic_output(codec, frames=150, fps=30)
    assert data[magic_at : magic_at + len(magic)] == magic
    assert 0 < len(data) < 1024
    assert data == synthetic_output(codec, frames=150, fps=30)
    assert data != synthetic_output(codec, frames=151, fps=30)


@pytest.mark.parametrize(
    ("fmt", "magic"),
    [("png", b"\x89PNG"), ("jpeg", b"\xff\xd8\xff"), ("jpg", b"\xff\xd8\xff"),
     ("webp", b"RIFF"), ("pdf", b"%PDF-")],
)  # fmt: skip
def test_synthetic_still_is_non_empty_with_magic(fmt: str, magic: bytes) -> None:
    data = synthetic_still(fmt)
    assert data.startswith(magic) and data == synthetic_still(fmt)
    if fmt == "webp":
        assert data[8:12] == b"WEBP"


def test_synthetic_png_is_a_real_image(drawing: Any) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(synthetic_still("png"))) as img:
        assert img.size == (1, 1)


def test_synthetic_rejects_unknown_formats() -> None:
    with pytest.raises(ValueError, match="codec must be one of"):
        synthetic_output("avi", frames=1, fps=30)
    with pytest.raises(ValueError, match="image format must be one of"):
        synthetic_still("bmp")


def test_module_imports_and_synthesises_without_the_extra(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        for name in ("numpy", "PIL", "imageio_ffmpeg"):
            sys.modules[name] = None  # makes them unimportable
        from aioremotion.emulator import media
        assert media.synthetic_output("h264", frames=3, fps=30)[4:8] == b"ftyp"
        assert media.synthetic_still("png").startswith(b"\\x89PNG")
        assert media.ffmpeg_available() is False
        comp = media.default_registry().get("Square")
        try:
            asyncio.run(media.render_still(comp, {}, 0, image_format="png"))
        except media.MediaDependencyError as exc:
            assert isinstance(exc, ImportError)
            print(exc)
        else:
            raise SystemExit("no error")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert 'pip install "aioremotion[emulator]"' in done.stdout
    assert "numpy" in done.stdout and "Pillow" in done.stdout


# -- stills ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
async def test_render_still_decodes_with_pillow(drawing: Any, fmt: str) -> None:
    from PIL import Image

    data = await render_still(HELLO, {"titleColor": "yellow"}, 45, image_format=fmt)
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
        assert img.size == (1280, 720)
        rgb = img.convert("RGB")
        r, g, b = rgb.getpixel((5, 5))  # type: ignore[misc]
        assert abs(r - 11) < 6 and abs(g - 132) < 6 and abs(b - 243) < 6


async def test_render_still_scale_quality_and_pdf(drawing: Any) -> None:
    from PIL import Image

    half = await render_still(SQUARE, {}, 10, image_format="jpg", scale=0.5)
    with Image.open(io.BytesIO(half)) as img:
        assert img.size == (80, 45)
    low = await render_still(HELLO, {}, 45, image_format="jpeg", jpeg_quality=10)
    high = await render_still(HELLO, {}, 45, image_format="jpeg", jpeg_quality=95)
    assert len(low) < len(high)
    pdf = await render_still(HELLO, {}, 45, image_format="pdf")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    with pytest.raises(ValueError, match="image format"):
        await render_still(HELLO, {}, 0, image_format="tiff")
    with pytest.raises(ValueError, match="outside composition"):
        await render_still(HELLO, {}, 150, image_format="png")


# -- real encoding -----------------------------------------------------------------------------


async def encode_square(tmp_path: Path, codec: str, chunks: int = 3) -> list[Path]:
    per = SQUARE.duration_in_frames // chunks
    ext = chunk_extension(codec)
    return [
        await encode_chunk(
            SQUARE,
            {},
            range(i * per, (i + 1) * per),
            codec=codec,
            out_path=tmp_path / f"chunk-{i}.{ext}",
        )
        for i in range(chunks)
    ]


async def test_h264_in_three_chunks_combines_into_a_faststart_mp4(
    ffmpeg: str, tmp_path: Path
) -> None:
    chunks = await encode_square(tmp_path, "h264")
    assert all(p.read_bytes()[4:8] == b"ftyp" for p in chunks)
    out = await combine_chunks(chunks, tmp_path / "out.mp4", codec="h264")
    info = ffprobe_like(out)
    assert info["returncode"] == 0 and info["errors"] == []
    assert info["format"].startswith("mov,mp4")
    assert info["video_codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert (info["width"], info["height"], info["fps"]) == (160, 90, 30.0)
    assert info["frames"] == 30
    assert info["duration"] == pytest.approx(1.0, abs=0.05)
    assert info["audio_codec"] is None
    data = out.read_bytes()
    assert data[4:8] == b"ftyp" and data.index(b"moov") < data.index(b"mdat")
    assert not list(tmp_path.glob(".concat-*"))  # the concat list is cleaned up


@pytest.mark.parametrize(
    ("codec", "fmt", "video", "audio", "frames"),
    [
        ("h265", "mov,mp4", "hevc", None, 30),
        ("vp8", "matroska,webm", "vp8", None, 30),
        ("vp9", "matroska,webm", "vp9", None, 30),
        ("prores", "mov,mp4", "prores", None, 30),
        ("gif", "gif", "gif", None, 30),
        ("mp3", "mp3", None, "mp3", None),
        ("aac", "aac", None, "aac", None),
        ("wav", "wav", None, "pcm_s16le", None),
    ],
)
async def test_other_codecs_produce_valid_files(
    ffmpeg: str,
    tmp_path: Path,
    codec: str,
    fmt: str,
    video: str | None,
    audio: str | None,
    frames: int | None,
) -> None:
    chunks = await encode_square(tmp_path, codec, chunks=2)
    out = await combine_chunks(chunks, tmp_path / f"out.{output_extension(codec)}", codec=codec)
    info = ffprobe_like(out)
    assert info["returncode"] == 0 and info["errors"] == [], info
    assert info["format"].startswith(fmt)
    assert (info["video_codec"], info["audio_codec"], info["frames"]) == (video, audio, frames)
    assert info["decoded_seconds"] == pytest.approx(1.0, abs=0.06)


@pytest.mark.parametrize("codec", ["h264", "h265", "vp9", "prores"])
async def test_chunks_of_any_length_join_exactly(ffmpeg: str, tmp_path: Path, codec: str) -> None:
    """One- and seven-frame chunks: no frame lost, no timestamp drift at the joins."""
    ext = chunk_extension(codec)
    chunks, start = [], 0
    for i, n in enumerate([7, 7, 7, 7, 1, 1]):
        frames = range(start, start + n)
        path = tmp_path / f"chunk-{i}.{ext}"
        chunks.append(await encode_chunk(SQUARE, {}, frames, codec=codec, out_path=path))
        start += n
    out = await combine_chunks(chunks, tmp_path / f"out.{output_extension(codec)}", codec=codec)
    info = ffprobe_like(out)
    assert info["errors"] == [] and info["frames"] == 30
    assert info["fps"] == 30.0 and info["duration"] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    ("codec", "audio_codec", "fmt", "audio"),
    [("h264", "aac", "mov,mp4", "aac"), ("h264", "pcm-16", "matroska", "pcm_s16le"),
     ("vp9", "opus", "matroska,webm", "opus")],
)  # fmt: skip
async def test_audio_codec_adds_a_silent_track(
    ffmpeg: str, tmp_path: Path, codec: str, audio_codec: str, fmt: str, audio: str
) -> None:
    chunks = await encode_square(tmp_path, codec, chunks=2)
    ext = output_extension(codec, audio_codec)
    out = await combine_chunks(
        chunks, tmp_path / f"out.{ext}", codec=codec, audio_codec=audio_codec
    )
    info = ffprobe_like(out)
    assert info["errors"] == [] and info["format"].startswith(fmt)
    assert info["audio_codec"] == audio and info["frames"] == 30


async def test_scale_fps_and_crf_reach_the_encoder(ffmpeg: str, tmp_path: Path) -> None:
    chunk = await encode_chunk(
        HELLO, {}, range(0, 12), codec="h264", out_path=tmp_path / "c.mp4",
        scale=0.25, fps=24, crf=30,
    )  # fmt: skip
    info = ffprobe_like(chunk)
    assert (info["width"], info["height"], info["frames"]) == (320, 180, 12)
    assert info["fps"] == 24.0
    assert info["decoded_seconds"] == pytest.approx(0.5, abs=0.05)


async def test_bad_input_fails_before_ffmpeg_starts(
    ffmpeg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_spawn(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ffmpeg must not start")

    monkeypatch.setattr(asyncio, "create_subprocess_exec", no_spawn)
    with pytest.raises(ValueError, match="prop 'titleColor'"):
        await encode_chunk(HELLO, {"titleColor": "??"}, range(3), codec="h264",
                           out_path=tmp_path / "c.mp4")  # fmt: skip
    with pytest.raises(ValueError, match=r"frames \[30\] are outside"):
        await encode_chunk(SQUARE, {}, [29, 30], codec="h264", out_path=tmp_path / "c.mp4")
    with pytest.raises(ValueError, match="frames must not be empty"):
        await encode_chunk(SQUARE, {}, [], codec="h264", out_path=tmp_path / "c.mp4")
    with pytest.raises(ValueError, match="codec must be one of"):
        await encode_chunk(SQUARE, {}, [0], codec="avi", out_path=tmp_path / "c.mp4")
    with pytest.raises(FileNotFoundError, match="chunk files not found"):
        await combine_chunks([tmp_path / "missing.mp4"], tmp_path / "o.mp4", codec="h264")
    assert not (tmp_path / "c.mp4").exists()


async def test_ffmpeg_failure_raises_ffmpeg_error(ffmpeg: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(FFmpegError, match="combine 1 h264 chunks") as info:
        await combine_chunks([junk], tmp_path / "out.mp4", codec="h264")
    assert info.value.returncode != 0 and info.value.stderr
    assert not (tmp_path / "out.mp4").exists()


async def test_cancelling_an_encode_kills_ffmpeg(
    ffmpeg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawned: list[asyncio.subprocess.Process] = []
    real_exec = asyncio.create_subprocess_exec

    async def recording_exec(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        proc = await real_exec(*args, **kwargs)
        spawned.append(proc)
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recording_exec)
    drawn = 0

    def counting_draw(frame: int, props: dict[str, Any], size: tuple[int, int]) -> Any:
        nonlocal drawn
        drawn += 1
        assert HELLO.draw is not None
        return HELLO.draw(frame, props, size)

    hello = dataclasses.replace(HELLO, draw=counting_draw)
    before = children_of_this_process()
    out = tmp_path / "chunk.mp4"
    task = asyncio.ensure_future(encode_chunk(hello, {}, range(150), codec="h264", out_path=out))
    for _ in range(500):
        if spawned:
            break
        await asyncio.sleep(0.01)
    assert spawned, "ffmpeg did not start"
    proc = spawned[0]
    assert proc.pid in children_of_this_process()
    with anyio.fail_after(30):  # some frames are in flight
        while drawn < 10:
            await asyncio.sleep(0.01)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert proc.returncode is not None  # killed and reaped
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)
    assert children_of_this_process() <= before
    assert not out.exists()


async def test_render_media_renders_the_square(ffmpeg: str, tmp_path: Path) -> None:
    out = await render_media(SQUARE, {"color": "lime"}, codec="h264",
                             out_path=tmp_path / "sq.mp4", frames_per_chunk=7)  # fmt: skip
    info = ffprobe_like(out)
    assert info["errors"] == [] and info["frames"] == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sq.mp4"]  # chunks cleaned up


async def test_full_helloworld_render_decodes(ffmpeg: str, tmp_path: Path) -> None:
    # ~1.5 s on the 2-core machine (draw ~1-2 ms/frame, x264 ultrafast, 2 chunks at once).
    out = await render_media(HELLO, {}, codec="h264", out_path=tmp_path / "hello.mp4",
                             frames_per_chunk=75)  # fmt: skip
    info = ffprobe_like(out)
    assert info["returncode"] == 0 and info["errors"] == []
    assert (info["video_codec"], info["width"], info["height"]) == ("h264", 1280, 720)
    assert info["frames"] == 150
    assert info["duration"] == pytest.approx(5.0, abs=0.05)
