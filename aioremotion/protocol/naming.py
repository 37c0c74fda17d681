"""Names, keys and URLs of Remotion Lambda: functions, buckets, sites, outputs, console links.

Pure functions (docs/PROTOCOL.md section 2).

Example:
    >>> spec = parse_function_name("remotion-render-4-0-527-mem2048mb-disk2048mb-120sec")
    >>> (spec.version, spec.memory_mb, spec.disk_mb, spec.timeout_s)
    ('4.0.527', 2048, 2048, 120)
    >>> output_url("us-east-1", "remotionlambda-useast1-abcdefghij", "renders/k1a2b3c4d5/out.mp4")
    'https://s3.us-east-1.amazonaws.com/remotionlambda-useast1-abcdefghij/renders/k1a2b3c4d5/out.mp4'
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import InvalidOptionsError
from .constants import (
    BUCKET_NAME_PREFIX,
    CONTENT_TYPES,
    FILE_EXTENSIONS,
    FUNCTION_NAME_PREFIX,
    REGIONS,
    RENDERS_PREFIX,
)

RANDOM_HASH_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_FUNCTION_NAME_RE = re.compile(r"remotion-render-(.*)-mem(\d+)mb-disk(\d+)mb-(\d+)sec$")
_BUCKET_NAME_RE = re.compile(r"^remotionlambda-(.*)-([a-zA-Z0-9]+)$")
#: What the function accepts as an S3 key (anchored at the start only, as in Remotion).
_S3_KEY_RE = re.compile(r"^([0-9a-zA-Z-!_.*'()/:&$@=;+,?]+)")
_S3_BUCKET_RE = re.compile(r"^(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: Render ids become part of S3 keys: only these characters may appear.
_RENDER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_SITE_NAME_RE = re.compile(r"^[0-9a-zA-Z-!_.*'()]+$")


# ---------------------------------------------------------------- regions and partitions


@dataclass(frozen=True)
class Partition:
    """The AWS partition a region belongs to."""

    name: str
    dns_suffix: str
    console_domain: str
    currency: str


AWS = Partition("aws", "amazonaws.com", "console.aws.amazon.com", "USD")
AWS_CN = Partition("aws-cn", "amazonaws.com.cn", "console.amazonaws.cn", "CNY")


def partition_of(region: str) -> Partition:
    """The partition of ``region``: ``aws-cn`` for the ``cn-*`` regions, else ``aws``.

    >>> partition_of("cn-north-1").dns_suffix
    'amazonaws.com.cn'
    """
    return AWS_CN if region.startswith("cn-") else AWS


def is_streaming_region(region: str) -> bool:
    """Whether stills are rendered over response streaming there (all but ``aws-cn``)."""
    return partition_of(region).name != "aws-cn"


def check_region(region: str, field: str = "region") -> str:
    """Return ``region`` if Remotion Lambda supports it, else raise :class:`InvalidOptionsError`."""
    if region not in REGIONS:
        raise InvalidOptionsError(
            [(field, f"{region!r} is not a region Remotion Lambda supports; use one of "
                     f"{', '.join(REGIONS)}")]
        )
    return region


# ---------------------------------------------------------------- random hashes and ids


def random_hash(length: int = 10) -> str:
    """A random id of lowercase letters and digits, as Remotion makes render ids and hashes.

    >>> len(random_hash())
    10
    """
    return "".join(secrets.choice(RANDOM_HASH_ALPHABET) for _ in range(length))


def check_render_id(render_id: str) -> str:
    """Return ``render_id`` if it is safe to put into an S3 key, else raise.

    Remotion makes ids like ``k1a2b3c4d5`` or ``1-day-k1a2b3c4d5``; anything with ``/``,
    ``..``, spaces or other characters is refused before it reaches a key.

    >>> check_render_id("1-day-k1a2b3c4d5")
    '1-day-k1a2b3c4d5'
    """
    if not isinstance(render_id, str) or not _RENDER_ID_RE.fullmatch(render_id):
        raise InvalidOptionsError(
            [("render_id", f"{render_id!r} is not a Remotion render id: use the renderId a "
                           "render call returned (letters, digits, '-' and '_' only)")]
        )
    return render_id


# ---------------------------------------------------------------- function names


@dataclass(frozen=True)
class FunctionSpec:
    """What a conventional function name says about the deployed function."""

    version: str
    memory_mb: int
    disk_mb: int
    timeout_s: int

    @property
    def timeout_ms(self) -> int:
        return self.timeout_s * 1000


def version_for_function_name(version: str) -> str:
    """The version part of a function name: dots and ``+`` become dashes, 10 characters max.

    >>> version_for_function_name("4.0.527")
    '4-0-527'
    """
    return version.replace(".", "-").replace("+", "-")[:10]


def speculate_function_name(
    *, version: str, memory_mb: int, disk_mb: int, timeout_s: int
) -> str:
    """The name Remotion's deploy gives a function of these settings.

    >>> speculate_function_name(version="4.0.527", memory_mb=2048, disk_mb=2048, timeout_s=120)
    'remotion-render-4-0-527-mem2048mb-disk2048mb-120sec'
    """
    problems = [
        (name, f"must be a positive whole number; got {value!r}")
        for name, value in (("memory_mb", memory_mb), ("disk_mb", disk_mb),
                            ("timeout_s", timeout_s))
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0
    ]
    if problems:
        raise InvalidOptionsError(problems)
    return (
        f"{FUNCTION_NAME_PREFIX}{version_for_function_name(version)}"
        f"-mem{memory_mb}mb-disk{disk_mb}mb-{timeout_s}sec"
    )


@functools.lru_cache(maxsize=256)
def parse_function_name(name: str) -> FunctionSpec | None:
    """Read version, memory, disk and timeout from a conventional function name.

    Returns ``None`` when the name does not follow the convention (then memory and timeout
    must come from elsewhere). A version part like ``4-0-527`` reads back as ``4.0.527``.
    """
    match = _FUNCTION_NAME_RE.search(name.rsplit(":", 1)[-1] if name.startswith("arn:") else name)
    if not match:
        return None
    raw_version, mem, disk, timeout = match.groups()
    return FunctionSpec(
        version=raw_version.replace("-", ".", 2),
        memory_mb=int(mem),
        disk_mb=int(disk),
        timeout_s=int(timeout),
    )


def check_function_name(name: str, field: str = "function_name") -> str:
    """Check a function name (or ARN) is usable in an Invoke call."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidOptionsError(
            [(field, "is required: the name of a deployed Remotion function, e.g. "
                     "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec")]
        )
    bare = name.rsplit(":", 1)[-1] if name.startswith("arn:") else name
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,140}", bare):
        raise InvalidOptionsError(
            [(field, f"{name!r} is not a Lambda function name (letters, digits, '-' and '_'; "
                     "or a full function ARN)")]
        )
    return name


