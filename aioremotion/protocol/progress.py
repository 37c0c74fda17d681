"""progress.json → RenderProgress: a pure port of Remotion's ``getProgress``.

The status Lambda does nothing but read ``renders/<id>/progress.json`` (and sometimes HEAD
the output) and run this computation, so a client that reads progress.json from S3 gets the
same answer for a fraction of the price (docs/PROTOCOL.md sections 8, 9 and 13.3).

The computation needs one piece of I/O in the middle (a HEAD of the output, only once all
chunks are in). Sans-IO style, it returns an :class:`OutputHeadRequest` when it needs that;
call again with the result.

Example:
    >>> ctx = ProgressContext.for_function(
    ...     "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec", region="us-east-1",
    ...     render_id="k1a2b3c4d5", bucket_name="remotionlambda-useast1-abcdefghij")
    >>> started = {"timeoutTimestamp": 1_760_000_120_000, "functionLaunched": 1_760_000_000_000}
    >>> progress = compute_render_progress(started, ctx, now_ms=1_760_000_000_200)
    >>> progress.overall_progress, progress.done
    (0.0, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from ..errors import InvalidOptionsError, ProgressFileError, StillRenderNotSupportedError
from .constants import (
    AUDIO_ONLY_CODECS,
    DISK_MB_FOR_PRICE_CALCULATION,
    RENDER_PROGRESS_DISCLAIMER,
)
from .naming import (
    ExpectedOutput,
    expected_output,
    launch_logs_url,
    output_url,
    parse_function_name,
    renderer_logs_url,
)
from .nesting import MAX_JSON_DEPTH, JsonTooDeepError, parse_json
from .pricing import (
    billing_duration_ms,
    currency_of,
    estimate_price,
    format_accrued_cost,
    to_precision,
)
from .sequences import OutputSequence

Number = int | float

__all__ = [
    "NOT_CHECKED",
    "CleanupInfo",
    "CostsInfo",
    "EncodingStatus",
    "EnhancedErrorInfo",
    "OutputHead",
    "OutputHeadRequest",
    "ProgressContext",
    "ProgressFile",
    "RenderMetadata",
    "RenderProgress",
    "compute_render_progress",
    "explain_error",
    "frame_count",
    "parse_progress_file",
]


class _Lenient(BaseModel):
    """camelCase on the wire, unknown keys kept (newer Remotion versions add some)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_json_dict(self) -> dict[str, Any]:
        """The object as Remotion's JSON has it (camelCase; keys absent in the input stay
        absent)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


# ---------------------------------------------------------------- progress.json


class Timing(_Lenient):
    """When a chunk started and finished rendering (ms since the epoch)."""

    chunk: int
    start: Number
    rendered: Number


class RenderMetadata(_Lenient):
    """What launch decided about a render (null in progress.json until it validated the
    composition). Every field is optional so that a partial file still parses."""

    type: Literal["video", "still"] | str = "video"
    started_date: Number | None = None
    total_chunks: int | None = None
    estimated_total_lambda_invokations: int | None = None
    estimated_render_lambda_invokations: int | None = None
    composition_id: str | None = None
    site_id: str | None = None
    codec: str | None = None
    image_format: str | None = None
    input_props: Any = None
    lambda_version: str | None = None
    frames_per_lambda: int | None = None
    memory_size_in_mb: int | None = None
    region: str | None = None
    render_id: str | None = None
    out_name: Any = None
    privacy: str | None = None
    every_nth_frame: int | None = None
    frame_range: list[int] | None = None
    audio_codec: str | None = None
    delete_after: str | None = None
    number_of_gif_loops: int | None = None
    download_behavior: Any = None
    audio_bitrate: str | None = None
    muted: bool | None = None
    metadata: dict[str, str] | None = None
    function_name: str | None = None
    dimensions: dict[str, Number] | None = None
    renderer_function_name: str | None = None
    scale: Number | None = None

    def expected_output(self, render_id: str, bucket_name: str) -> ExpectedOutput:
        """Where this render's output lands (Remotion's ``getExpectedOutName``)."""
        return expected_output(
            render_id=render_id,
            bucket_name=bucket_name,
            render_type=self.type,
            out_name=self.out_name,
            codec=self.codec,
            audio_codec=self.audio_codec,
            image_format=self.image_format,
        )


class ProgressFile(_Lenient):
    """``renders/<renderId>/progress.json`` as the start and launch invocations write it."""

    cancellation_enabled: bool = False
    chunks: list[int] = Field(default_factory=list)
    frames_rendered: int = 0
    frames_encoded: int = 0
    combined_frames: int = 0
    time_to_combine: Number | None = None
    time_to_encode: Number | None = None
    lambdas_invoked: int = 0
    retries: list[dict[str, Any]] = Field(default_factory=list)
    post_render_data: dict[str, Any] | None = None
    timings: list[Timing] = Field(default_factory=list)
    render_metadata: RenderMetadata | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    fatal_error_timestamp: Number | None = None
    time_to_render_frames: Number | None = None
    timeout_timestamp: Number | None = None
    function_launched: Number | None = None
    serve_url_opened: Number | None = None
    composition_validated: Number | None = None
    received_artifact: list[dict[str, Any]] = Field(default_factory=list)
    # Written by functions of Remotion 4.0.535 and later only (docs/PROTOCOL.md section 4.4).
    frames_uploaded: int | None = None
    output_sequence: dict[str, Any] | None = None
    separate_audio: dict[str, Any] | None = None


def parse_progress_file(data: bytes | str | dict[str, Any]) -> ProgressFile:
    """Parse progress.json (bytes, text or an already decoded object).

    Raises :class:`~aioremotion.errors.ProgressFileError` for anything that is not a
    progress object; never another exception.
    """
    if isinstance(data, (bytes, str)):
        try:
            # (it may embed the render's input props, nested up to the limit)
            data = parse_json(data, field="progress.json", limit=MAX_JSON_DEPTH + 8)
        except JsonTooDeepError as exc:
            raise ProgressFileError(f"progress.json {exc.problems[0][1]}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProgressFileError(f"progress.json is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProgressFileError(
            f"progress.json must hold a JSON object; got {type(data).__name__}"
        )
    try:
        return ProgressFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ProgressFileError(
            f"progress.json is malformed at {where}: {first['msg']} "
            f"({exc.error_count()} problem(s))"
        ) from None
    except RecursionError:
        raise ProgressFileError("progress.json is nested too deeply") from None


# ---------------------------------------------------------------- RenderProgress


class EncodingStatus(_Lenient):
    frames_encoded: int
    combined_frames: int
    time_to_combine: Number | None


class CostsInfo(_Lenient):
    accrued_so_far: Number
    display_cost: str
    currency: str
    disclaimer: str


class CleanupInfo(_Lenient):
    done_in: Number | None
    minimum_files_to_delete: int = Field(alias="minFilesToDelete")
    files_deleted: int


class EnhancedErrorInfo(_Lenient):
    """An error recorded by the render, with Remotion's explanation."""

    type: str | None = None
    message: str = ""
    name: str | None = None
    stack: str = ""
    frame: int | None = None
    chunk: int | None = None
    is_fatal: bool = False
    attempt: int | None = None
    will_retry: bool = False
    total_attempts: int | None = None
    tmp_dir: Any = None
    explanation: str | None = None
    s3_location: str = ""


