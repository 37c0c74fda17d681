"""``RemotionLambda``: the async client (the thin I/O shell around the protocol core).

It builds payloads with the pure core and sends them through a transport
(:mod:`aioremotion.transport`: aiobotocore by default, one long-lived client per service,
like ``httpx.AsyncClient``). A start is not idempotent: only throttles are retried
(:mod:`aioremotion.retry`), and every failure is a typed :mod:`aioremotion.errors` error.

Example::

    async with RemotionLambda(region="us-east-1") as remotion:
        render = await remotion.render_media(serve_url="my-site", composition="HelloWorld",
                                             codec="h264", input_props={"title": "Hello"})
        progress = await remotion.get_progress(render)
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
from aiobotocore.session import AioSession
from typing_extensions import Unpack

from . import _redact, environment
from ._aws import MISSING_REGION, AwsSettings, region_from_environment, version_from_environment
from .buckets import RenderBuckets
from .errors import InvalidOptionsError
from .following import Following
from .function_versions import FunctionVersions, require_function_name_for_auto
from .handles import RenderHandle, StillResult, handle_for
from .invoking import Invoker
from .progress_reader import ProgressReader
from .protocol.constants import (
    DEFAULT_DISK_MB,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
)
from .protocol.naming import (
    check_bucket_name,
    check_function_name,
    check_region,
    expected_output,
    is_streaming_region,
    speculate_function_name,
)
from .protocol.option_kwargs import (
    CompositionsKwargs,
    RenderFramesKwargs,
    RenderMediaKwargs,
    RenderStillKwargs,
)
from .protocol.options import (
    CompositionsOptions,
    ProgressOptions,
    RenderFramesOptions,
    RenderMediaOptions,
    RenderStillOptions,
    options_from,
)
from .protocol.payloads import (
    build_compositions_payload,
    build_frames_payload,
    build_start_payload,
    build_status_payload,
    build_still_payload,
)
from .protocol.progress import RenderProgress
from .protocol.props import InlineProps, UploadedProps
from .protocol.sequences import OutputSequence, SequenceManifest, manifest_key, sequence_location
from .render_files import delete_render_files, read_manifest, write_cancel
from .retry import ThrottleRetry
from .transport.aws import AiobotocoreTransport
from .transport.base import Transport
from .uploads import prepare_input_props

__all__ = ["RemotionLambda"]

if TYPE_CHECKING:
    from .events import Done

Options = TypeVar("Options", RenderMediaOptions, RenderFramesOptions, RenderStillOptions,
                  CompositionsOptions)


class RemotionLambda(Following):
    """Async client of Remotion Lambda (use it with ``async with``).

    Args:
        region: AWS region; defaults to ``REMOTION_AWS_REGION``/``AWS_REGION`` (or the
            transport's).
        function_name: the deployed function; defaults to ``REMOTION_FUNCTION_NAME``, else
            the name Remotion's deploy gives this version's function with default settings.
        remotion_version: the deployed function's version, which payloads must carry
            (:meth:`function_version` tells); default ``REMOTION_VERSION``, else 4.0.527.
            ``"auto"`` asks each function once (:mod:`aioremotion.function_versions`).
        throttle_retry: how throttled invocations are retried (:mod:`aioremotion.retry`).
        transport: talk to AWS through this (a :class:`~aioremotion.transport.MockTransport`
            in unit tests) instead of an ``AiobotocoreTransport`` built from:
        session, endpoint_urls, max_pool_connections, s3_addressing_style, s3_max_attempts,
        lambda_read_timeout_s, check_credentials, fast_progress_reads: an aiobotocore
            session, per-service endpoints (the emulator, S3-compatible stores), connections
            per service, S3 addressing, botocore's attempts per S3 call, how long an invoke
            may take to answer (default 930 s), whether missing credentials fail on entry,
            whether progress.json is read with the lean signed GET (see
            :class:`~aioremotion.transport.aws.AiobotocoreTransport`).
        wall_clock_ms, sleep, rng: the wall clock in ms since the epoch (the clock of
            progress.json's timestamps; watchers pace themselves on a monotonic ``clock``
            in seconds), the sleep of throttle backoff and its jitter (injectable for
            tests).
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        function_name: str | None = None,
        remotion_version: str | None = None,
        throttle_retry: ThrottleRetry | None = None,
        transport: Transport | None = None,
        session: AioSession | None = None,
        endpoint_urls: Mapping[str, str] | None = None,
        max_pool_connections: int = 100,
        check_credentials: bool = True,
        s3_addressing_style: str = "auto",
        lambda_read_timeout_s: float | None = None,
        s3_max_attempts: int = 3,
        fast_progress_reads: bool | None = None,
        wall_clock_ms: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        resolved = region or region_from_environment() or (transport and transport.region)
        if not resolved:
            raise InvalidOptionsError([("region", MISSING_REGION)])
        self.region = check_region(resolved)
        self.remotion_version = remotion_version or version_from_environment()
        named = function_name or environment.setting("function_name")
        require_function_name_for_auto(self.remotion_version, named)
        self.function_name = check_function_name(
            named or speculate_function_name(
                version=self.remotion_version, memory_mb=DEFAULT_MEMORY_MB,
                disk_mb=DEFAULT_DISK_MB, timeout_s=DEFAULT_TIMEOUT_S))
        timeout = {} if lambda_read_timeout_s is None else {
            "lambda_read_timeout_s": lambda_read_timeout_s}
        self.settings = AwsSettings(
            region=self.region, endpoint_urls=dict(endpoint_urls or {}),
            max_pool_connections=max_pool_connections,
            s3_addressing_style=s3_addressing_style, s3_max_attempts=s3_max_attempts, **timeout)
        self.throttle_retry = throttle_retry or ThrottleRetry()
        self._transport: Transport = transport or AiobotocoreTransport(
            self.settings, session=session, check_credentials=check_credentials,
            fast_reads=fast_progress_reads)
        self._clock = wall_clock_ms or (lambda: time.time() * 1000)
        self._sleep = sleep or anyio.sleep
        self._invoker = Invoker(self._transport, retry=self.throttle_retry,
                                sleep=lambda seconds: self._sleep(seconds), rng=rng)
        self._buckets = RenderBuckets(self._transport)
        self._versions = FunctionVersions(self._invoker)
        self._reader = ProgressReader(self._transport, clock=self.now_ms)
        self._open = False

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> RemotionLambda:
        _redact.install()  # botocore logs secrets at DEBUG: mask them
        await self._transport.open()
        self._open = True
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (done by ``async with``)."""
        if self._open:
            self._open = False
            await self._transport.aclose()

    def __repr__(self) -> str:
        return (f"RemotionLambda(region={self.region!r}, function_name={self.function_name!r}, "
                f"remotion_version={self.remotion_version!r})")

    @property
    def transport(self) -> Transport:
        """The transport this client talks to AWS through (for tests and tools)."""
        return self._transport

    @property
    def progress_reader(self) -> ProgressReader:
        """Reads progress.json and computes progress (what watchers and searches use)."""
        return self._reader

    def now_ms(self) -> float:
        """The client's clock, in ms since the epoch."""
        return self._clock()

    # ------------------------------------------------------------ options

    async def _prepare(self, opts: Options, kind: Literal["media", "frames", "still",
                                                          "compositions"]
                       ) -> tuple[str, str, InlineProps | UploadedProps, str | None]:
        """The function, its version, the props as the payload carries them and the
        bucket to name (uploading large props first)."""
        if opts.region is not None and opts.region != self.region:
            raise InvalidOptionsError(
                [("region", f"{opts.region!r} differs from this client's region "
                            f"{self.region!r}: use a client of that region, "
                            f"RemotionLambda(region={opts.region!r})")])
        function_name = opts.function_name or self.function_name
        version = await self._versions.resolve(function_name, self.remotion_version)
        props, bucket = await prepare_input_props(opts, kind=kind, version=version,
                                                  transport=self._transport,
                                                  buckets=self._buckets)
        return function_name, version, props, bucket

    def _render_ref(self, render: RenderHandle | str, bucket_name: str | None,
                    function_name: str | None = None) -> RenderHandle:
        return handle_for(render, bucket_name, region=self.region,
                          function_name=function_name or self.function_name)

    # ------------------------------------------------------------ renders

    async def render_media(self, options: RenderMediaOptions | Mapping[str, Any] | None = None,
                           /, *, throttle_retry: ThrottleRetry | None = None,
                           **kwargs: Unpack[RenderMediaKwargs]) -> RenderHandle:
        """Start a video, audio or GIF render (``renderMediaOnLambda``).

        Takes a :class:`RenderMediaOptions`, a mapping (snake_case or camelCase keys, as in
        a JS project) or keyword arguments. Returns as soon as the function accepted the
        render; follow it with :meth:`get_progress` or :meth:`watch`. ``throttle_retry``
        overrides the client's for this call.

        Example::

            render = await remotion.render_media(
                serve_url="my-site", composition="HelloWorld", codec="h264",
                input_props={"title": "Hi"}, frames_per_lambda=20)
        """
        opts = options_from(RenderMediaOptions, options, kwargs)
        function_name, version, props, bucket = await self._prepare(opts, "media")
        payload = build_start_payload(opts, version=version, props=props,
                                      bucket_name=bucket)
        render_id, bucket_name = await self._invoker.start(function_name, payload,
                                                           bucket_name=bucket,
                                                           retry=throttle_retry)
        output = expected_output(
            render_id=render_id, bucket_name=bucket_name, render_type="video",
            out_name=opts.out_name_payload(), codec=opts.codec, audio_codec=opts.audio_codec,
            image_format=opts.image_format)
        return RenderHandle.started(
            opts, render_id=render_id, bucket_name=bucket_name, region=self.region,
            function_name=function_name, out_bucket=output.bucket_name, out_key=output.key,
            started_at_ms=self.now_ms())

    async def render_frames(self, options: RenderFramesOptions | Mapping[str, Any] | None = None,
                            /, *, throttle_retry: ThrottleRetry | None = None,
                            **kwargs: Unpack[RenderFramesKwargs]) -> RenderHandle:
        """Start an image sequence render (``renderFramesOnLambda``, Remotion 4.0.535+).

        Every frame becomes a PNG (default) or JPEG under ``output_prefix`` (default
        ``renders/<renderId>/frames/`` in the render bucket), listed in a ``manifest.json``
        next to them. Takes what :meth:`render_media` takes (see
        :class:`RenderFramesOptions`); a function older than 4.0.535 is refused before
        any AWS call. Watching it ends in a :class:`~aioremotion.events.Done` whose
        ``output_sequence`` says where the frames are (``url`` is the manifest's); read
        the manifest with :meth:`read_manifest`. The handle's ``out_key`` is the
        manifest's key.

        Example::

            render = await remotion.render_frames(
                serve_url="my-site", composition="HelloWorld", image_format="jpeg",
                jpeg_quality=90, frame_range=(0, 29), output_prefix="exports/intro")
            done = await remotion.wait(render)
            manifest = await remotion.read_manifest(done)
            keys = [frame.key for frame in manifest.frames]
        """
        opts = options_from(RenderFramesOptions, options, kwargs)
        function_name, version, props, bucket = await self._prepare(opts, "frames")
        payload = build_frames_payload(opts, version=version, props=props, bucket_name=bucket)
        render_id, bucket_name = await self._invoker.start(function_name, payload,
                                                           bucket_name=bucket,
                                                           retry=throttle_retry)
        out_bucket, prefix = sequence_location(
            payload["output"]["outputPrefix"], render_id=render_id, render_bucket=bucket_name)
        return RenderHandle.started(
            opts, render_id=render_id, bucket_name=bucket_name, region=self.region,
            function_name=function_name, out_bucket=out_bucket, out_key=manifest_key(prefix),
            started_at_ms=self.now_ms())

    async def read_manifest(self, sequence: Done | OutputSequence) -> SequenceManifest:
        """The ``manifest.json`` of a finished image sequence: every frame's number and key.

        Takes the :class:`~aioremotion.events.Done` of a :meth:`render_frames` render (or
        its ``output_sequence``). The frames are in ``output_sequence.bucket_name``.

        Example::

            done = await remotion.wait(render)
            manifest = await remotion.read_manifest(done)
            first = await remotion.transport.get_object(done.output_sequence.bucket_name,
                                                        manifest.frames[0].key)
        """
        return await read_manifest(self._transport, sequence)

    async def render_still(self, options: RenderStillOptions | Mapping[str, Any] | None = None,
                           /, *, streamed: bool | None = None,
                           **kwargs: Unpack[RenderStillKwargs]) -> StillResult:
        """Render a still image (``renderStillOnLambda``); returns when it is done.

        Uses InvokeWithResponseStream outside China (as the JS client does) and a plain
        Invoke with ``streamed: false`` in the ``aws-cn`` regions or with ``streamed=False``.

        Example::

            still = await remotion.render_still(serve_url="my-site", composition="Thumb",
                                                image_format="png", frame=10)
        """
        opts = options_from(RenderStillOptions, options, kwargs)
        function_name, version, props, bucket = await self._prepare(opts, "still")
        stream = is_streaming_region(self.region) if streamed is None else streamed
        payload = build_still_payload(opts, version=version, props=props,
                                      bucket_name=bucket, streamed=stream)
        if stream:
            reply = await self._invoker.still_stream(function_name, payload, bucket_name=bucket,
                                                     max_retries=opts.max_retries)
        else:
            reply = await self._invoker.call(function_name, payload, routine="still",
                                             bucket_name=bucket)
        return StillResult.from_reply(reply, region=self.region, function_name=function_name)

    # ------------------------------------------------------------ progress, cancel, delete

    async def get_progress(
        self, render: RenderHandle | str, *, bucket_name: str | None = None,
        function_name: str | None = None, via: str = "s3",
        s3_output_provider: Mapping[str, Any] | None = None, force_path_style: bool = False,
    ) -> RenderProgress:
        """The progress of a render (``getRenderProgress``).

        ``via="s3"`` (default) reads progress.json and computes the progress locally,
        exactly as the status Lambda would, for a fraction of the cost and without using
        Lambda concurrency. ``via="lambda"`` invokes the status routine instead
        (``s3_output_provider`` and ``force_path_style`` are passed on to it).

        Example::

            progress = await remotion.get_progress(render)
            print(f"{progress.overall_progress:.0%}", progress.done)
        """
        ref = self._render_ref(render, bucket_name, function_name)
        if via == "lambda":
            payload = build_status_payload(ProgressOptions(
                render_id=ref.render_id, bucket_name=ref.bucket_name,
                s3_output_provider=s3_output_provider, force_path_style=force_path_style,
            ), version=await self._versions.resolve(ref.function_name, self.remotion_version))
            reply = await self._invoker.call(ref.function_name, payload, routine="status")
            return RenderProgress.model_validate(reply)
        if via != "s3":
            raise InvalidOptionsError([("via", f"must be 's3' or 'lambda'; got {via!r}")])
        return await self._reader.progress(ref)

    async def cancel(self, render: RenderHandle | str, *, bucket_name: str | None = None) -> None:
        """Cancel a render started with ``enable_cancellation=True`` (writes cancel.json).

        Renderers check for the file every second and stop; the render then ends with a
        fatal error. Raises when the render was not started with cancellation enabled.
        """
        await write_cancel(self._transport, self._reader,
                           self._render_ref(render, bucket_name), now_ms=self.now_ms())

    async def delete_render(self, render: RenderHandle | str, *,
                            bucket_name: str | None = None) -> int:
        """Delete a render's output and every object under ``renders/<id>/``; returns the
        bytes freed (0 and nothing deleted when the render has no metadata yet)."""
        return await delete_render_files(self._transport, self._reader,
                                         self._render_ref(render, bucket_name))

    async def presign_url(self, bucket_name: str, key: str, *, expires_in: int = 3600) -> str:
        """A presigned GET URL for a private object (1 s to 7 days)."""
        if not 1 <= expires_in <= 604800:
            raise InvalidOptionsError([("expires_in", "must be between 1 and 604800 seconds "
                                                      f"(7 days); got {expires_in}")])
        return await self._transport.presign_get(check_bucket_name(bucket_name), key,
                                                 expires_in=expires_in)

    # ------------------------------------------------------------ info, compositions, buckets

    async def function_version(self, function_name: str | None = None) -> str:
        """The Remotion version of a deployed function (``info``; no version check)."""
        return await self._versions.ask(function_name or self.function_name)

    async def get_compositions(
        self, options: CompositionsOptions | Mapping[str, Any] | None = None, /,
        **kwargs: Unpack[CompositionsKwargs],
    ) -> list[dict[str, Any]]:
        """The compositions of a deployed site (``getCompositionsOnLambda``)."""
        opts = options_from(CompositionsOptions, options, kwargs)
        function_name, version, props, bucket = await self._prepare(opts, "compositions")
        payload = build_compositions_payload(opts, version=version, props=props,
                                             bucket_name=bucket)
        return await self._invoker.compositions(function_name, payload)

    async def get_or_create_bucket(self) -> str:
        """The region's render bucket, created if there is none (:mod:`.buckets`)."""
        return await self._buckets.get_or_create()

    async def find_bucket(self) -> str | None:
        """The region's render bucket or ``None``; raises when there are several."""
        return await self._buckets.find()

    async def remotion_buckets(self) -> list[str]:
        """Every ``remotionlambda-*`` bucket of the region (normally one)."""
        return await self._buckets.all()