# ---------------------------------------------------------------- buckets and sites


def make_bucket_name(region: str, suffix: str | None = None) -> str:
    """The name Remotion gives a new render bucket in ``region``.

    >>> make_bucket_name("us-east-1", "abcdefghij")
    'remotionlambda-useast1-abcdefghij'
    """
    return f"{BUCKET_NAME_PREFIX}{region.replace('-', '')}-{suffix or random_hash()}"


def region_of_bucket_name(bucket_name: str) -> str | None:
    """The region a ``remotionlambda-*`` bucket name encodes, or ``None`` if it does not."""
    match = _BUCKET_NAME_RE.match(bucket_name)
    if not match:
        return None
    squashed = match.group(1)
    for region in REGIONS:
        if region.replace("-", "") == squashed:
            return region
    return None


def is_remotion_bucket(bucket_name: str) -> bool:
    """Whether a bucket name is a Remotion render bucket."""
    return bucket_name.startswith(BUCKET_NAME_PREFIX)


def check_bucket_name(bucket_name: str, field: str = "bucket_name") -> str:
    """Check an S3 bucket name (3-63 characters, DNS style)."""
    if not isinstance(bucket_name, str) or not _S3_BUCKET_RE.fullmatch(bucket_name) or (
        ".." in bucket_name
    ):
        raise InvalidOptionsError(
            [(field, f"{bucket_name!r} is not a valid S3 bucket name: 3-63 characters of "
                     "lowercase letters, digits, '.' and '-', starting and ending with a "
                     "letter or digit")]
        )
    return bucket_name


def site_url(bucket_name: str, region: str, site_name: str) -> str:
    """The serve URL of a site deployed into a Remotion bucket (virtual-hosted style).

    >>> site_url("remotionlambda-useast1-abcdefghij", "us-east-1", "my-site")
    'https://remotionlambda-useast1-abcdefghij.s3.us-east-1.amazonaws.com/sites/my-site/index.html'
    """
    dns = partition_of(region).dns_suffix
    return f"https://{bucket_name}.s3.{region}.{dns}/sites/{site_name}/index.html"


def is_url(value: str) -> bool:
    """Whether ``value`` is an http(s) URL, which serve URLs are used as is."""
    return value.startswith(("http://", "https://"))