class RenderProgress(_Lenient):
    """What ``getRenderProgress`` returns, field for field."""

    type: Literal["success"] = "success"
    render_id: str
    bucket: str
    done: bool
    overall_progress: Number
    chunks: int
    frames_rendered: int
    combined_frames: int
    encoding_status: EncodingStatus
    lambdas_invoked: int
    costs: CostsInfo
    estimated_billing_duration_in_milliseconds: Number | None
    render_metadata: RenderMetadata | None
    output_file: str | None
    out_key: str | None
    out_bucket: str | None
    output_size_in_bytes: Number | None
    render_size: Number
    time_to_finish: Number | None
    time_to_finish_chunks: Number | None
    time_to_render_frames: Number | None
    time_to_encode: Number | None
    time_to_combine: Number | None
    errors: list[EnhancedErrorInfo]
    fatal_error_encountered: bool
    retries_info: list[dict[str, Any]]
    most_expensive_frame_ranges: list[dict[str, Any]] | None
    cleanup: CleanupInfo
    current_time: Number
    timeout_timestamp: Number | None
    function_launched: Number | None
    serve_url_opened: Number | None
    composition_validated: Number | None
    artifacts: list[dict[str, Any]]
    #: From Remotion 4.0.535 on (absent, ``None``, before): frames of an image sequence
    #: uploaded so far, the sequence's manifest (``outputSequence``), and where
    #: ``separateAudioTo`` put the audio (``separateAudio``).
    frames_uploaded: int | None = None
    output_sequence: OutputSequence | None = None
    separate_audio: dict[str, Any] | None = None

    @property
    def is_sequence(self) -> bool:
        """Whether this is an image sequence render (``renderFramesOnLambda``)."""
        return self.render_metadata is not None and self.render_metadata.type == "sequence"

    @property
    def fatal_errors(self) -> list[EnhancedErrorInfo]:
        """The errors that end the render (fatal and not retried)."""
        return [e for e in self.errors if e.is_fatal and not e.will_retry]


