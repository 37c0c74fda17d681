"""``RemotionLambda``: the async client (the thin I/O shell around the protocol core).

One aiobotocore client per service, opened once and reused for every call, like
``httpx.AsyncClient``. Lambda invokes run with botocore retries off: a start is not
idempotent, so only throttles (HTTP 429, where AWS guarantees the function never ran) are
retried, with jittered exponential backoff.

Example (against the local emulator, or real AWS with credentials in the environment)::

    import asyncio
    from aioremotion import RemotionLambda

    async def main() -> None:
        async with RemotionLambda(region="us-east-1") as remotion:
            render = await remotion.render_media(
                serve_url="my-site", composition="HelloWorld", codec="h264",
                input_props={"title": "Hello"},
            )
            progress = await remotion.get_progress(render)
            print(render.render_id, progress.overall_progress)

    asyncio.run(main())
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import anyio
from aiobotocore.session import AioSession
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)

from . import _redact
from ._aws import (
    AwsSettings,
    ensure_credentials,
    lambda_config,
    make_session,
    region_from_environment,
    request_never_sent,
    s3_config,
)
from ._s3_get import S3ObjectReader
from .errors import (
    ConcurrencyLimitError,
    CredentialsMissingError,
    InvalidOptionsError,
    InvalidReplyError,
    RemotionError,
    RemotionFunctionError,
    RenderNotFoundError,
    RequestNotSentError,
    StartOutcomeUnknownError,
)
from .handles import RenderHandle, StillResult
from .protocol.constants import (
    DEFAULT_DISK_MB,
    DEFAULT_MEMORY_MB,
    DEFAULT_REMOTION_VERSION,
    DEFAULT_TIMEOUT_S,
)
from .protocol.naming import (
    cancel_key,
    check_bucket_name,
    check_function_name,
    check_region,
    check_render_id,
    expected_output,
    is_remotion_bucket,
    is_streaming_region,
    make_bucket_name,
    parse_function_name,
    partition_of,
    progress_key,
    region_of_bucket_name,
    render_prefix,
    speculate_function_name,
    still_logs_url,
)
from .protocol.options import (
    CompositionsOptions,
    ProgressOptions,
    RenderMediaOptions,
    RenderStillOptions,
)
from .protocol.payloads import (
    build_compositions_payload,
    build_info_payload,
    build_start_payload,
    build_status_payload,
    build_still_payload,
)
from .protocol.progress import (
    OutputHead,
    OutputHeadRequest,
    ProgressContext,
    ProgressFile,
    RenderProgress,
    compute_render_progress,
    parse_progress_file,
)
from .protocol.props import InlineProps, UploadedProps, js_json_dumps, plan_input_props
from .protocol.replies import (
    StillStreamResult,
    StreamMessageParser,
    concurrency_limit_message,
    is_retryable_stream_error,
    is_throttle_error,
    parse_invoke_reply,
    stream_error_from_invoke_complete,
)

__all__ = ["ProgressRead", "RemotionLambda", "ThrottleRetry"]

if TYPE_CHECKING:
    from .events import Done, Failed, Progress
    from .watching import WatchOptions

T = TypeVar("T")
Options = TypeVar("Options", RenderMediaOptions, RenderStillOptions, CompositionsOptions)

UNRECOGNIZED_CLIENT_MESSAGE = (
    "UnrecognizedClientException: The AWS credentials provided were probably mixed up. Learn "
    "how to fix this issue here: "
    "https://remotion.dev/docs/lambda/troubleshooting/unrecognizedclientexception"
)


@dataclass(frozen=True)
class ThrottleRetry:
    """How throttled (HTTP 429) invocations are retried: full-jitter exponential backoff.

    Attempt ``n`` (from 1) waits ``uniform(0, min(cap, base * 2**(n-1)))`` seconds.
    """

    attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 10.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class ProgressRead:
    """One conditional read of progress.json: ``file`` is ``None`` when unchanged (304)."""

    file: ProgressFile | None
    etag: str | None
    not_modified: bool
    #: The body as read (``None`` on a 304); a watcher keeps it rather than ``file``.
    raw: bytes | None = None


#: S3 errors that mean "this bucket lives in another region" (botocore redirects them).
_REGION_ERRORS = frozenset({"PermanentRedirect", "TemporaryRedirect",
                            "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"})


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


class RemotionLambda:
    """Async client of Remotion Lambda.

    Args:
        region: AWS region; defaults to ``REMOTION_AWS_REGION``/``AWS_REGION``.
        function_name: the deployed function; defaults to ``REMOTION_FUNCTION_NAME``, else
            the name Remotion's deploy gives a function of this version with default
            settings (2048 MB, 2048 MB disk, 120 s).
        remotion_version: the version payloads are built for (must equal the deployed
            function's; find it with :meth:`function_version`).
        session: an aiobotocore session to use instead of a new one.
        endpoint_urls: per-service endpoints (``{"lambda": ..., "s3": ...}``), for the local
            emulator or S3-compatible stores.
        max_pool_connections: HTTP connections per service.
        throttle_retry: how throttled invocations are retried.
        s3_max_attempts: botocore's attempts per S3 call (S3 calls are idempotent; the
            watcher retries on top of this with its own backoff).
        fast_progress_reads: read progress.json with a lean signed GET on aiohttp
            (about 0.25 ms of CPU against ~1.7 ms through aiobotocore; it matters when one
            process watches thousands of renders). ``None`` (default): on, unless
            ``AIOREMOTION_FAST_S3=0``, a proxy is configured in the environment, or the S3
            endpoint is one only botocore knows how to reach (FIPS, dual-stack). Its
            errors are the same ``ClientError``s; it makes no retries of its own.
        lambda_read_timeout_s: how long an invoke may take to answer (default 930 s, more
            than the longest function timeout: a still holds the connection while it renders).
        check_credentials: fail on entry (before any call) when no credentials exist.
        clock: ms since the epoch; injectable for tests.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        function_name: str | None = None,
        remotion_version: str = DEFAULT_REMOTION_VERSION,
        session: AioSession | None = None,
        endpoint_urls: Mapping[str, str] | None = None,
        max_pool_connections: int = 100,
        throttle_retry: ThrottleRetry | None = None,
        check_credentials: bool = True,
        s3_addressing_style: str = "auto",
        lambda_read_timeout_s: float | None = None,
        s3_max_attempts: int = 3,
        fast_progress_reads: bool | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        resolved_region = region or region_from_environment()
        if not resolved_region:
            raise InvalidOptionsError(
                [("region", "is required: pass region=... or set AWS_REGION")]
            )
        self.region = check_region(resolved_region)
        self.remotion_version = remotion_version
        self.function_name = check_function_name(
            function_name
            or os.environ.get("REMOTION_FUNCTION_NAME")
            or speculate_function_name(
                version=remotion_version,
                memory_mb=DEFAULT_MEMORY_MB,
                disk_mb=DEFAULT_DISK_MB,
                timeout_s=DEFAULT_TIMEOUT_S,
            )
        )
        self.settings = AwsSettings(
            region=self.region,
            endpoint_urls=dict(endpoint_urls or {}),
            max_pool_connections=max_pool_connections,
            s3_addressing_style=s3_addressing_style,
            s3_max_attempts=s3_max_attempts,
            **(
                {"lambda_read_timeout_s": lambda_read_timeout_s}
                if lambda_read_timeout_s is not None
                else {}
            ),
        )
        self.throttle_retry = throttle_retry or ThrottleRetry()
        self._session = session
        self._check_credentials = check_credentials
        self._clock = clock or (lambda: time.time() * 1000)
        self._sleep = sleep or anyio.sleep
        self._rng = rng or random.Random()
        self._stack: AsyncExitStack | None = None
        self._lambda: Any = None
        self._s3: Any = None
        #: None: decided on entry (on unless AIOREMOTION_FAST_S3=0 or the setup needs botocore).
        self._fast_progress_reads = fast_progress_reads
        self._reader: S3ObjectReader | None = None
        self._botocore_buckets: set[str] = set()  # buckets the lean reader cannot reach
        self._bucket: str | None = None
        self._bucket_lock = anyio.Lock()
        #: Every AWS call waits here first: a FIFO (fair) limiter sized to the connection
        #: pool, because aiohttp's pool wakes waiters unfairly and starves some tasks.
        self.limiter = anyio.CapacityLimiter(max_pool_connections)
        #: Called (without arguments) whenever AWS throttles an invocation (HTTP 429).
        self.throttle_listeners: list[Callable[[], None]] = []
        self.throttled_invocations = 0

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> RemotionLambda:
        session = self._session or make_session()
        if self._check_credentials:
            await ensure_credentials(session)
        stack = AsyncExitStack()
        try:
            self._lambda = await stack.enter_async_context(
                session.create_client(
                    "lambda",
                    region_name=self.region,
                    endpoint_url=self.settings.endpoint_urls.get("lambda"),
                    config=lambda_config(self.settings),
                )
            )
            self._s3 = await stack.enter_async_context(
                session.create_client(
                    "s3",
                    region_name=self.region,
                    endpoint_url=self.settings.endpoint_urls.get("s3"),
                    config=s3_config(self.settings),
                )
            )
            self._reader = self._make_reader(session)
            if self._reader is not None:
                stack.push_async_callback(self._reader.close)
            # botocore logs request headers and bodies at DEBUG: redact these credentials
            stack.callback((await _redact.credential_secrets(session)).release)
        except BaseException:
            await stack.aclose()
            raise
        self._session = session
        self._stack = stack
        return self

    def _make_reader(self, session: AioSession) -> S3ObjectReader | None:
        """The lean progress.json reader, when nothing in the setup needs botocore's S3 stack.

        It cannot honour proxies from the environment, a config file's ``ca_bundle``,
        FIPS/dual-stack or other endpoints botocore derived itself: then every read stays on
        aiobotocore (as with ``fast_progress_reads=False`` or ``AIOREMOTION_FAST_S3=0``).
        """
        enabled = self._fast_progress_reads
        if enabled is None:
            enabled = os.environ.get("AIOREMOTION_FAST_S3", "1").lower() not in ("0", "false")
        if not enabled or self.settings.s3_addressing_style not in ("auto", "path", "virtual"):
            return None
        if any(os.environ.get(name) for name in (
            "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
        )):
            return None
        resolved = str(self._s3.meta.endpoint_url).rstrip("/")
        explicit = self.settings.endpoint_urls.get("s3")
        if explicit:
            endpoint: str | None = explicit
        elif resolved in (f"https://s3.{self.region}.amazonaws.com",
                          "https://s3.amazonaws.com", f"https://s3.{self.region}.amazonaws.com.cn"):
            endpoint = None  # plain AWS
        elif resolved.startswith("https://") and ".amazonaws." in resolved:
            return None  # FIPS, dual-stack, ...: leave it to botocore
        else:
            endpoint = resolved  # AWS_ENDPOINT_URL_S3 or a config file's endpoint_url
        return S3ObjectReader(
            session, region=self.region, endpoint_url=endpoint,
            addressing_style=self.settings.s3_addressing_style,
            max_connections=self.settings.max_pool_connections,
            connect_timeout_s=self.settings.connect_timeout_s, read_timeout_s=60,
            ca_bundle=os.environ.get("AWS_CA_BUNDLE") or None,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (done by ``async with``)."""
        stack, self._stack = self._stack, None
        self._lambda = self._s3 = None
        self._reader = None
        if stack is not None:
            await stack.aclose()

    def __repr__(self) -> str:
        return (
            f"RemotionLambda(region={self.region!r}, function_name={self.function_name!r}, "
            f"remotion_version={self.remotion_version!r})"
        )

    @property
    def s3(self) -> Any:
        """The aiobotocore S3 client (open inside ``async with``)."""
        if self._s3 is None:
            raise RuntimeError("use RemotionLambda inside 'async with RemotionLambda(...)'")
        return self._s3

    @property
    def lambda_client(self) -> Any:
        """The aiobotocore Lambda client (open inside ``async with``)."""
        if self._lambda is None:
            raise RuntimeError("use RemotionLambda inside 'async with RemotionLambda(...)'")
        return self._lambda

    def now_ms(self) -> float:
        """The client's clock, in ms since the epoch."""
        return self._clock()

    # ------------------------------------------------------------ options

    @staticmethod
    def _options(model: type[Options], options: Options | Mapping[str, Any] | None,
                 overrides: Mapping[str, Any]) -> Options:
        if options is None:
            return model.model_validate(dict(overrides))
        if isinstance(options, model):
            if not overrides:
                return options
            merged = {**options.model_dump(exclude_unset=True), **overrides}
            return model.model_validate(merged)
        if isinstance(options, Mapping):
            return model.model_validate({**options, **overrides})
        raise InvalidOptionsError(
            [("options", f"must be a {model.__name__} or a mapping; got {type(options).__name__}")]
        )

    def _call_target(self, region: str | None, function_name: str | None) -> tuple[str, str]:
        if region is not None and region != self.region:
            raise InvalidOptionsError(
                [("region", f"{region!r} differs from this client's region {self.region!r}: "
                            "use a RemotionLambda for that region")]
            )
        return self.region, function_name or self.function_name

    # ------------------------------------------------------------ invoking

    async def _invoke(
        self, function_name: str, payload: dict[str, Any], *, routine: str,
        bucket_name: str | None = None,
    ) -> dict[str, Any]:
        body = js_json_dumps(payload).encode()

        async def call() -> dict[str, Any]:
            async with self.limiter:
                response = await self.lambda_client.invoke(
                    FunctionName=function_name, InvocationType="RequestResponse", Payload=body
                )
                async with response["Payload"] as stream:
                    data = await stream.read()
            return parse_invoke_reply(
                data,
                function_error=response.get("FunctionError"),
                status_code=int(response.get("StatusCode", 200)),
                function_name=function_name,
                routine=routine,
            )

        with _redact.payload_secrets(payload):  # out of botocore's DEBUG logs
            return await self._with_throttle_retry(
                call, function_name=function_name, routine=routine, bucket_name=bucket_name
            )

    async def _with_throttle_retry(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        function_name: str,
        routine: str,
        bucket_name: str | None = None,
    ) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except ClientError as exc:
                code, message = _error_code(exc), _error_message(exc)
                if is_throttle_error(code, message) or _status(exc) == 429:
                    self.throttled_invocations += 1
                    for listener in self.throttle_listeners:
                        listener()
                    if attempt >= self.throttle_retry.attempts:
                        raise ConcurrencyLimitError(
                            concurrency_limit_message(f"{code}: {message}", attempt),
                            attempts=attempt,
                            reason=str(exc.response.get("Reason") or code),
                        ) from exc
                    await self._sleep(self.throttle_retry.delay(attempt, self._rng))
                    continue
                raise self._translate_client_error(exc, function_name) from exc
            except NoCredentialsError as exc:
                raise CredentialsMissingError() from exc
            except (BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise self._lost_request_error(exc, function_name=function_name,
                                               routine=routine, bucket_name=bucket_name) from exc

    @staticmethod
    def _lost_request_error(exc: BaseException, *, function_name: str, routine: str,
                            bucket_name: str | None) -> RemotionError:
        """What a transport failure of an invoke means, by the one rule of
        :func:`request_never_sent`: provably not sent, or (for a start) unknown."""
        if request_never_sent(exc):
            return RequestNotSentError(
                f"Could not connect to AWS Lambda for {function_name} ({exc}). The request "
                "was never sent, so nothing was started; check the network or the endpoint "
                "(AWS_ENDPOINT_URL_LAMBDA, region) and retry."
            )
        if routine in ("start", "still"):
            return StartOutcomeUnknownError(
                f"The {routine} call to {function_name} was sent, but no answer came back "
                f"({type(exc).__name__}: {exc}). The render may be running: it was not "
                "retried, so it cannot have started twice. Look for a new "
                "renders/<id>/progress.json in the bucket to find out.",
                function_name=function_name,
                payload_type=routine,
                bucket_name=bucket_name,
            )
        return RemotionError(
            f"No answer from {function_name} for {routine} ({type(exc).__name__}: {exc}); "
            "it changes nothing, so it is safe to retry"
        )

    def _translate_client_error(self, exc: ClientError, function_name: str) -> Exception:
        code, message = _error_code(exc), _error_message(exc)
        if "UnrecognizedClientException" in code or "UnrecognizedClientException" in message:
            return CredentialsMissingError(UNRECOGNIZED_CLIENT_MESSAGE)
        if code == "ResourceNotFoundException":
            return RemotionError(
                f"Lambda function {function_name} was not found in {self.region}: {message}. "
                "Deploy it with `npx remotion lambda functions deploy`, or pass the name of "
                "the deployed function (function_name=... or REMOTION_FUNCTION_NAME)."
            )
        translated: Exception = exc
        return translated

    # ------------------------------------------------------------ buckets and props

    async def get_or_create_bucket(self) -> str:
        """The region's ``remotionlambda-*`` bucket, created (as Remotion sets it up) if
        there is none. Cached for the life of the client."""
        if self._bucket is not None:
            return self._bucket
        async with self._bucket_lock:
            if self._bucket is None:
                found = await self.find_bucket()
                self._bucket = found if found is not None else await self._create_bucket()
        return self._bucket

    async def find_bucket(self) -> str | None:
        """The region's ``remotionlambda-*`` bucket, or ``None``; raises when there are
        several (Remotion expects exactly one per region)."""
        matching = await self.remotion_buckets()
        if len(matching) > 1:
            raise RemotionError(
                f"You have multiple buckets ({', '.join(matching)}) in your S3 region "
                f'({self.region}) starting with "remotionlambda-". Remotion uses exactly one: '
                "delete the extra ones, or pass force_bucket_name."
            )
        return matching[0] if matching else None

    async def remotion_buckets(self) -> list[str]:
        """Every ``remotionlambda-*`` bucket of this client's region (normally one)."""
        response = await self.s3.list_buckets()
        names = [b["Name"] for b in response.get("Buckets", []) if is_remotion_bucket(b["Name"])]
        matching = []
        for name in names:
            region = region_of_bucket_name(name)
            if region is None:
                try:
                    location = await self.s3.get_bucket_location(Bucket=name)
                except ClientError as exc:
                    if _error_code(exc) == "NoSuchBucket":
                        continue
                    raise
                region = location.get("LocationConstraint") or "us-east-1"
            if region == self.region:
                matching.append(name)
        return matching

    async def _create_bucket(self) -> str:
        name = make_bucket_name(self.region)
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        await self.s3.create_bucket(**kwargs)
        for step in ("delete_bucket_ownership_controls", "delete_public_access_block"):
            # not every S3 has these settings; Remotion tolerates their absence
            with suppress(ClientError):
                await getattr(self.s3, step)(Bucket=name)
        partition = partition_of(self.region).name
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "PublicReadGetObject",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:{partition}:s3:::{name}/*",
            }],
        }
        try:
            await self.s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
            acl = "private"
        except ClientError:
            acl = "public-read"
        with suppress(ClientError):
            await self.s3.put_bucket_acl(Bucket=name, ACL=acl)
        return name

    async def _serialize_props(
        self, opts: RenderMediaOptions | RenderStillOptions | CompositionsOptions, *, kind: str
    ) -> tuple[InlineProps | UploadedProps, str | None]:
        """Inline the props, or upload them to the render bucket (which is returned)."""
        force_bucket_name = opts.force_bucket_name
        plan = plan_input_props(opts.input_props_json, kind=kind,  # type: ignore[arg-type]
                                env_variables=opts.env_variables)
        if isinstance(plan, InlineProps):
            return plan, force_bucket_name
        bucket = force_bucket_name or await self.get_or_create_bucket()
        await self.s3.put_object(
            Bucket=bucket,
            Key=plan.key,
            Body=plan.text.encode(),
            ACL="private",
            ContentType="application/json",
        )
        return plan, bucket

    # ------------------------------------------------------------ renders

    async def render_media(
        self, options: RenderMediaOptions | Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> RenderHandle:
        """Start a video, audio or GIF render (``renderMediaOnLambda``).

        Takes a :class:`RenderMediaOptions`, a mapping (snake_case or camelCase keys, as in
        a JS project) or keyword arguments. Returns as soon as the function accepted the
        render; follow it with :meth:`get_progress` (or ``aioremotion.watching``).

        Example::

            render = await remotion.render_media(
                serve_url="my-site", composition="HelloWorld", codec="h264",
                input_props={"title": "Hi"}, frames_per_lambda=20)
        """
        opts = self._options(RenderMediaOptions, options, kwargs)
        region, function_name = self._call_target(opts.region, opts.function_name)
        props, bucket = await self._serialize_props(opts, kind="media")
        payload = build_start_payload(
            opts, version=self.remotion_version, props=props, bucket_name=bucket
        )
        reply = await self._invoke(function_name, payload, routine="start", bucket_name=bucket)
        render_id, bucket_name = reply.get("renderId"), reply.get("bucketName")
        if not isinstance(render_id, str) or not isinstance(bucket_name, str):
            raise InvalidReplyError(
                f"{function_name} accepted the render but its reply lacks renderId/bucketName: "
                f"{str(reply)[:200]}"
            )
        check_render_id(render_id)
        output = self._predicted_output(opts, render_id, bucket_name)
        spec = parse_function_name(function_name)
        return RenderHandle(
            render_id=render_id,
            bucket_name=bucket_name,
            region=region,
            function_name=function_name,
            function_timeout_ms=spec.timeout_ms if spec else None,
            memory_mb=spec.memory_mb if spec else None,
            renderer_function_name=opts.renderer_function_name,
            out_bucket=output[0] if output else None,
            out_key=output[1] if output else None,
            cancellation_enabled=opts.enable_cancellation,
            started_at_ms=self.now_ms(),
        )

    @staticmethod
    def _predicted_output(
        opts: RenderMediaOptions, render_id: str, bucket_name: str
    ) -> tuple[str, str] | None:
        out_name = opts.out_name_payload()
        output = expected_output(
            render_id=render_id,
            bucket_name=bucket_name,
            render_type="video",
            out_name=out_name,
            codec=opts.codec,
            audio_codec=opts.audio_codec,
            image_format=opts.image_format,
        )
        return output.bucket_name, output.key

    async def render_still(
        self, options: RenderStillOptions | Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> StillResult:
        """Render a still image (``renderStillOnLambda``); returns when it is done.

        Uses InvokeWithResponseStream outside China (as the JS client does) and a plain
        Invoke with ``streamed: false`` in the ``aws-cn`` regions or when ``streamed=False``
        is passed to the client call.

        Example::

            still = await remotion.render_still(serve_url="my-site", composition="Thumb",
                                                image_format="png", frame=10)
            print(still.url, still.size_in_bytes)
        """
        streamed_override = kwargs.pop("streamed", None)
        opts = self._options(RenderStillOptions, options, kwargs)
        region, function_name = self._call_target(opts.region, opts.function_name)
        streamed = is_streaming_region(region) if streamed_override is None else bool(
            streamed_override
        )
        props, bucket = await self._serialize_props(opts, kind="still")
        payload = build_still_payload(
            opts, version=self.remotion_version, props=props, bucket_name=bucket,
            streamed=streamed,
        )
        if streamed:
            reply = await self._invoke_still_stream(function_name, payload, opts.max_retries,
                                                    bucket_name=bucket)
        else:
            reply = await self._invoke(function_name, payload, routine="still",
                                       bucket_name=bucket)
        return self._still_result(reply, region, function_name)

    async def _invoke_still_stream(
        self, function_name: str, payload: dict[str, Any], retries: int,
        *, bucket_name: str | None,
    ) -> dict[str, Any]:
        body = js_json_dumps(payload).encode()

        async def call_once() -> dict[str, Any]:
            response = await self.lambda_client.invoke_with_response_stream(
                FunctionName=function_name, Payload=body
            )
            parser = StreamMessageParser()
            result = StillStreamResult(function_name=function_name)
            async for event in response["EventStream"]:
                if "PayloadChunk" in event:
                    for message in parser.feed(event["PayloadChunk"].get("Payload", b"")):
                        result.add(message)
                elif "InvokeComplete" in event:
                    complete = event["InvokeComplete"]
                    error = stream_error_from_invoke_complete(
                        complete.get("ErrorCode"), complete.get("ErrorDetails"),
                        function_name, region=self.region,
                    )
                    if error is not None and not result.done:
                        raise error
            return result.finish()

        remaining = retries
        while True:
            try:
                with _redact.payload_secrets(payload):  # out of botocore's DEBUG logs
                    return await self._with_throttle_retry(
                        call_once, function_name=function_name, routine="still",
                        bucket_name=bucket_name,
                    )
            except (RemotionFunctionError, RemotionError) as exc:
                if (
                    remaining > 0
                    and not isinstance(exc, (StartOutcomeUnknownError, ConcurrencyLimitError))
                    and is_retryable_stream_error(str(exc))
                ):
                    remaining -= 1
                    continue
                raise

    def _still_result(self, reply: dict[str, Any], region: str, function_name: str) -> StillResult:
        try:
            render_id = str(reply["renderId"])
            return StillResult(
                render_id=render_id,
                bucket_name=str(reply["bucketName"]),
                url=str(reply["output"]),
                out_key=str(reply["outKey"]),
                size_in_bytes=int(reply.get("size", reply.get("sizeInBytes", 0))),
                estimated_price=reply["estimatedPrice"],
                cloud_watch_logs=still_logs_url(region, function_name, render_id),
                artifacts=list(reply.get("receivedArtifacts") or []),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidReplyError(
                f"{function_name} answered the still render without {exc}: {str(reply)[:200]}"
            ) from None

    # ------------------------------------------------------------ progress

    def _render_ref(
        self, render: RenderHandle | str, bucket_name: str | None, function_name: str | None
    ) -> RenderHandle:
        if isinstance(render, RenderHandle):
            return render
        if bucket_name is None:
            raise InvalidOptionsError(
                [("bucket_name", "is required with a render id: pass the bucketName the "
                                 "render call returned (or pass the RenderHandle itself)")]
            )
        fn = function_name or self.function_name
        return RenderHandle(
            render_id=check_render_id(render),
            bucket_name=check_bucket_name(bucket_name),
            region=self.region,
            function_name=fn,
        )

    async def read_progress_file(
        self, render: RenderHandle | str, *, bucket_name: str | None = None,
        if_none_match: str | None = None,
    ) -> ProgressRead:
        """One (conditional) GET of a render's progress.json.

        With ``if_none_match`` set to the previous ETag, an unchanged file costs a 304 and no
        body. Raises :class:`RenderNotFoundError` when the file does not exist.
        """
        ref = self._render_ref(render, bucket_name, None)
        key = progress_key(ref.render_id)
        if self._reader is not None and ref.bucket_name not in self._botocore_buckets:
            try:
                async with self.limiter:
                    status, etag, data = await self._reader.get(
                        ref.bucket_name, key, if_none_match=if_none_match
                    )
            except ClientError as exc:
                code = _error_code(exc)
                if code in ("NoSuchKey", "NotFound", "404"):
                    raise RenderNotFoundError(ref.render_id, ref.bucket_name,
                                              self.region) from exc
                if code not in _REGION_ERRORS and _status(exc) not in (301, 307):
                    raise  # SlowDown, 5xx, AccessDenied: the caller's backoff decides
                # The bucket is in another region: botocore follows that (and remembers).
                self._botocore_buckets.add(ref.bucket_name)
            except aiohttp.ClientError as exc:  # a dropped connection, a bad response
                if isinstance(exc, OSError):
                    raise
                raise HTTPClientError(error=exc) from exc
            else:
                if status == 304:
                    return ProgressRead(file=None, etag=if_none_match, not_modified=True)
                return ProgressRead(file=parse_progress_file(data), etag=etag,
                                    not_modified=False, raw=data)
        kwargs: dict[str, Any] = {"Bucket": ref.bucket_name, "Key": key}
        if if_none_match:
            kwargs["IfNoneMatch"] = if_none_match
        try:
            async with self.limiter:
                response = await self.s3.get_object(**kwargs)
                async with response["Body"] as stream:
                    data = await stream.read()
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("304", "NotModified") or _status(exc) == 304:
                return ProgressRead(file=None, etag=if_none_match, not_modified=True)
            if code in ("NoSuchKey", "NotFound", "404"):
                raise RenderNotFoundError(ref.render_id, ref.bucket_name, self.region) from exc
            raise
        return ProgressRead(
            file=parse_progress_file(data), etag=response.get("ETag"), not_modified=False,
            raw=data,
        )

    async def head_output(self, request: OutputHeadRequest) -> OutputHead | None:
        """HEAD a render's output; ``None`` when it is missing or not readable (404/403)."""
        if request.custom_credentials:
            return await self._head_custom(request)
        try:
            async with self.limiter:
                response = await self.s3.head_object(Bucket=request.bucket_name,
                                                     Key=request.key)
        except ClientError as exc:
            if _status(exc) in (403, 404) or _error_code(exc) in ("404", "403", "NotFound",
                                                                   "NoSuchKey", "AccessDenied"):
                return None
            raise
        return OutputHead(content_length=response.get("ContentLength"))

    async def _head_custom(self, request: OutputHeadRequest) -> OutputHead | None:
        creds = request.custom_credentials or {}
        session = self._session or make_session()
        async with session.create_client(
            "s3",
            region_name=creds.get("region") or "us-east-1",
            endpoint_url=creds.get("endpoint"),
            aws_access_key_id=creds.get("accessKeyId"),
            aws_secret_access_key=creds.get("secretAccessKey"),
            config=s3_config(self.settings),
        ) as client:
            try:
                response = await client.head_object(Bucket=request.bucket_name, Key=request.key)
            except ClientError as exc:
                if _status(exc) in (403, 404):
                    return None
                raise
        return OutputHead(content_length=response.get("ContentLength"))

    def progress_context(self, render: RenderHandle) -> ProgressContext:
        """What :func:`compute_render_progress` needs to know about a render."""
        return ProgressContext(
            render_id=render.render_id,
            bucket_name=render.bucket_name,
            region=render.region,
            function_name=render.function_name,
            timeout_ms=render.timeout_ms,
            memory_mb=render.function_memory_mb,
        )

    async def progress_from_file(
        self, render: RenderHandle, file: ProgressFile, *, now_ms: float | None = None
    ) -> RenderProgress:
        """Compute RenderProgress from a progress.json already read, HEADing the output
        when the computation asks for it."""
        now = self.now_ms() if now_ms is None else now_ms
        ctx = self.progress_context(render)
        result = compute_render_progress(file, ctx, now_ms=now)
        if isinstance(result, OutputHeadRequest):
            head = await self.head_output(result)
            result = compute_render_progress(file, ctx, now_ms=now, output_head=head)
        assert isinstance(result, RenderProgress)
        return result

    async def get_progress(
        self,
        render: RenderHandle | str,
        *,
        bucket_name: str | None = None,
        function_name: str | None = None,
        via: str = "s3",
        s3_output_provider: Mapping[str, Any] | None = None,
        force_path_style: bool = False,
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
            options = ProgressOptions(
                render_id=ref.render_id,
                bucket_name=ref.bucket_name,
                s3_output_provider=s3_output_provider,
                force_path_style=force_path_style,
            )
            payload = build_status_payload(options, version=self.remotion_version)
            reply = await self._invoke(ref.function_name, payload, routine="status")
            return RenderProgress.model_validate(reply)
        if via != "s3":
            raise InvalidOptionsError([("via", f"must be 's3' or 'lambda'; got {via!r}")])
        read = await self.read_progress_file(ref)
        assert read.file is not None
        return await self.progress_from_file(ref, read.file)

    # ------------------------------------------------------------ cancel, delete, presign

    async def cancel(
        self, render: RenderHandle | str, *, bucket_name: str | None = None
    ) -> None:
        """Cancel a render started with ``enable_cancellation=True`` (writes cancel.json).

        Renderers check for the file every second and stop; the render then ends with a
        fatal error. Raises when the render was not started with cancellation enabled.
        """
        ref = self._render_ref(render, bucket_name, None)
        read = await self.read_progress_file(ref)
        assert read.file is not None
        if not read.file.cancellation_enabled:
            raise RemotionError(
                f"Cannot cancel render {ref.render_id}: The render was not started with "
                "enableCancellation: true."
            )
        await self.s3.put_object(
            Bucket=ref.bucket_name,
            Key=cancel_key(ref.render_id),
            Body=js_json_dumps({"cancelledAt": int(self.now_ms())}).encode(),
            ACL="private",
            ContentType="application/json",
        )

    async def delete_render(
        self, render: RenderHandle | str, *, bucket_name: str | None = None
    ) -> int:
        """Delete a render's output and every object under ``renders/<id>/``; returns the
        bytes freed (0 and nothing deleted when the render has no metadata yet)."""
        ref = self._render_ref(render, bucket_name, None)
        read = await self.read_progress_file(ref)
        assert read.file is not None
        metadata = read.file.render_metadata
        if metadata is None:
            return 0
        output = metadata.expected_output(ref.render_id, ref.bucket_name)
        freed = 0
        if output.custom_credentials is None:
            head = await self.head_output(OutputHeadRequest(output.bucket_name, output.key))
            if head is not None:
                freed += head.content_length or 0
            await self.s3.delete_object(Bucket=output.bucket_name, Key=output.key)
        # A trailing slash: unlike Remotion's prefix, this never touches a longer render id.
        prefix = render_prefix(ref.render_id) + "/"
        while True:
            listing = await self.s3.list_objects_v2(Bucket=ref.bucket_name, Prefix=prefix)
            objects = listing.get("Contents", [])
            if not objects:
                return freed
            freed += sum(int(obj.get("Size", 0)) for obj in objects)
            for start in range(0, len(objects), 1000):
                batch = [{"Key": obj["Key"]} for obj in objects[start:start + 1000]]
                await self.s3.delete_objects(
                    Bucket=ref.bucket_name, Delete={"Objects": batch, "Quiet": True}
                )

    async def presign_url(
        self, bucket_name: str, key: str, *, expires_in: int = 3600
    ) -> str:
        """A presigned GET URL for a private object (1 s to 7 days)."""
        if not 1 <= expires_in <= 604800:
            raise InvalidOptionsError(
                [("expires_in", f"must be between 1 and 604800 seconds (7 days); got "
                                f"{expires_in}")]
            )
        url: str = await self.s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": check_bucket_name(bucket_name), "Key": key},
            ExpiresIn=expires_in,
        )
        return url

    # ------------------------------------------------------------ info and compositions

    async def function_version(self, function_name: str | None = None) -> str:
        """The Remotion version of a deployed function (``info``; no version check)."""
        fn = function_name or self.function_name
        try:
            reply = await self._invoke(fn, build_info_payload(), routine="info")
        except RemotionFunctionError as exc:
            if "Command not found" in str(exc):
                return "n/a"
            raise
        version = reply.get("version")
        if not isinstance(version, str):
            raise InvalidReplyError(f"{fn} answered info without a version: {str(reply)[:200]}")
        return version

    async def get_compositions(
        self, options: CompositionsOptions | Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """The compositions of a deployed site (``getCompositionsOnLambda``)."""
        opts = self._options(CompositionsOptions, options, kwargs)
        _, function_name = self._call_target(opts.region, opts.function_name)
        props, bucket = await self._serialize_props(opts, kind="compositions")
        payload = build_compositions_payload(
            opts, version=self.remotion_version, props=props, bucket_name=bucket
        )
        reply = await self._invoke(function_name, payload, routine="compositions")
        compositions = reply.get("compositions")
        if not isinstance(compositions, list):
            raise InvalidReplyError(
                f"{function_name} answered compositions without a list: {str(reply)[:200]}"
            )
        return compositions

    # ------------------------------------------------------------ watching

    def watch(
        self, render: RenderHandle | str, options: WatchOptions | None = None, **kwargs: Any
    ) -> AsyncIterator[Progress | Done | Failed]:
        """``aioremotion.watching(self, render, ...)``: the render's events."""
        from .watching import watch

        return watch(self, render, options, **kwargs)

    async def wait(
        self, render: RenderHandle | str, options: WatchOptions | None = None, **kwargs: Any
    ) -> Done:
        """``aioremotion.wait(self, render, ...)``: Done, or raises RenderFailed."""
        from .watching import wait

        return await wait(self, render, options, **kwargs)

    async def render(
        self, options: RenderMediaOptions | Mapping[str, Any] | None = None, /,
        *, watch_options: WatchOptions | None = None, **kwargs: Any,
    ) -> Done:
        """Start a render and wait for it: Done, or raises RenderFailed."""
        handle = await self.render_media(options, **kwargs)
        return await self.wait(handle, watch_options)