def check_serve_url(serve_url: str, field: str = "serve_url") -> str:
    """Check a serve URL: an http(s) URL, or the name of a site deployed to the bucket.

    A local path is refused: Lambda cannot read the caller's disk.
    """
    if not isinstance(serve_url, str) or not serve_url.strip():
        raise InvalidOptionsError(
            [(field, "is required: the URL of a deployed Remotion site, or its site name")]
        )
    if is_url(serve_url):
        return serve_url
    if (
        serve_url.startswith(("src/", "./", "../", "/", "~", "file:"))
        or "\\" in serve_url
        or re.match(r"^[A-Za-z]:", serve_url)
        or serve_url.endswith((".ts", ".tsx", ".js", ".jsx"))
    ):
        raise InvalidOptionsError(
            [(field, f"{serve_url!r} looks like a local file. Lambda cannot read your disk: "
                     "deploy the site first (npx remotion lambda sites create) and pass the "
                     "URL it prints, or the site name")]
        )
    if not _SITE_NAME_RE.fullmatch(serve_url):
        raise InvalidOptionsError(
            [(field, f"{serve_url!r} is neither an http(s) URL nor a site name (site names use "
                     "letters, digits and - ! _ . * ' ( ))")]
        )
    return serve_url


def site_version_from_index_html(html: str) -> str | None:
    """The Remotion version a deployed site's ``index.html`` declares, if any."""
    match = re.search(r"window\.remotion_version\s*=\s*'([^']+)'", html)
    return match.group(1) if match else None


# ---------------------------------------------------------------- outputs


def file_extension(codec: str, audio_codec: str | None = None) -> str:
    """The output extension for ``codec`` (and ``audio_codec``), e.g. ``h264`` -> ``mp4``.

    Raises :class:`InvalidOptionsError` when the audio codec is not allowed with the codec.

    >>> file_extension("h264", "pcm-16")
    'mkv'
    """
    per_codec = FILE_EXTENSIONS.get(codec)
    if per_codec is None:
        raise InvalidOptionsError(
            [("codec", f"{codec!r} is not a codec Remotion Lambda renders; use one of "
                       f"{', '.join(FILE_EXTENSIONS)}")]
        )
    if audio_codec not in per_codec:
        allowed = [c for c in per_codec if c is not None]
        hint = f"use one of {', '.join(allowed)}" if allowed else "leave it unset"
        raise InvalidOptionsError(
            [("audio_codec", f"{audio_codec!r} is not allowed with codec {codec!r}: {hint}")]
        )
    return per_codec[audio_codec]


def content_type_for_key(key: str) -> str:
    """The Content-Type Remotion gives an output object, from the key's extension."""
    ext = key.rsplit(".", 1)[-1].lower() if "." in key else ""
    return CONTENT_TYPES.get(ext, "application/octet-stream")


_RAW_FILENAME_ESCAPES = (
    "%3A", "%2F", "%3F", "%23", "%5B", "%5D", "%40", "%21", "%24", "%26", "%27", "%28", "%29",
    "%2A", "%2B", "%2C", "%3B",
)


def encode_uri_component(value: str) -> str:
    """JavaScript's ``encodeURIComponent``."""
    return quote(value, safe="-_.!~*'()")


def content_disposition(download_behavior: dict[str, Any] | None) -> str | None:
    """The Content-Disposition of an output for a ``downloadBehavior`` (``None``: no header).

    >>> content_disposition({"type": "download", "fileName": "my video.mp4"})
    'attachment; filename="my%20video.mp4"'
    """
    if not download_behavior or download_behavior.get("type") != "download":
        return None
    name = download_behavior.get("fileName")
    if name is None:
        return "attachment"
    if any(escape in name for escape in _RAW_FILENAME_ESCAPES):
        return f'attachment; filename="{name}"'
    return f'attachment; filename="{encode_uri_component(name)}"'


def render_prefix(render_id: str) -> str:
    """``renders/<renderId>`` (no trailing slash, as Remotion writes it)."""
    return f"{RENDERS_PREFIX}/{render_id}"


def progress_key(render_id: str) -> str:
    """The key of a render's progress file."""
    return f"{render_prefix(render_id)}/progress.json"


def cancel_key(render_id: str) -> str:
    """The key whose existence cancels a render started with ``enable_cancellation``."""
    return f"{render_prefix(render_id)}/cancel.json"


def input_props_key(props_hash: str) -> str:
    """The key large input props are uploaded to."""
    return f"input-props/{props_hash}.json"