# ---------------------------------------------------------------- inputs and the HEAD step


@dataclass(frozen=True)
class ProgressContext:
    """What the computation needs besides progress.json: which render, where, and the
    function's timeout and memory (read from its name by :meth:`for_function`)."""

    render_id: str
    bucket_name: str
    region: str
    function_name: str
    timeout_ms: int
    memory_mb: int

    @classmethod
    def for_function(
        cls,
        function_name: str,
        *,
        region: str,
        render_id: str,
        bucket_name: str,
        timeout_ms: int | None = None,
        memory_mb: int | None = None,
    ) -> ProgressContext:
        """Build a context, taking timeout and memory from a conventional function name
        unless given."""
        spec = parse_function_name(function_name)
        if spec is None and (timeout_ms is None or memory_mb is None):
            raise InvalidOptionsError(
                [("function_name", f"{function_name!r} does not follow Remotion's naming "
                  "convention (remotion-render-<version>-mem<M>mb-disk<D>mb-<T>sec), so its "
                  "timeout and memory are unknown: pass timeout_ms and memory_mb")]
            )
        return cls(
            render_id=render_id,
            bucket_name=bucket_name,
            region=region,
            function_name=function_name,
            timeout_ms=timeout_ms if timeout_ms is not None else spec.timeout_ms,  # type: ignore[union-attr]
            memory_mb=memory_mb if memory_mb is not None else spec.memory_mb,  # type: ignore[union-attr]
        )


@dataclass(frozen=True)
class OutputHead:
    """The result of a HEAD of the output object that exists."""

    content_length: int | None


@dataclass(frozen=True)
class OutputHeadRequest:
    """The computation needs a HEAD of this object; call again with ``output_head=``
    an :class:`OutputHead`, or ``None`` when it is missing or forbidden (404/403)."""

    bucket_name: str
    key: str
    custom_credentials: dict[str, Any] | None = None


class _NotChecked:
    def __repr__(self) -> str:
        return "NOT_CHECKED"


#: ``output_head`` default: no HEAD was made yet.
NOT_CHECKED: Final = _NotChecked()


# ---------------------------------------------------------------- the formula


WEIGHT_EVALUATING: Final = 0.1
WEIGHT_FRAMES: Final = 0.6
WEIGHT_ENCODING: Final = 0.1
WEIGHT_INVOKING: Final = 0.1
WEIGHT_COMBINING: Final = 0.1


def frame_count(frame_range: list[int] | tuple[int, int], every_nth_frame: int) -> int:
    """How many frames ``[first, last]`` holds when only every n-th frame is rendered.

    >>> frame_count([0, 59], 1), frame_count([10, 50], 2)
    (60, 21)
    """
    first, last = frame_range[0], frame_range[1]
    return len(range(first, last + 1, max(1, every_nth_frame)))


def _overall_progress(
    *,
    frames_total: int,
    progress: ProgressFile,
    estimated_render_invocations: int | None,
    has_metadata: bool,
) -> float:
    evaluation = (
        bool(progress.lambdas_invoked)
        + bool(progress.serve_url_opened)
        + bool(progress.composition_validated)
    ) / 3
    if not has_metadata:
        return WEIGHT_EVALUATING * evaluation

    def share(value: int) -> float:
        return value / frames_total if frames_total else 0.0

    if not estimated_render_invocations:
        invoking = 1.0 if progress.lambdas_invoked > 0 else 0.0
    else:
        invoking = progress.lambdas_invoked / estimated_render_invocations
    return (
        WEIGHT_EVALUATING * evaluation
        + WEIGHT_ENCODING * share(progress.frames_encoded)
        + WEIGHT_INVOKING * invoking
        + WEIGHT_FRAMES * share(progress.frames_rendered)
        + WEIGHT_COMBINING * share(progress.combined_frames)
    )


