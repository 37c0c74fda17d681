"""Typed options of the render, still, progress and compositions calls.

Fields are snake_case; each also accepts the official JS client's camelCase name, so an
options object copied from a JavaScript project validates unchanged. Defaults are the JS
client's. Every check runs before any AWS call and raises
:class:`~aioremotion.errors.InvalidOptionsError` naming the field and the fix.

Example:
    >>> opts = RenderMediaOptions.model_validate(
    ...     {"serveUrl": "my-site", "composition": "MyComp", "codec": "h264",
    ...      "framesPerLambda": 60, "inputProps": {"title": "Hello"}})
    >>> (opts.frames_per_lambda, opts.image_format, opts.privacy)
    (60, 'jpeg', 'public')
    >>> RenderMediaOptions(serve_url="my-site", composition="MyComp", codec="avi")
    Traceback (most recent call last):
    ...
    aioremotion.errors.InvalidOptionsError: Invalid options:
      codec: must be one of h264, h265, vp8, vp9, mp3, aac, wav, gif, prores; got 'avi'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    field_serializer,
    field_validator,
    model_validator,
)

from ..errors import InvalidOptionsError
from .constants import (
    CODECS,
    MAX_FUNCTIONS_PER_RENDER,
    MAX_WEBHOOK_CUSTOM_DATA_SIZE,
    MINIMUM_FRAMES_PER_LAMBDA,
    OUT_NAME_EXTENSIONS,
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
from .naming import (
    check_bucket_name,
    check_function_name,
    check_region,
    check_render_id,
    check_s3_key,
    check_serve_url,
    file_extension,
)
from .nesting import check_json_depth
from .props import js_json_dumps, serialize_input_props
from .validated import ValidatedModel as _Model

__all__ = [
    "ChromiumOptions",
    "CompositionsOptions",
    "DownloadBehavior",
    "OutNameS3",
    "ProgressOptions",
    "RenderFramesOptions",
    "RenderMediaOptions",
    "RenderStillOptions",
    "S3OutputPrefix",
    "S3OutputProvider",
    "Webhook",
    "options_from",
]

#: Valid ``crf`` values per codec (codecs missing here take no crf).
CRF_RANGES: dict[str, tuple[int, int]] = {
    "h264": (1, 51),
    "h265": (0, 51),
    "vp8": (4, 63),
    "vp9": (0, 63),
}

NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]


def _invalid(field: str, message: str) -> InvalidOptionsError:
    return InvalidOptionsError([(field, message)])


# ---------------------------------------------------------------- nested option objects


class ChromiumOptions(_Model):
    """Browser options; sent with Remotion's camelCase keys (the function ignores others)."""

    ignore_certificate_errors: bool | None = None
    disable_web_security: bool | None = None
    gl: Literal["swangle", "angle", "egl", "swiftshader", "vulkan", "angle-egl"] | None = None
    headless: bool | None = None
    user_agent: str | None = None
    enable_multi_process_on_linux: bool | None = None
    dark_mode: bool | None = None

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class DownloadBehavior(_Model):
    """``play-in-browser`` (default) or ``download`` with an optional file name."""

    type: Literal["play-in-browser", "download"] = "play-in-browser"
    file_name: str | None = None

    @model_validator(mode="after")
    def _file_name_only_for_download(self) -> DownloadBehavior:
        if self.type == "play-in-browser" and self.file_name is not None:
            raise ValueError(
                "file_name only applies to type 'download'; use "
                "{'type': 'download', 'file_name': ...}"
            )
        return self

    def to_payload(self) -> dict[str, Any]:
        if self.type == "download":
            return {"type": "download", "fileName": self.file_name}
        return {"type": "play-in-browser"}