def check_s3_key(key: str, field: str) -> str:
    """Check an output key has only the characters Remotion accepts."""
    if not isinstance(key, str) or not key or not _S3_KEY_RE.match(key):
        raise InvalidOptionsError(
            [(field, f"{key!r} is not an S3 key Remotion accepts: use letters, digits and "
                     "- ! _ . * ' ( ) / : & $ @ = ; + , ?")]
        )
    return key


@dataclass(frozen=True)
class ExpectedOutput:
    """Where a render's output lands: bucket, key and the custom S3 provider, if any."""

    bucket_name: str
    key: str
    custom_credentials: dict[str, Any] | None = None


def expected_output(
    *,
    render_id: str,
    bucket_name: str,
    render_type: str,
    out_name: Any,
    codec: str | None,
    audio_codec: str | None,
    image_format: str | None,
) -> ExpectedOutput:
    """Where a render's output will be (``getExpectedOutName``), from its render metadata.

    ``out_name`` is ``None``, a string (a key under ``renders/<id>/``) or a mapping with
    ``bucketName``, ``key`` and optionally ``s3OutputProvider``.
    """
    if isinstance(out_name, str):
        return ExpectedOutput(bucket_name, f"{render_prefix(render_id)}/{out_name}")
    if isinstance(out_name, dict):
        return ExpectedOutput(
            str(out_name["bucketName"]),
            str(out_name["key"]),
            out_name.get("s3OutputProvider"),
        )
    if render_type == "still":
        return ExpectedOutput(bucket_name, f"{render_prefix(render_id)}/out.{image_format}")
    ext = file_extension(codec or "", audio_codec)
    return ExpectedOutput(bucket_name, f"{render_prefix(render_id)}/out.{ext}")


def output_url(region: str, bucket_name: str, key: str) -> str:
    """The path-style URL the function reports for an output (the key is not encoded)."""
    return f"https://s3.{region}.{partition_of(region).dns_suffix}/{bucket_name}/{key}"


# ---------------------------------------------------------------- console URLs


def encode_aws_url_param(value: str) -> str:
    """Encode a value for a CloudWatch console fragment (``%`` becomes ``$25``)."""
    return encode_uri_component(value).replace("%", "$25")


def cloudwatch_log_filter_url(region: str, function_name: str, query: str) -> str:
    """A CloudWatch console link to a function's logs filtered by ``query``."""
    domain = partition_of(region).console_domain
    return (
        f"https://{region}.{domain}/cloudwatch/home?region={region}#logsV2:log-groups/"
        f"log-group/$252Faws$252Flambda$252F{function_name}/log-events$3FfilterPattern$3D"
        f"{encode_aws_url_param(query)}"
    )


def renderer_logs_url(
    region: str, function_name: str, render_id: str, chunk: int | None = None
) -> str:
    """The log filter for a render's renderer invocations (or one chunk of them)."""
    chunk_part = f",chunk={chunk}," if chunk is not None else ""
    query = f'"method=renderer,renderId={render_id}{chunk_part}"'
    return cloudwatch_log_filter_url(region, function_name, query)


def launch_logs_url(region: str, function_name: str, render_id: str) -> str:
    """The log filter for a render's main (launch) invocation."""
    return cloudwatch_log_filter_url(
        region, function_name, f'"method=launch,renderId={render_id}"'
    )


def still_logs_url(region: str, function_name: str, render_id: str) -> str:
    """The log filter for a still render."""
    return cloudwatch_log_filter_url(
        region, function_name, f'"method=still,renderId={render_id}"'
    )


def s3_folder_console_url(region: str, bucket_name: str, render_id: str) -> str:
    """The S3 console page of a render's folder."""
    host = "s3.console.aws.amazon.com" if partition_of(region).name == "aws" else (
        f"{region}.console.amazonaws.cn"
    )
    return f"https://{host}/s3/buckets/{bucket_name}?region={region}&prefix=renders/{render_id}/"


def progress_json_console_url(region: str, bucket_name: str, render_id: str) -> str:
    """The S3 console page of a render's progress.json."""
    domain = partition_of(region).console_domain
    return (
        f"https://{region}.{domain}/s3/object/{bucket_name}?region={region}"
        f"&bucketType=general&prefix={progress_key(render_id)}"
    )


def lambda_insights_url(region: str, function_name: str) -> str:
    """The Lambda Insights console page of a function."""
    domain = partition_of(region).console_domain
    return (
        f"https://{region}.{domain}/cloudwatch/home?region={region}"
        f"#lambda-insights:functions/{function_name}"
    )