# ---------------------------------------------------------------- error explanations

_LAUNCH_FAILED = "Failed to launch browser. Will be retried - you can probably ignore this error."
_EXPLANATIONS: Final[tuple[tuple[tuple[str, ...], str], ...]] = (
    (("FATAL:zygote_communication_linux.cc", "error while loading shared libraries: libnss3.so"),
     _LAUNCH_FAILED),
    (("TooManyRequestsException", "ConcurrentInvocationLimitExceeded"),
     'AWS returned an "TooManyRequestsException" error message which could mean you reached '
     "the concurrency limit of AWS Lambda. You can increase the limit - read this "
     "troubleshooting page: https://remotion.dev/docs/lambda/troubleshooting/rate-limit"),
    (("ENOSPC",),
     "Your lambda function reached the storage limit. Reduce the amount of space needed per "
     "lambda function or increase the storage limit: https://remotion.dev/docs/lambda/disk-size."),
    (("net::ERR_INSUFFICIENT_RESOURCES",),
     "The lambda ran out of memory. Deploy a new function with more memory."),
    (("Target closed.", "Session closed"),
     "The browser crashed while rendering the video. Deploy a new function with memory to give "
     "the browser more resources."),
)


def explain_error(stack: str | None) -> str | None:
    """Remotion's explanation of an error, chosen from its stack (or ``None``).

    >>> explain_error("Error: net::ERR_INSUFFICIENT_RESOURCES at x")
    'The lambda ran out of memory. Deploy a new function with more memory.'
    """
    if not stack:
        return None
    for needles, explanation in _EXPLANATIONS:
        if any(needle in stack for needle in needles):
            return explanation
        if needles == ("ENOSPC",) and "no space left on device" in stack.lower():
            return explanation
    return None


def _inspect_errors(errors: list[dict[str, Any]]) -> list[EnhancedErrorInfo]:
    out = []
    for error in errors:
        stack = error.get("stack")
        enhanced = {
            **error,
            "explanation": explain_error(stack if isinstance(stack, str) else None),
            "s3Location": "",
        }
        try:
            out.append(EnhancedErrorInfo.model_validate(enhanced))
        except ValidationError as exc:
            raise ProgressFileError(f"progress.json has a malformed error entry: {exc}") from None
    return out


def _timeout_error(
    ctx: ProgressContext, metadata: RenderMetadata, missing_chunks: list[int]
) -> EnhancedErrorInfo:
    lines = [f"The main function timed out after {ctx.timeout_ms}ms."]
    if missing_chunks:
        shown = missing_chunks[:5]
        lines.append(
            f"The following chunks are missing (showing {len(shown)} out of "
            f"{len(missing_chunks)}):"
        )
        fpl = metadata.frames_per_lambda or 0
        total = metadata.total_chunks or 0
        last_frame = (metadata.frame_range or [0, 0])[1]
        for chunk in shown:
            start = chunk * fpl
            if metadata.type == "still":
                end = 0
            elif chunk == total - 1:
                end = last_frame
            else:
                end = (chunk + 1) * fpl - 1
            lines.append(f"Chunk {chunk} (Frames {start} - {end})")
            url = renderer_logs_url(ctx.region, ctx.function_name, ctx.render_id, chunk)
            lines.append(f"▸ Logs for chunk {chunk}: {url}")
    else:
        lines.append(
            "All chunks have been successfully rendered, but the main function has timed out."
        )
    lines += [
        "",
        "Consider increasing the timeout of your function.",
        '▸ You can use the "--timeout" parameter when deploying a function via CLI, or the '
        '"timeoutInSeconds" parameter when using the deployFunction() API.',
        "https://remotion.dev/docs/lambda/cli/functions/deploy",
        "",
        "▸ Visit the logs for the main function:",
        launch_logs_url(ctx.region, ctx.function_name, ctx.render_id),
        "▸ Visit the logs for the renderer functions:",
        renderer_logs_url(ctx.region, ctx.function_name, ctx.render_id),
        "",
        "▸ Get help on debugging this error:",
        "https://remotion.dev/docs/lambda/troubleshooting/debug",
    ]
    message = "\n".join(lines)
    return EnhancedErrorInfo(
        attempt=1,
        chunk=None,
        explanation=None,
        frame=None,
        is_fatal=True,
        s3_location="",
        stack=f"Error: {message}",
        tmp_dir=None,
        total_attempts=1,
        type="stitcher",
        will_retry=False,
        message=message,
        name="TimeoutError",
    )


