"""Constants of the Remotion Lambda wire protocol (checked against Remotion 4.0.527).

Everything here is data: no I/O, no event loop. See docs/PROTOCOL.md sections 2, 6.2 and 13.
"""

from __future__ import annotations

from typing import Final, Literal

#: The Remotion version this release of aioremotion speaks by default.
DEFAULT_REMOTION_VERSION: Final = "4.0.527"

FUNCTION_NAME_PREFIX: Final = "remotion-render-"
BUCKET_NAME_PREFIX: Final = "remotionlambda-"
SITES_PREFIX: Final = "sites"
RENDERS_PREFIX: Final = "renders"
INPUT_PROPS_PREFIX: Final = "input-props"

MAX_FUNCTIONS_PER_RENDER: Final = 200
MINIMUM_FRAMES_PER_LAMBDA: Final = 5
DEFAULT_MAX_RETRIES: Final = 1
MAX_WEBHOOK_CUSTOM_DATA_SIZE: Final = 1024
MIN_MEMORY_MB: Final = 512
MAX_MEMORY_MB: Final = 10240
MIN_DISK_MB: Final = 512
MAX_DISK_MB: Final = 10240
MIN_TIMEOUT_S: Final = 15
MAX_TIMEOUT_S: Final = 900
DEFAULT_MEMORY_MB: Final = 2048
DEFAULT_DISK_MB: Final = 2048
DEFAULT_TIMEOUT_S: Final = 120
#: Every internal price calculation of Remotion uses the maximum disk size.
DISK_MB_FOR_PRICE_CALCULATION: Final = 10240

#: Inline input props are limited by Lambda's 256 KiB async payload; Remotion keeps a margin.
INPUT_PROPS_MARGIN: Final = 5000 + 1024
MEDIA_PROPS_LIMIT: Final = 200_000 - INPUT_PROPS_MARGIN
STILL_PROPS_LIMIT: Final = 5_000_000 - INPUT_PROPS_MARGIN

#: progress.json is rewritten at most this often by the launch function.
PROGRESS_WRITE_INTERVAL_MS: Final = 250

Codec = Literal["h264", "h265", "vp8", "vp9", "mp3", "aac", "wav", "gif", "prores"]
AudioCodec = Literal["pcm-16", "aac", "mp3", "opus"]
VideoImageFormat = Literal["png", "jpeg", "none"]
StillImageFormat = Literal["png", "jpeg", "pdf", "webp"]
PixelFormat = Literal[
    "yuv420p",
    "yuva420p",
    "yuv422p",
    "yuv444p",
    "yuv420p10le",
    "yuv422p10le",
    "yuv444p10le",
    "yuva444p10le",
]
X264Preset = Literal[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
]
ColorSpace = Literal["default", "bt601", "bt709", "bt2020-ncl"]
ProResProfile = Literal["4444-xq", "4444", "hq", "standard", "light", "proxy"]
LogLevel = Literal["trace", "verbose", "info", "warn", "error"]
Privacy = Literal["public", "private", "no-acl"]
DeleteAfter = Literal["1-day", "3-days", "7-days", "30-days"]
StorageClass = Literal[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
]

CODECS: Final[tuple[str, ...]] = (
    "h264",
    "h265",
    "vp8",
    "vp9",
    "mp3",
    "aac",
    "wav",
    "gif",
    "prores",
)
AUDIO_ONLY_CODECS: Final[frozenset[str]] = frozenset({"mp3", "aac", "wav"})

DELETE_AFTER_DAYS: Final[dict[str, int]] = {"1-day": 1, "3-days": 3, "7-days": 7, "30-days": 30}

#: ``codec -> {audioCodec -> file extension}``; the ``None`` key is the extension without
#: an explicit audio codec. An audio codec missing from a codec's map is not allowed with it.
FILE_EXTENSIONS: Final[dict[str, dict[str | None, str]]] = {
    "h264": {None: "mp4", "pcm-16": "mkv", "aac": "mp4", "mp3": "mp4"},
    "h265": {None: "mp4", "aac": "mp4", "pcm-16": "mkv"},
    "vp8": {None: "webm", "pcm-16": "mkv", "opus": "webm"},
    "vp9": {None: "webm", "pcm-16": "mkv", "opus": "webm"},
    "prores": {None: "mov", "aac": "mov", "pcm-16": "mov"},
    "gif": {None: "gif"},
    "mp3": {None: "mp3", "mp3": "mp3", "pcm-16": "wav"},
    "aac": {None: "aac", "aac": "aac", "pcm-16": "wav"},
    "wav": {None: "wav", "pcm-16": "wav"},
}

#: Content types Remotion gives uploaded outputs (a mime lookup by extension).
CONTENT_TYPES: Final[dict[str, str]] = {
    "mp4": "video/mp4",
    "mkv": "video/x-matroska",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "gif": "image/gif",
    "mp3": "audio/mpeg",
    "aac": "audio/x-aac",
    "wav": "audio/wave",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "pdf": "application/pdf",
    "webp": "image/webp",
    "ts": "video/mp2t",
    "m4a": "audio/mp4",
    "mxf": "application/mxf",
    "3gp": "video/3gpp",
    "mpg": "video/mpeg",
    "mpeg": "video/mpeg",
}

#: Extensions the function accepts for a string ``outName``, per codec and audio codec
#: (without an audio codec only the default extension is accepted).
OUT_NAME_EXTENSIONS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "h264": {"aac": ("mp4", "mkv", "mov"), "mp3": ("mp4", "mkv", "mov"),
             "pcm-16": ("mkv", "mov")},
    "h265": {"aac": ("mp4", "mkv", "hevc"), "pcm-16": ("mkv",)},
    "prores": {"aac": ("mov", "mkv", "mxf"), "pcm-16": ("mov", "mkv", "mxf")},
    "aac": {"aac": ("aac", "3gp", "m4a", "m4b", "mpg", "mpeg"), "pcm-16": ("wav",)},
}

#: The regions the official client accepts.
REGIONS: Final[tuple[str, ...]] = (
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-north-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-south-1",
    "ap-east-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ca-central-1",
    "cn-north-1",
    "cn-northwest-1",
    "sa-east-1",
)

RENDER_PROGRESS_DISCLAIMER: Final = (
    "Estimated cost only. Does not include charges for other AWS services."
)
POST_RENDER_COST_DISCLAIMER: Final = (
    "Estimated cost for function invocations only. "
    "Does not include cost for storage and data transfer."
)