class S3OutputProvider(_Model):
    """Credentials of an S3-compatible store (R2, MinIO, …) the output goes to."""

    endpoint: str
    access_key_id: str = Field(repr=False)  # not a secret, but a credential: not in reprs
    secret_access_key: SecretStr
    region: str | None = None
    force_path_style: bool | None = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL; got {value!r}")
        return value

    @field_serializer("access_key_id", when_used="json")
    def _hide_key_id_in_json(self, value: str) -> str:
        return "**********"  # as JSON shows a SecretStr; model_dump() keeps it (round trip)

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "endpoint": self.endpoint,
            "accessKeyId": self.access_key_id,
            "secretAccessKey": self.secret_access_key.get_secret_value(),
        }
        if self.region is not None:
            out["region"] = self.region
        if self.force_path_style is not None:
            out["forcePathStyle"] = self.force_path_style
        return out


class OutNameS3(_Model):
    """Put the output into another bucket (possibly of another S3 provider)."""

    bucket_name: str
    key: str
    s3_output_provider: S3OutputProvider | None = Field(default=None, alias="s3OutputProvider")

    @field_validator("bucket_name")
    @classmethod
    def _bucket(cls, value: str) -> str:
        return check_bucket_name(value)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        return check_s3_key(value, "key")

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bucketName": self.bucket_name, "key": self.key}
        if self.s3_output_provider is not None:
            out["s3OutputProvider"] = self.s3_output_provider.to_payload()
        return out


class Webhook(_Model):
    """Where the function POSTs the outcome of a render, signed with ``secret``.

    ``custom_data`` comes back in the webhook; it may be at most 1024 characters as JSON,
    nested at most :data:`~aioremotion.protocol.nesting.MAX_JSON_DEPTH` levels.
    """

    url: str
    secret: SecretStr | None = None
    custom_data: dict[str, Any] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL the function can reach; got {value!r}")
        return value

    @field_validator("custom_data")
    @classmethod
    def _custom_data_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        check_json_depth(value, "custom_data")
        try:
            text = js_json_dumps(value)
        except TypeError as exc:
            raise ValueError(f"must hold JSON values only ({exc})") from None
        size = len(text.encode("utf-16-le")) // 2
        if size > MAX_WEBHOOK_CUSTOM_DATA_SIZE:
            raise ValueError(
                f"is {size} characters as JSON; Remotion allows at most "
                f"{MAX_WEBHOOK_CUSTOM_DATA_SIZE}: send an id and look the rest up instead"
            )
        return value

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "url": self.url,
            "secret": self.secret.get_secret_value() if self.secret is not None else None,
        }
        if self.custom_data is not None:
            out["customData"] = self.custom_data
        return out


# ---------------------------------------------------------------- shared call options


class _CallOptions(_Model):
    """Options every call to a function takes."""

    region: str | None = None
    function_name: str | None = None
    log_level: LogLevel = "info"

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None:
            check_region(value)
        return value

    @field_validator("function_name")
    @classmethod
    def _function_name(cls, value: str | None) -> str | None:
        if value is not None:
            check_function_name(value)
        return value


class _BundleOptions(_CallOptions):
    """Options of calls that open the deployed site (bundle) in the browser.

    ``input_props`` is serialised as ``JSON.stringify`` would (see
    :func:`~aioremotion.protocol.props.serialize_input_props`) and may nest at most
    :data:`~aioremotion.protocol.nesting.MAX_JSON_DEPTH` (500) objects and arrays deep.
    """

    serve_url: str
    input_props: Any = None
    env_variables: dict[str, str] = Field(default_factory=dict)
    timeout_in_milliseconds: int = Field(default=30000, gt=0)
    chromium_options: ChromiumOptions = Field(default_factory=ChromiumOptions)
    force_bucket_name: str | None = None
    force_path_style: bool = False
    offthread_video_cache_size_in_bytes: NonNegativeInt | None = None
    media_cache_size_in_bytes: NonNegativeInt | None = None

    _props_text: str = "{}"

    @field_validator("serve_url")
    @classmethod
    def _serve_url(cls, value: str) -> str:
        return check_serve_url(value)

    @field_validator("force_bucket_name")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value is not None:
            check_bucket_name(value)
        return value

    @model_validator(mode="after")
    def _serialise_props(self) -> Any:
        self._props_text = serialize_input_props(self.input_props)
        return self

    @property
    def input_props_json(self) -> str:
        """The props as the JSON text Remotion receives."""
        return self._props_text