def _costs(accrued: float, currency: str) -> CostsInfo:
    return CostsInfo(
        accrued_so_far=accrued,
        display_cost=format_accrued_cost(accrued, currency),
        currency=currency,
        disclaimer=RENDER_PROGRESS_DISCLAIMER,
    )


def _require(value: Any, what: str) -> Any:
    if value is None:
        raise ProgressFileError(f"progress.json renderMetadata lacks {what}")
    return value


def _absolute_chunk_time(timings: list[Timing]) -> float:
    if not timings:
        return 0
    return max(0, max(t.rendered for t in timings) - min(t.start for t in timings))


def compute_render_progress(
    progress: ProgressFile | dict[str, Any] | bytes | str,
    ctx: ProgressContext,
    *,
    now_ms: float,
    output_head: OutputHead | _NotChecked | None = NOT_CHECKED,
) -> RenderProgress | OutputHeadRequest:
    """Compute the RenderProgress the status Lambda would return.

    Returns an :class:`OutputHeadRequest` when the output must be HEADed first (only once
    every chunk is in); pass the result back as ``output_head``. Raises only
    :class:`~aioremotion.errors.ProgressFileError` (malformed file) and
    :class:`~aioremotion.errors.StillRenderNotSupportedError`.
    """
    file = progress if isinstance(progress, ProgressFile) else parse_progress_file(progress)
    try:
        return _compute(file, ctx, now_ms=now_ms, output_head=output_head)
    except (ValidationError, TypeError, ValueError, KeyError, IndexError, AttributeError,
            ZeroDivisionError, OverflowError, RecursionError) as exc:
        if isinstance(exc, ProgressFileError):
            raise
        # Here an InvalidOptionsError (say, an unknown codec) comes from the file's data.
        raise ProgressFileError(
            f"progress.json holds values the progress computation cannot use: {exc}"
        ) from None


def _common(file: ProgressFile, ctx: ProgressContext, now_ms: float) -> dict[str, Any]:
    return {
        "type": "success",
        "render_id": ctx.render_id,
        "bucket": ctx.bucket_name,
        "render_metadata": file.render_metadata,
        "current_time": now_ms,
        "timeout_timestamp": file.timeout_timestamp,
        "function_launched": file.function_launched,
        "serve_url_opened": file.serve_url_opened,
        "composition_validated": file.composition_validated,
        "artifacts": file.received_artifact,
        # only the newer versions' fields the file has, so older JSON stays as it was
        **{name: getattr(file, name) for name in _NEWER_FIELDS if name in file.model_fields_set},
    }


#: Progress fields that Remotion 4.0.535 and later add, passed through when present.
_NEWER_FIELDS: Final = ("frames_uploaded", "output_sequence", "separate_audio")


def _running_counters(file: ProgressFile) -> dict[str, Any]:
    """The counters of a render still in flight, as progress.json has them."""
    return {
        "chunks": len(file.chunks),
        "frames_rendered": file.frames_rendered,
        "combined_frames": file.combined_frames,
        "encoding_status": EncodingStatus(
            frames_encoded=file.frames_encoded,
            combined_frames=file.combined_frames,
            time_to_combine=file.time_to_combine,
        ),
        "lambdas_invoked": file.lambdas_invoked,
    }


def _done_counters(
    total_chunks: int, frames_total: int, time_to_combine: Number | None
) -> dict[str, Any]:
    """The counters of a finished render: everything complete."""
    return {
        "chunks": total_chunks,
        "frames_rendered": frames_total,
        "combined_frames": frames_total,
        "encoding_status": EncodingStatus(
            frames_encoded=frames_total,
            combined_frames=frames_total,
            time_to_combine=time_to_combine,
        ),
        "lambdas_invoked": total_chunks,
    }


