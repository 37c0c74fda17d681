"""The emulated Remotion functions behind the Lambda API server: the ``info``, ``start``,
``status``, ``still`` and ``compositions`` routines (docs/PROTOCOL.md sections 4, 5, 7, 9).

Any well-formed ``remotion-render-<version>-mem<M>mb-disk<D>mb-<T>sec`` name is a deployed
function of that version, memory, disk and timeout; other names get 404. Payloads must
carry that version and, with ``EmulatorConfig.strict_payloads``, the keys its function reads
(:mod:`.payload_check`).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
from botocore.exceptions import ClientError

from ..protocol.constants import DISK_MB_FOR_PRICE_CALCULATION
from ..protocol.naming import (
    content_disposition,
    content_type_for_key,
    expected_output,
    parse_function_name,
    progress_key,
    random_hash,
    site_url,
    still_logs_url,
)
from ..protocol.pricing import currency_of, estimate_price, format_accrued_cost
from ..protocol.progress import (
    OutputHead,
    OutputHeadRequest,
    ProgressContext,
    compute_render_progress,
)
from ..protocol.replies import encode_stream_message
from ..protocol.versions import parse_version
from .backend import (
    FunctionError,
    InvokeResult,
    LambdaApiError,
    LambdaBackend,
    LambdaInvocation,
    StreamResult,
)
from .config import EmulatorConfig
from .faults import Faults
from .launch import ACLS, LaunchJob, RenderFailure, now_ms
from .payload_check import payload_problem
from .progress_writer import ProgressWriter, initial_progress
from .version_mismatch import version_mismatch_text

if TYPE_CHECKING:
    from .media import Composition, CompositionRegistry

_SITE_IN_URL = re.compile(r"/sites/([^/]+)/")


@dataclass(frozen=True)
class StartedRender:
    """A render the emulator started: its id, bucket, function and payload metadata."""

    render_id: str
    bucket_name: str
    function_name: str
    metadata: dict[str, Any]


class RemotionFunctions(LambdaBackend):
    """Every deployed Remotion function of the emulator (one account, one region)."""

    def __init__(
        self,
        *,
        s3: Any,
        s3_endpoint: str,
        region: str,
        bucket: str,
        registry: CompositionRegistry,
        sites: dict[str, str],
        config: EmulatorConfig,
        faults: Faults,
        spawn: Callable[[Callable[[], Awaitable[None]]], None],
        http: aiohttp.ClientSession,
        account_id: str = "123456789012",
    ) -> None:
        self.s3 = s3
        self.s3_endpoint = s3_endpoint.rstrip("/")
        self.region = region
        self.bucket = bucket
        self.registry = registry
        self.sites = sites
        self.config = config
        self.faults = faults
        self.spawn = spawn
        self.http = http
        self.account_id = account_id
        self.launches: dict[str, LaunchJob] = {}
        self.active_functions = 0
        self.peak_functions = 0
        self.throttled = 0
        #: How many renders (start calls that reached the function) there were.
        self.renders_started = 0
        #: Every render started, in order: the emulator's own record, to check a client
        #: against (no render started twice, none forgotten).
        self.started_renders: list[StartedRender] = []
        self._encoders = anyio.Semaphore(max(1, config.max_parallel_encoders))

    # ------------------------------------------------------------ the Lambda API

    async def admit(self, invocation: LambdaInvocation) -> None:
        spec = parse_function_name(invocation.bare_name)
        if spec is None or not invocation.bare_name.startswith("remotion-render-"):
            raise LambdaApiError.function_not_found(invocation.function_arn)
        limit = self.config.account_concurrency
        if self.faults.take_throttle(invocation.routine) or (
            limit is not None and self.active_functions >= limit
        ):
            self.throttled += 1
            raise LambdaApiError.too_many_requests("ConcurrentInvocationLimitExceeded")

    async def invoke(self, invocation: LambdaInvocation) -> InvokeResult:
        async with self.lambda_slot():
            reply = await self._route(invocation, streamed=False)
        return InvokeResult.from_json(reply)

    async def invoke_stream(self, invocation: LambdaInvocation) -> StreamResult:
        async def chunks() -> AsyncIterator[bytes]:
            async with self.lambda_slot():
                payload = invocation.payload_json or {}
                if payload.get("type") != "still":
                    reply = await self._route(invocation, streamed=True)
                    yield json.dumps(reply).encode()
                    return
                try:
                    self._check_version(invocation, payload)
                    result = await self._still(invocation.bare_name, payload)
                except _RoutineError as exc:
                    yield encode_stream_message("error-occurred", {
                        "error": f"Error: {exc}\n    at aioremotion-emulator",
                        "shouldRetry": False, "errorInfo": None})
                    return
                yield encode_stream_message("render-id-determined",
                                            {"renderId": result["renderId"]})
                yield encode_stream_message("still-rendered", result)

        return StreamResult(chunks())

    @contextlib.asynccontextmanager
    async def lambda_slot(self) -> AsyncIterator[None]:
        """Count a running function (for the account concurrency limit and statistics)."""
        self.active_functions += 1
        self.peak_functions = max(self.peak_functions, self.active_functions)
        try:
            yield
        finally:
            self.active_functions -= 1

    @contextlib.asynccontextmanager
    async def encoder_slot(self) -> AsyncIterator[None]:
        """Bound the real encoders running at once (the machine has few cores)."""
        async with self._encoders:
            yield

    async def _route(self, invocation: LambdaInvocation, *, streamed: bool) -> dict[str, Any]:
        payload = invocation.payload_json
        if not isinstance(payload, dict):
            raise FunctionError("TypeError", "The payload must be a JSON object")
        routine = payload.get("type")
        name = invocation.bare_name
        if routine == "info":
            return {"version": self.version_of(name), "type": "success"}
        if routine == "status":
            # the status routine does not catch its errors: they become Unhandled
            try:
                self._check_version(invocation, payload)
                return await self._status(name, payload)
            except _RoutineError as exc:
                raise FunctionError("Error", str(exc)) from None
        try:
            self._check_version(invocation, payload)
            if routine == "start":
                return await self._start(name, payload)
            if routine == "still":
                return await self._still(name, payload)
            if routine == "compositions":
                return self._compositions(payload)
            raise _RoutineError(f"Unknown routine type {routine!r}")
        except _RoutineError as exc:
            return {"type": "error", "message": str(exc),
                    "stack": f"Error: {exc}\n    at aioremotion-emulator"}

    def _check_version(self, invocation: LambdaInvocation, payload: dict[str, Any]) -> None:
        routine = str(payload.get("type"))
        name = invocation.bare_name
        version = self.version_of(name)
        mismatch = version_mismatch_text(routine, function_name=name, function_version=version,
                                         payload=payload)
        if mismatch is not None:
            raise _RoutineError(mismatch)
        problem = payload_problem(payload, version) if self.config.strict_payloads else None
        if problem is not None:
            raise _RoutineError(problem)

    # ------------------------------------------------------------ function facts

    @staticmethod
    def version_of(function_name: str) -> str:
        spec = parse_function_name(function_name)
        return spec.version if spec else "n/a"

    @staticmethod
    def memory_of(function_name: str) -> int:
        spec = parse_function_name(function_name)
        return spec.memory_mb if spec else 2048

    @staticmethod
    def timeout_ms_of(function_name: str) -> int:
        spec = parse_function_name(function_name)
        return spec.timeout_ms if spec else 120_000

    def output_url(self, bucket: str, key: str) -> str:
        """Outputs are reported at the emulator's own S3 endpoint, so they download."""
        return f"{self.s3_endpoint}/{bucket}/{key}"

    def resolve_serve_url(self, serve_url: str) -> str:
        if serve_url.startswith(("http://", "https://")):
            return serve_url
        return site_url(self.bucket, self.region, serve_url)

    def site_name(self, serve_url: str) -> str:
        if serve_url.startswith(("http://", "https://")):
            match = _SITE_IN_URL.search(serve_url)
            if not match:
                raise _RoutineError(
                    f"{serve_url} is not a site deployed to this emulator (expected a URL "
                    "containing /sites/<name>/)"
                )
            return match.group(1)
        if serve_url.startswith("src/"):
            raise _RoutineError(
                "Remotion Lambda can only render based on a URL in the cloud. It seems like "
                f"you passed a local file: {serve_url}. Read the setup guide for Remotion Lambda "
                "https://remotion.dev/docs/lambda/setup"
            )
        return serve_url

    def find_composition(self, serve_url: str, composition_id: str) -> Composition:
        site = self.site_name(serve_url)
        if site not in self.sites:
            raise RenderFailure(f"Site {site!r} is not deployed (deployed: "
                                f"{', '.join(sorted(self.sites)) or 'none'})")
        if composition_id not in self.registry:
            raise RenderFailure(f"Could not find composition with ID {composition_id}. "
                                f"Available compositions: {', '.join(self.registry.ids())}")
        return self.registry.get(composition_id)

    # ------------------------------------------------------------ S3 helpers

    async def object_exists(self, bucket: str, key: str) -> bool:
        try:
            await self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            return False
        return True

    async def read_text(self, bucket: str, key: str) -> str:
        response = await self.s3.get_object(Bucket=bucket, Key=key)
        async with response["Body"] as stream:
            data: bytes = await stream.read()
        return data.decode()

    async def delete_object(self, bucket: str, key: str) -> None:
        with contextlib.suppress(ClientError):
            await self.s3.delete_object(Bucket=bucket, Key=key)

    async def upload_output(
        self, bucket: str, key: str, body: bytes, params: dict[str, Any]
    ) -> None:
        """Upload a render's output as the function does: Content-Type from the key, the
        ACL from ``privacy``, Content-Disposition from ``downloadBehavior``, and the
        storage class and metadata when the payload sets them."""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body,
                                  "ContentType": content_type_for_key(key)}
        acl = ACLS.get(params.get("privacy") or "public")
        if acl:
            kwargs["ACL"] = acl
        disposition = content_disposition(params.get("downloadBehavior"))
        if disposition:
            kwargs["ContentDisposition"] = disposition
        if params.get("storageClass"):
            kwargs["StorageClass"] = params["storageClass"]
        if params.get("metadata"):
            kwargs["Metadata"] = params["metadata"]
        await self.s3.put_object(**kwargs)

    async def _write_progress(self, bucket: str, render_id: str, body: bytes) -> None:
        await self.s3.put_object(Bucket=bucket, Key=progress_key(render_id), Body=body,
                                 ContentType="application/json", ACL="private")

    async def forget_launch(self, render_id: str) -> None:
        self.launches.pop(render_id, None)

    # ------------------------------------------------------------ routines

    async def _start(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        bucket = payload.get("bucketName") or self.bucket
        self.site_name(str(payload.get("serveUrl", "")))  # a local path fails the start
        self.renders_started += 1
        delete_after = payload.get("deleteAfter")
        render_id = "-".join(part for part in (delete_after, random_hash()) if part)
        metadata = payload.get("metadata")
        self.started_renders.append(StartedRender(
            render_id=render_id, bucket_name=bucket, function_name=function_name,
            metadata=dict(metadata) if isinstance(metadata, dict) else {}))
        timeout_ms = self.timeout_ms_of(function_name)
        faults = self.faults.take_render_faults()
        # Simulated durations are divided by the speed factor, the timeout among them:
        # timeoutTimestamp is when the launch really gives up.
        state = initial_progress(now_ms=now_ms(), timeout_ms=round(timeout_ms / self.config.speed),
                                 cancellation_enabled=bool(payload.get("enableCancellation")),
                                 version=parse_version(self.version_of(function_name)))

        async def upload(body: bytes) -> None:
            await self._write_progress(bucket, render_id, body)

        writer = ProgressWriter(state, upload,
                                interval_s=self.config.progress_write_interval_s
                                / self.config.speed,
                                should_drop=faults.take_dropped_write)
        await writer.write_now(droppable=False)  # progress.json exists before the reply
        job = LaunchJob(functions=self, function_name=function_name, render_id=render_id,
                        bucket=bucket, params=payload, timeout_ms=timeout_ms, faults=faults,
                        writer=writer)
        self.launches[render_id] = job

        async def launch() -> None:
            async with self.lambda_slot():
                await job.run()

        self.spawn(launch)
        return {"type": "success", "bucketName": bucket, "renderId": render_id}

    async def _status(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        bucket, render_id = payload.get("bucketName"), payload.get("renderId")
        if not isinstance(bucket, str) or not isinstance(render_id, str):
            raise _RoutineError("bucketName and renderId are required")
        try:
            text = await self.read_text(bucket, progress_key(render_id))
        except ClientError:
            raise _RoutineError(
                f'No render with ID "{render_id}" found in bucket {bucket} and region '
                f"{self.region}"
            ) from None
        ctx = ProgressContext.for_function(function_name, region=self.region,
                                           render_id=render_id, bucket_name=bucket)
        now = now_ms()
        try:
            result = compute_render_progress(text, ctx, now_ms=now)
            if isinstance(result, OutputHeadRequest):
                head: OutputHead | None = None
                try:
                    meta = await self.s3.head_object(Bucket=result.bucket_name, Key=result.key)
                    head = OutputHead(meta.get("ContentLength"))
                except ClientError:
                    head = None
                result = compute_render_progress(text, ctx, now_ms=now, output_head=head)
        except Exception as exc:  # the status routine lets errors escape as Unhandled
            raise _RoutineError(str(exc)) from None
        assert not isinstance(result, OutputHeadRequest)
        return result.to_json_dict()

    def _compositions(self, payload: dict[str, Any]) -> dict[str, Any]:
        site = self.site_name(str(payload.get("serveUrl", "")))
        if site not in self.sites:
            raise _RoutineError(f"Site {site!r} is not deployed")
        props_text = (payload.get("inputProps") or {}).get("payload") or "{}"
        props = json.loads(props_text)
        return {"type": "success", "compositions": self.registry.to_json(props)}

    async def _still(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        start = now_ms()
        bucket = payload.get("bucketName") or self.bucket
        render_id = "-".join(p for p in (payload.get("deleteAfter"), random_hash()) if p)
        serve_url = str(payload.get("serveUrl", ""))
        try:
            composition = self.find_composition(serve_url, str(payload.get("composition")))
        except RenderFailure as exc:
            raise _RoutineError(str(exc)) from None
        image_format = payload.get("imageFormat") or "png"
        state = initial_progress(now_ms=start, timeout_ms=self.timeout_ms_of(function_name),
                                 cancellation_enabled=False)
        state["renderMetadata"] = {
            "startedDate": start, "totalChunks": 1, "estimatedTotalLambdaInvokations": 1,
            "estimatedRenderLambdaInvokations": 1, "compositionId": composition.id,
            "siteId": self.resolve_serve_url(serve_url), "codec": None, "type": "still",
            "imageFormat": image_format, "inputProps": payload.get("inputProps"),
            "lambdaVersion": self.version_of(function_name), "framesPerLambda": 1,
            "memorySizeInMb": self.memory_of(function_name), "region": self.region,
            "renderId": render_id, "privacy": payload.get("privacy"),
            "outputFileIsConditional": None, "functionName": function_name,
            "rendererFunctionName": function_name,
        }
        await self._write_progress(bucket, render_id, json.dumps(state).encode())
        serialized = payload.get("inputProps") or {}
        if serialized.get("type") == "bucket-url":
            props_key = f"input-props/{serialized['hash']}.json"
            props = json.loads(await self.read_text(bucket, props_key))
            await self.delete_object(bucket, props_key)
        else:
            props = json.loads(serialized.get("payload") or "{}")
        frame = int(payload.get("frame") or 0)
        if frame < 0:
            frame += composition.duration_in_frames
        if not 0 <= frame < composition.duration_in_frames:
            raise _RoutineError(
                f"Frame number is out of range, must be between 0 and "
                f"{composition.duration_in_frames - 1} but got {frame}"
            )
        if self.config.real_encoding:
            from .media import render_still

            body = await render_still(composition, {**composition.default_props, **props},
                                      frame, image_format=image_format,
                                      scale=float(payload.get("scale") or 1),
                                      jpeg_quality=int(payload.get("jpegQuality") or 80))
        else:
            from .media import synthetic_still

            body = synthetic_still(image_format)
        output = expected_output(render_id=render_id, bucket_name=bucket, render_type="still",
                                 out_name=payload.get("outName"), codec=None, audio_codec=None,
                                 image_format=image_format)
        await self.upload_output(output.bucket_name, output.key, body, payload)
        duration = now_ms() - start
        cost = estimate_price(region=self.region, memory_mb=self.memory_of(function_name),
                              disk_mb=DISK_MB_FOR_PRICE_CALCULATION, lambdas_invoked=1,
                              duration_ms=duration + 100)
        currency = currency_of(self.region)
        return {
            "type": "success",
            "output": self.output_url(output.bucket_name, output.key),
            "size": len(body),
            "sizeInBytes": len(body),
            "bucketName": output.bucket_name,
            "estimatedPrice": {"accruedSoFar": cost,
                               "displayCost": format_accrued_cost(cost, currency),
                               "currency": currency,
                               "disclaimer": "Estimated cost only. Does not include charges "
                                             "for other AWS services."},
            "renderId": render_id,
            "outKey": output.key,
            "receivedArtifacts": [],
            "cloudWatchLogs": still_logs_url(self.region, function_name, render_id),
        }


class _RoutineError(Exception):
    """An error a routine reports to its caller."""


__all__ = ["RemotionFunctions", "StartedRender"]

