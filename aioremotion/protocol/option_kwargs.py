"""The keyword arguments of ``render_media``, ``render_frames``, ``render_still`` and
``get_compositions``, as ``TypedDict``s, so a type checker flags a misspelt option in your
code (``**kwargs: Unpack[RenderMediaKwargs]``).

Their keys are exactly the fields of :class:`~aioremotion.protocol.options.RenderMediaOptions`,
:class:`~aioremotion.protocol.options.RenderStillOptions` and
:class:`~aioremotion.protocol.options.CompositionsOptions` (a test keeps them equal); the
models still do every check at run time. Every key is optional here, because the options
may also come as a positional model or mapping (camelCase names go in such a mapping).

Example::

    await remotion.render_media(serve_url="my-site", composition="Card", codec="h264",
                                frames_per_lamda=20)
    # mypy: Unexpected keyword argument "frames_per_lamda" for "render_media"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import SecretStr
from typing_extensions import TypedDict

from .constants import (
    AudioCodec,
    Codec,
    ColorSpace,
    DeleteAfter,
    LogLevel,
    PixelFormat,
    Privacy,
    ProResProfile,
    StillImageFormat,
    StorageClass,
    VideoImageFormat,
    X264Preset,
)
from .options import ChromiumOptions, DownloadBehavior, OutNameS3, S3OutputPrefix, Webhook

__all__ = ["CompositionsKwargs", "RenderFramesKwargs", "RenderMediaKwargs", "RenderStillKwargs"]


class _CallKwargs(TypedDict, total=False):
    region: str | None
    function_name: str | None
    log_level: LogLevel


class _BundleKwargs(_CallKwargs, total=False):
    serve_url: str
    input_props: Any
    env_variables: Mapping[str, str]
    timeout_in_milliseconds: int
    chromium_options: ChromiumOptions | Mapping[str, Any]
    force_bucket_name: str | None
    force_path_style: bool
    offthread_video_cache_size_in_bytes: int | None
    media_cache_size_in_bytes: int | None


class _SiteKwargs(_BundleKwargs, total=False):
    composition: str
    offthread_video_threads: int | None


class _RenderOutputKwargs(_SiteKwargs, total=False):
    jpeg_quality: int
    max_retries: int
    privacy: Privacy
    out_name: str | OutNameS3 | Mapping[str, Any] | None
    scale: float
    download_behavior: DownloadBehavior | Mapping[str, Any]
    force_height: int | None
    force_width: int | None
    force_fps: float | None
    force_duration_in_frames: int | None
    delete_after: DeleteAfter | None
    license_key: SecretStr | str | None
    storage_class: StorageClass | None
    is_production: bool | None


class RenderMediaKwargs(_RenderOutputKwargs, total=False):
    """The keyword arguments of ``render_media`` (see ``RenderMediaOptions``)."""

    codec: Codec
    audio_codec: AudioCodec | None
    image_format: VideoImageFormat
    crf: int | None
    pixel_format: PixelFormat | None
    prores_profile: ProResProfile | None
    x264_preset: X264Preset | None
    gop_size: int | None
    color_space: ColorSpace | None
    frame_range: int | tuple[int, int] | tuple[int, None] | list[int] | None
    every_nth_frame: int
    number_of_gif_loops: int | None
    frames_per_lambda: int | None
    concurrency: int | None
    concurrency_per_lambda: int
    renderer_function_name: str | None
    enable_cancellation: bool
    muted: bool
    overwrite: bool
    prefer_lossless: bool
    audio_bitrate: str | None
    video_bitrate: str | None
    encoding_buffer_size: str | None
    encoding_max_rate: str | None
    webhook: Webhook | Mapping[str, Any] | None
    metadata: Mapping[str, str] | None
    sample_rate: int
    separate_audio_to: str | None
    disable_shared_memory_capture: bool


class RenderStillKwargs(_RenderOutputKwargs, total=False):
    """The keyword arguments of ``render_still`` (see ``RenderStillOptions``)."""

    image_format: StillImageFormat
    frame: int
    attempt: int
    dump_browser_logs: bool | None


class RenderFramesKwargs(_SiteKwargs, total=False):
    """The keyword arguments of ``render_frames`` (see ``RenderFramesOptions``)."""

    image_format: Literal["png", "jpeg"]
    jpeg_quality: int | None
    output_prefix: str | S3OutputPrefix | Mapping[str, Any] | None
    image_sequence_pattern: str | None
    max_retries: int
    privacy: Privacy
    frames_per_lambda: int | None
    concurrency: int | None
    frame_range: int | tuple[int, int] | tuple[int, None] | list[int] | None
    scale: float
    every_nth_frame: int
    concurrency_per_lambda: int
    download_behavior: DownloadBehavior | Mapping[str, Any]
    overwrite: bool
    webhook: Webhook | Mapping[str, Any] | None
    force_height: int | None
    force_width: int | None
    force_fps: float | None
    force_duration_in_frames: int | None
    renderer_function_name: str | None
    storage_class: StorageClass | None
    is_production: bool | None
    license_key: SecretStr | str | None
    delete_after: DeleteAfter | None
    enable_cancellation: bool


class CompositionsKwargs(_BundleKwargs, total=False):
    """The keyword arguments of ``get_compositions`` (see ``CompositionsOptions``)."""