def _compute(
    file: ProgressFile,
    ctx: ProgressContext,
    *,
    now_ms: float,
    output_head: OutputHead | _NotChecked | None,
) -> RenderProgress | OutputHeadRequest:
    metadata = file.render_metadata
    currency = currency_of(ctx.region)

    if file.post_render_data is not None:
        return _done_from_post_render_data(file, ctx, now_ms)

    errors = _inspect_errors(file.errors)

    if metadata is None:
        return RenderProgress(
            **_common(file, ctx, now_ms),
            done=False,
            overall_progress=_overall_progress(
                frames_total=0, progress=file, estimated_render_invocations=None,
                has_metadata=False,
            ),
            **_running_counters(file),
            costs=_costs(0, currency),
            estimated_billing_duration_in_milliseconds=None,
            output_file=None,
            out_key=None,
            out_bucket=None,
            output_size_in_bytes=None,
            render_size=0,
            time_to_finish=None,
            time_to_finish_chunks=None,
            time_to_render_frames=file.time_to_render_frames,
            time_to_encode=file.time_to_encode,
            time_to_combine=file.time_to_combine,
            errors=errors,
            fatal_error_encountered=any(e.is_fatal and not e.will_retry for e in errors),
            retries_info=file.retries,
            most_expensive_frame_ranges=None,
            cleanup=CleanupInfo(done_in=None, minimum_files_to_delete=0, files_deleted=0),
        )

    renderer_spec = (
        parse_function_name(metadata.renderer_function_name)
        if metadata.renderer_function_name
        else None
    )
    memory_mb = renderer_spec.memory_mb if renderer_spec else ctx.memory_mb
    started = _require(metadata.started_date, "startedDate")
    billed_until = (
        file.fatal_error_timestamp if file.fatal_error_timestamp is not None else now_ms
    )
    billing_ms = billing_duration_ms(
        [(t.start, t.rendered) for t in file.timings],
        lambdas_invoked=file.lambdas_invoked,
        started_ms=started,
        now_ms=billed_until,
    )
    accrued = to_precision(
        estimate_price(
            region=ctx.region,
            memory_mb=memory_mb,
            disk_mb=DISK_MB_FOR_PRICE_CALCULATION,
            lambdas_invoked=file.lambdas_invoked,
            duration_ms=billing_ms,
        ),
        5,
    )

    if metadata.type == "still":
        raise StillRenderNotSupportedError()

    codec = metadata.codec
    frames_total = frame_count(
        _require(metadata.frame_range, "frameRange"), metadata.every_nth_frame or 1
    )
    total_chunks = _require(metadata.total_chunks, "totalChunks")
    has_video = codec not in AUDIO_ONLY_CODECS
    has_audio = not metadata.muted and codec != "gif"
    multiplier = int(has_audio) + int(has_video)
    all_chunks = multiplier > 0 and len(file.chunks) / multiplier == total_chunks
    past_timeout = now_ms > started + ctx.timeout_ms + 20_000
    missing_chunks: list[int] = []
    if past_timeout:  # only a timeout message names them (and it is rare): skip otherwise
        completed = set(file.chunks)
        missing_chunks = [i for i in range(total_chunks) if i not in completed]
    beyond_timeout_missing = past_timeout and len(missing_chunks) > 0
    beyond_stitch_timeout = now_ms > started + 2 * ctx.timeout_ms + 20_000
    fatal = any(e.is_fatal and not e.will_retry for e in errors)
    # An image sequence is done only once launch writes postRenderData (it has no single
    # output to HEAD); docs/PROTOCOL.md section 4.4.
    sequence = metadata.type == "sequence"
    output = None if sequence else metadata.expected_output(ctx.render_id, ctx.bucket_name)

    should_head = (
        output is not None
        and all_chunks
        and not fatal
        and (
            beyond_stitch_timeout
            or (file.combined_frames >= frames_total and file.time_to_combine is not None)
        )
    )
    if output is not None and should_head and isinstance(output_head, _NotChecked):
        return OutputHeadRequest(output.bucket_name, output.key, output.custom_credentials)
    if output is not None and should_head and isinstance(output_head, OutputHead):
        return RenderProgress(
            **_common(file, ctx, now_ms),
            done=True,
            overall_progress=1,
            **_done_counters(total_chunks, frames_total, file.time_to_combine),
            costs=_costs(accrued, currency),
            estimated_billing_duration_in_milliseconds=billing_ms,
            output_file=output_url(ctx.region, output.bucket_name, output.key),
            out_key=output.key,
            out_bucket=output.bucket_name,
            output_size_in_bytes=output_head.content_length or 0,
            render_size=output_head.content_length or 0,
            time_to_finish=now_ms - started,
            time_to_finish_chunks=_absolute_chunk_time(file.timings),
            time_to_render_frames=file.time_to_render_frames,
            time_to_encode=file.time_to_encode,
            time_to_combine=file.time_to_combine,
            errors=errors,
            fatal_error_encountered=False,
            retries_info=file.retries,
            most_expensive_frame_ranges=None,
            cleanup=CleanupInfo(done_in=None, minimum_files_to_delete=0, files_deleted=0),
        )

    if beyond_timeout_missing or beyond_stitch_timeout:
        errors = [_timeout_error(ctx, metadata, missing_chunks), *errors]
    return RenderProgress(
        **_common(file, ctx, now_ms),
        done=False,
        overall_progress=_overall_progress(
            frames_total=frames_total,
            progress=file,
            estimated_render_invocations=metadata.estimated_render_lambda_invokations,
            has_metadata=True,
        ),
        **_running_counters(file),
        costs=_costs(accrued, currency),
        estimated_billing_duration_in_milliseconds=billing_ms,
        output_file=None,
        out_key=None,
        out_bucket=None,
        output_size_in_bytes=None,
        render_size=0,
        time_to_finish=None,
        time_to_finish_chunks=_absolute_chunk_time(file.timings) if all_chunks else None,
        time_to_render_frames=file.time_to_render_frames,
        time_to_encode=file.time_to_encode,
        time_to_combine=file.time_to_combine,
        errors=errors,
        fatal_error_encountered=any(e.is_fatal and not e.will_retry for e in errors),
        retries_info=file.retries,
        most_expensive_frame_ranges=None,
        cleanup=CleanupInfo(done_in=None, minimum_files_to_delete=0, files_deleted=0),
    )