class _SiteOptions(_BundleOptions):
    """Options of calls that render a composition of the site."""

    composition: str
    offthread_video_threads: int | None = Field(default=None, ge=1)

    @field_validator("composition")
    @classmethod
    def _composition(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be the id of a composition in your Remotion project")
        return value


class _RenderOutputOptions(_SiteOptions):
    """Options shared by video and still renders."""

    jpeg_quality: int = Field(default=80, ge=0, le=100, strict=True)
    max_retries: NonNegativeInt = 1
    privacy: Privacy = "public"
    out_name: str | OutNameS3 | None = None
    scale: float = Field(default=1, gt=0, le=16)
    download_behavior: DownloadBehavior = Field(default_factory=DownloadBehavior)
    force_height: int | None = Field(default=None, gt=0)
    force_width: int | None = Field(default=None, gt=0)
    force_fps: float | None = Field(default=None, gt=0)
    force_duration_in_frames: int | None = Field(default=None, gt=0)
    delete_after: DeleteAfter | None = None
    license_key: SecretStr | None = None
    storage_class: StorageClass | None = None
    is_production: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _api_key_is_license_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "apiKey" in data:
            data = dict(data)
            api_key = data.pop("apiKey")
            if data.get("licenseKey", data.get("license_key")) is None:
                data["licenseKey"] = api_key
        return data

    @field_validator("out_name")
    @classmethod
    def _out_name_key(cls, value: str | OutNameS3 | None) -> str | OutNameS3 | None:
        if isinstance(value, str):
            check_s3_key(value, "out_name")
        return value

    def out_name_payload(self) -> Any:
        if isinstance(self.out_name, OutNameS3):
            return self.out_name.to_payload()
        return self.out_name


FrameRange = int | tuple[int, int] | tuple[int, None]


def _check_frame_range(value: Any) -> Any:
    """A single frame or ``[first, last]`` / ``[first, None]``; several ranges refused."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"must be a frame number or [first, last]; got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must not be negative; got {value}")
        return value
    if isinstance(value, (list, tuple)):
        if any(isinstance(item, (list, tuple)) for item in value):
            raise ValueError(
                "multiple frame ranges are not supported on Lambda: render one range "
                "per call"
            )

        def whole(item: Any) -> bool:
            return isinstance(item, int) and not isinstance(item, bool)

        if len(value) != 2 or not whole(value[0]) or not (
            value[1] is None or whole(value[1])
        ):
            raise ValueError(
                "must be a frame number, [first, last] or [first, None] (to the end) of "
                f"whole numbers; got {value!r}"
            )
        first, last = value
        if first < 0 or (last is not None and last < first):
            raise ValueError(
                f"must be [first, last] with 0 <= first <= last; got [{first}, {last}]"
            )
        return (first, last)
    raise ValueError(f"must be a frame number or [first, last]; got {value!r}")


def _frame_count(frame_range: FrameRange | None, every_nth_frame: int) -> int | None:
    """How many frames ``frame_range`` renders, when it says so."""
    if frame_range is None:
        return None
    first, last = ((frame_range, frame_range) if isinstance(frame_range, int)
                   else frame_range)
    return None if last is None else len(range(first, last + 1, every_nth_frame))


def _split_problems(frames_per_lambda: int | None, concurrency: int | None,
                    frame_count: int | None) -> list[tuple[str, str]]:
    """What is wrong with how a render is split into chunks (media and image sequences
    alike): ``frames_per_lambda`` and ``concurrency`` exclusive, Remotion's minimum chunk
    size, and at most ``MAX_FUNCTIONS_PER_RENDER`` functions."""
    problems: list[tuple[str, str]] = []
    fpl = frames_per_lambda
    if fpl is not None and concurrency is not None:
        problems.append(
            ("frames_per_lambda", "cannot be set together with concurrency: set one of them "
                                  "(or neither, for Remotion's automatic split)"))
    if fpl is not None:
        small_render_ok = frame_count is not None and fpl >= frame_count >= 1
        if fpl < 1 or (fpl < MINIMUM_FRAMES_PER_LAMBDA and not small_render_ok):
            problems.append(
                ("frames_per_lambda", f"must be at least {MINIMUM_FRAMES_PER_LAMBDA} "
                 "(Remotion's minimum chunk size) or, for a render of fewer frames, at "
                 f"least their number; got {fpl}"))
        elif frame_count is not None and -(-frame_count // fpl) > MAX_FUNCTIONS_PER_RENDER:
            problems.append(
                ("frames_per_lambda", f"{frame_count} frames in chunks of {fpl} need "
                 f"{-(-frame_count // fpl)} functions; Remotion allows at most "
                 f"{MAX_FUNCTIONS_PER_RENDER}: raise frames_per_lambda"))
    if concurrency is not None and not 1 <= concurrency <= MAX_FUNCTIONS_PER_RENDER:
        problems.append(("concurrency", f"must be between 1 and {MAX_FUNCTIONS_PER_RENDER}; "
                                        f"got {concurrency}"))
    return problems


class RenderMediaOptions(_RenderOutputOptions):
    """Options of a video, audio or GIF render (``renderMediaOnLambda``).

    Only ``serve_url``, ``composition`` and ``codec`` are required; ``region`` and
    ``function_name`` default to the client's.

    Example:
        >>> RenderMediaOptions(serve_url="my-site", composition="MyComp", codec="h264",
        ...                    frames_per_lambda=3)
        Traceback (most recent call last):
        ...
        aioremotion.errors.InvalidOptionsError: Invalid options:
          frames_per_lambda: must be at least 5 (Remotion's minimum chunk size) or, for a \
render of fewer frames, at least their number; got 3
    """

    _removed_options: ClassVar[dict[str, str]] = {
        "quality": "has been renamed to jpeg_quality (jpegQuality): rename the option",
    }

    codec: Codec
    audio_codec: AudioCodec | None = None
    image_format: VideoImageFormat = "jpeg"
    crf: int | None = None
    pixel_format: PixelFormat | None = None
    prores_profile: ProResProfile | None = Field(default=None, alias="proResProfile")
    x264_preset: X264Preset | None = None
    gop_size: int | None = Field(default=None, ge=0)
    color_space: ColorSpace | None = None
    frame_range: FrameRange | None = None
    every_nth_frame: int = Field(default=1, ge=1, strict=True)
    number_of_gif_loops: int | None = Field(default=None, ge=0)
    frames_per_lambda: int | None = Field(default=None, strict=True)
    concurrency: int | None = Field(default=None, strict=True)
    concurrency_per_lambda: int = Field(default=1, ge=1, strict=True)
    renderer_function_name: str | None = None
    enable_cancellation: bool = False
    muted: bool = False
    overwrite: bool = False
    prefer_lossless: bool = False
    audio_bitrate: str | None = None
    video_bitrate: str | None = None
    encoding_buffer_size: str | None = None
    encoding_max_rate: str | None = None
    webhook: Webhook | None = None
    metadata: dict[str, str] | None = None
    sample_rate: int = Field(default=48000, gt=0)
    separate_audio_to: str | None = None
    disable_shared_memory_capture: bool = False

    @field_validator("codec", mode="before")
    @classmethod
    def _codec(cls, value: Any) -> Any:
        if value not in CODECS:
            raise ValueError(f"must be one of {', '.join(CODECS)}; got {value!r}")
        return value

    @field_validator("frame_range", mode="before")
    @classmethod
    def _frame_range(cls, value: Any) -> Any:
        return _check_frame_range(value)

    @field_validator("renderer_function_name")
    @classmethod
    def _renderer(cls, value: str | None) -> str | None:
        if value is not None:
            check_function_name(value, "renderer_function_name")
        return value

    @field_validator("audio_bitrate", "video_bitrate")
    @classmethod
    def _bitrate(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith(("K", "k", "M")):
            raise ValueError(f"must end in 'K', 'k' or 'M', like '128k' or '5M'; got {value!r}")
        return value

    @model_validator(mode="after")
    def _combinations(self) -> RenderMediaOptions:
        problems: list[tuple[str, str]] = []
        problems.extend(_split_problems(self.frames_per_lambda, self.concurrency,
                                        self.frame_count))
        try:
            file_extension(self.codec, self.audio_codec)
        except InvalidOptionsError as exc:
            problems.extend(exc.problems)
        if self.crf is not None:
            crf_range = CRF_RANGES.get(self.codec)
            if crf_range is None:
                problems.append(("crf", f"codec {self.codec!r} takes no crf: leave it unset"))
            elif self.codec == "h264" and self.crf == 0:
                problems.append(
                    ("crf", "0 is not supported with h264 (such videos do not play on "
                            "iOS/macOS): use 1 or more")
                )
            elif not crf_range[0] <= self.crf <= crf_range[1]:
                problems.append(
                    ("crf", f"must be between {crf_range[0]} and {crf_range[1]} for codec "
                            f"{self.codec!r}; got {self.crf}")
                )
            if self.video_bitrate is not None:
                problems.append(
                    ("crf", "cannot be set together with video_bitrate: choose one way to set "
                            "the quality")
                )
        if self.encoding_max_rate is not None and self.encoding_buffer_size is None:
            problems.append(
                ("encoding_max_rate", "cannot be set without encoding_buffer_size: set both")
            )
        if self.pixel_format == "yuva420p" and self.codec not in ("vp8", "vp9"):
            problems.append(
                ("pixel_format", f"'yuva420p' (transparency) needs codec 'vp8' or 'vp9'; got "
                                 f"codec {self.codec!r}")
            )
        if self.pixel_format in ("yuva420p", "yuva444p10le") and self.image_format != "png":
            problems.append(
                ("pixel_format", f"{self.pixel_format!r} renders transparency, which needs "
                                 f"image_format 'png'; got {self.image_format!r}")
            )
        if self.number_of_gif_loops is not None and self.codec != "gif":
            problems.append(
                ("number_of_gif_loops", f"only applies to codec 'gif'; got codec "
                                        f"{self.codec!r}: leave it unset")
            )
        if self.prores_profile is not None and self.codec != "prores":
            problems.append(
                ("prores_profile", f"only applies to codec 'prores'; got codec {self.codec!r}")
            )
        if self.x264_preset is not None and self.codec != "h264":
            problems.append(
                ("x264_preset", f"only applies to codec 'h264'; got codec {self.codec!r}")
            )
        if isinstance(self.out_name, str):
            allowed = self.allowed_out_name_extensions
            if allowed and not self.out_name.endswith(tuple(f".{ext}" for ext in allowed)):
                endings = " or ".join(f".{ext}" for ext in allowed)
                with_audio = f" with audio codec {self.audio_codec!r}" if self.audio_codec else ""
                problems.append(
                    ("out_name", f"must end in {endings} for codec {self.codec!r}{with_audio}; "
                                 f"got {self.out_name!r}")
                )
        if problems:
            raise InvalidOptionsError(problems)
        return self

    @property
    def frame_count(self) -> int | None:
        """How many frames will be rendered, when ``frame_range`` says so."""
        return _frame_count(self.frame_range, self.every_nth_frame)

    @property
    def allowed_out_name_extensions(self) -> tuple[str, ...]:
        """The extensions a string ``out_name`` may end in for this codec and audio codec."""
        try:
            default = file_extension(self.codec, self.audio_codec)
        except InvalidOptionsError:
            return ()
        if self.audio_codec is None:
            return (default,)
        return OUT_NAME_EXTENSIONS.get(self.codec, {}).get(self.audio_codec, (default,))

    @property
    def expected_extension(self) -> str:
        """The extension of the default output name (``out.<ext>``)."""
        return file_extension(self.codec, self.audio_codec)


class RenderStillOptions(_RenderOutputOptions):
    """Options of a still render (``renderStillOnLambda``).

    ``image_format`` and ``privacy`` are required in JavaScript; here they default to
    ``png`` and ``public``.

    Example:
        >>> RenderStillOptions(serve_url="my-site", composition="Thumb", image_format="jpeg",
        ...                    frame=10).frame
        10
    """

    image_format: StillImageFormat = "png"
    frame: int = Field(default=0, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _quality_is_jpeg_quality(cls, data: Any) -> Any:
        # renderStillOnLambda still honours the old name: jpegQuality ?? quality ?? 80.
        if isinstance(data, dict) and "quality" in data:
            data = dict(data)
            quality = data.pop("quality")
            if data.get("jpegQuality", data.get("jpeg_quality")) is None:
                data["jpegQuality"] = quality
        return data

    attempt: int = Field(default=1, ge=1)
    dump_browser_logs: bool | None = None

    @model_validator(mode="after")
    def _out_name_extension(self) -> RenderStillOptions:
        if isinstance(self.out_name, str) and "." not in self.out_name.rsplit("/", 1)[-1]:
            raise InvalidOptionsError(
                [("out_name", f"needs a file extension such as .{self.image_format}; "
                              f"got {self.out_name!r}")]
            )
        return self

    @property
    def effective_log_level(self) -> str:
        return "verbose" if self.dump_browser_logs else self.log_level


class S3OutputPrefix(_Model):
    """Where an image sequence goes when not in the render bucket: a bucket, a key prefix
    (a ``/`` is added when missing) and, for another S3 provider, its credentials."""

    bucket_name: str
    key_prefix: str
    s3_output_provider: S3OutputProvider | None = Field(default=None, alias="s3OutputProvider")

    @field_validator("bucket_name")
    @classmethod
    def _bucket(cls, value: str) -> str:
        return check_bucket_name(value)

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bucketName": self.bucket_name, "keyPrefix": self.key_prefix}
        if self.s3_output_provider is not None:
            out["s3OutputProvider"] = self.s3_output_provider.to_payload()
        return out


class RenderFramesOptions(_SiteOptions):
    """Options of an image sequence render (``renderFramesOnLambda``, Remotion 4.0.535+).

    The subset of :class:`RenderMediaOptions` Remotion accepts for sequences, plus
    ``image_format`` (``png``, the default, or ``jpeg``), ``output_prefix`` (a key prefix in
    the render bucket, or an :class:`S3OutputPrefix`; default ``renders/<renderId>/frames/``)
    and ``image_sequence_pattern`` (file names: ``[frame]`` is the zero-padded frame number,
    ``[ext]`` the format).

    Example:
        >>> RenderFramesOptions(serve_url="my-site", composition="MyComp",
        ...                     image_sequence_pattern="frame-[frame].[ext]").image_format
        'png'
        >>> RenderFramesOptions(serve_url="my-site", composition="MyComp", jpeg_quality=90)
        Traceback (most recent call last):
        ...
        aioremotion.errors.InvalidOptionsError: Invalid options:
          jpeg_quality: only applies to image_format 'jpeg'; got image_format 'png': set \
image_format='jpeg' or leave jpeg_quality unset
    """

    image_format: Literal["png", "jpeg"] = "png"
    jpeg_quality: int | None = Field(default=None, ge=0, le=100, strict=True)
    output_prefix: str | S3OutputPrefix | None = None
    image_sequence_pattern: str | None = None
    max_retries: NonNegativeInt = 1
    privacy: Privacy = "public"
    frames_per_lambda: int | None = Field(default=None, strict=True)
    concurrency: int | None = Field(default=None, strict=True)
    frame_range: FrameRange | None = None
    scale: float = Field(default=1, gt=0, le=16)
    every_nth_frame: int = Field(default=1, ge=1, strict=True)
    concurrency_per_lambda: int = Field(default=1, ge=1, strict=True)
    download_behavior: DownloadBehavior = Field(default_factory=DownloadBehavior)
    overwrite: bool = False
    webhook: Webhook | None = None
    force_height: int | None = Field(default=None, gt=0)
    force_width: int | None = Field(default=None, gt=0)
    force_fps: float | None = Field(default=None, gt=0)
    force_duration_in_frames: int | None = Field(default=None, gt=0)
    renderer_function_name: str | None = None
    storage_class: StorageClass | None = None
    is_production: bool | None = None
    license_key: SecretStr | None = None
    delete_after: DeleteAfter | None = None
    enable_cancellation: bool = False

    @field_validator("frame_range", mode="before")
    @classmethod
    def _frame_range(cls, value: Any) -> Any:
        return _check_frame_range(value)

    @field_validator("renderer_function_name")
    @classmethod
    def _renderer(cls, value: str | None) -> str | None:
        if value is not None:
            check_function_name(value, "renderer_function_name")
        return value

    @field_validator("image_sequence_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None and "[frame]" not in value:
            raise ValueError(
                "must contain [frame] (the frame number), or every frame would get the "
                f"same key; got {value!r}: try 'element-[frame].[ext]'"
            )
        if value is not None and "/" in value:
            raise ValueError(f"must be a file name without '/': put folders into "
                             f"output_prefix; got {value!r}")
        return value

    @field_validator("output_prefix")
    @classmethod
    def _prefix(cls, value: str | S3OutputPrefix | None) -> str | S3OutputPrefix | None:
        if isinstance(value, str):
            check_s3_key(value, "output_prefix")
        return value

    @model_validator(mode="after")
    def _combinations(self) -> RenderFramesOptions:
        problems: list[tuple[str, str]] = []
        if self.jpeg_quality is not None and self.image_format != "jpeg":
            problems.append(
                ("jpeg_quality", f"only applies to image_format 'jpeg'; got image_format "
                                 f"{self.image_format!r}: set image_format='jpeg' or leave "
                                 "jpeg_quality unset"))
        problems.extend(_split_problems(self.frames_per_lambda, self.concurrency,
                                        _frame_count(self.frame_range, self.every_nth_frame)))
        if problems:
            raise InvalidOptionsError(problems)
        return self

    def output_prefix_payload(self) -> Any:
        """``outputPrefix`` as the payload carries it."""
        if isinstance(self.output_prefix, S3OutputPrefix):
            return self.output_prefix.to_payload()
        return self.output_prefix


class CompositionsOptions(_BundleOptions):
    """Options of ``getCompositionsOnLambda``."""


class ProgressOptions(_CallOptions):
    """Options of ``getRenderProgress``: which render, in which bucket."""

    render_id: str
    bucket_name: str
    s3_output_provider: S3OutputProvider | None = Field(default=None, alias="s3OutputProvider")
    force_path_style: bool = False
    skip_lambda_invocation: bool | None = None

    @field_validator("render_id")
    @classmethod
    def _render_id(cls, value: str) -> str:
        return check_render_id(value)

    @field_validator("bucket_name")
    @classmethod
    def _bucket(cls, value: str) -> str:
        return check_bucket_name(value)


_Model_T = TypeVar("_Model_T", bound=BaseModel)


def options_from(model: type[_Model_T], options: _Model_T | Mapping[str, Any] | None,
                 overrides: Mapping[str, Any]) -> _Model_T:
    """``options`` as a ``model``: a model as it is, a mapping (snake_case or camelCase
    keys) validated, ``overrides`` (keyword arguments) applied over either.

    Example:
        >>> opts = options_from(RenderStillOptions, {"serveUrl": "s", "composition": "C"},
        ...                     {"frame": 3})
        >>> opts.serve_url, opts.frame
        ('s', 3)
    """
    if options is None:
        return model.model_validate(dict(overrides))
    if isinstance(options, model):
        if not overrides:
            return options
        return model.model_validate({**options.model_dump(exclude_unset=True), **overrides})
    if isinstance(options, Mapping):
        return model.model_validate({**options, **overrides})
    raise InvalidOptionsError([("options", f"must be a {model.__name__} or a mapping; got "
                                           f"{type(options).__name__}")])