def _done_from_post_render_data(
    file: ProgressFile, ctx: ProgressContext, now_ms: float
) -> RenderProgress:
    metadata = file.render_metadata
    if metadata is None:
        raise ProgressFileError(
            "progress.json has postRenderData but no renderMetadata: the render finished but "
            "its metadata is missing"
        )
    if metadata.type == "still":
        raise StillRenderNotSupportedError()
    post = file.post_render_data or {}
    frames_total = frame_count(
        _require(metadata.frame_range, "frameRange"), metadata.every_nth_frame or 1
    )
    total_chunks = _require(metadata.total_chunks, "totalChunks")
    cost = post.get("cost") or {}
    common = _common(file, ctx, now_ms)
    sequence = post.get("outputSequence") or file.output_sequence
    if metadata.type == "sequence" and sequence is not None:
        # outKey/outBucket of a sequence: its manifest (UNCONFIRMED, docs/PROTOCOL.md 4.4)
        common["output_sequence"] = sequence
        found = OutputSequence.model_validate(sequence)
        out_key, out_bucket = found.manifest_key, found.bucket_name
    else:
        output = metadata.expected_output(ctx.render_id, ctx.bucket_name)
        out_key, out_bucket = output.key, output.bucket_name
    return RenderProgress(
        **common,
        done=True,
        overall_progress=1,
        **_done_counters(total_chunks, frames_total, post.get("timeToCombine")),
        costs=CostsInfo(
            accrued_so_far=cost.get("estimatedCost", 0),
            display_cost=cost.get("estimatedDisplayCost", ""),
            currency=cost.get("currency", currency_of(ctx.region)),
            disclaimer=cost.get("disclaimer", ""),
        ),
        estimated_billing_duration_in_milliseconds=post.get(
            "estimatedBillingDurationInMilliseconds"
        ),
        output_file=post.get("outputFile"),
        out_key=out_key,
        out_bucket=out_bucket,
        output_size_in_bytes=post.get("outputSize"),
        render_size=post.get("renderSize", 0),
        time_to_finish=post.get("timeToFinish"),
        time_to_finish_chunks=post.get("timeToRenderChunks"),
        time_to_render_frames=post.get("timeToRenderFrames"),
        time_to_encode=post.get("timeToEncode"),
        time_to_combine=post.get("timeToCombine"),
        errors=post.get("errors") or [],
        fatal_error_encountered=False,
        retries_info=post.get("retriesInfo") or [],
        most_expensive_frame_ranges=post.get("mostExpensiveFrameRanges"),
        cleanup=CleanupInfo(
            done_in=post.get("timeToCleanUp"),
            minimum_files_to_delete=post.get("filesCleanedUp", 0),
            files_deleted=post.get("filesCleanedUp", 0),
        ),
    )
