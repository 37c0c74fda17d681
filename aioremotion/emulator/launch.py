"""The emulated ``launch`` routine: plan chunks, run renderers concurrently, keep
progress.json current, stitch, upload, send the webhook (docs/PROTOCOL.md sections 8.1, 12).

Work is simulated (a configurable cost per frame, divided by a speed factor) or real
(frames drawn and encoded in-process with PyAV, see :mod:`aioremotion.emulator.media`; the
frame cost, if any, is then added to each real frame). Either way a renderer counts each
frame as it is rendered and encoded, as a Remotion renderer does, so progress.json moves
with the work. Timestamps are real wall-clock ms, so a client's own timeout arithmetic
holds.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..protocol.chunks import ChunkPlan, ChunkPlanError, plan_chunks
from ..protocol.constants import DISK_MB_FOR_PRICE_CALCULATION, POST_RENDER_COST_DISCLAIMER
from ..protocol.naming import (
    ExpectedOutput,
    cancel_key,
    expected_output,
    file_extension,
    parse_function_name,
)
from ..protocol.pricing import currency_of, estimate_price, format_final_cost
from ..protocol.progress import explain_error
from ..protocol.webhooks import webhook_payload
from .faults import ChunkFault, RenderFaults
from .metadata import render_metadata
from .progress_writer import ProgressWriter
from .sequences import SequenceJob, old_function_codec_error, sequence_of
from .webhooks import send_webhook

if TYPE_CHECKING:
    from .functions import RemotionFunctions
    from .media import Composition

logger = logging.getLogger(__name__)

ACLS = {"public": "public-read", "private": "private"}


def now_ms() -> int:
    return int(time.time() * 1000)


class RenderFailure(Exception):
    """A fatal error of the render (recorded as a ``stitcher`` error)."""


class _Stalled(Exception):
    """Fault injection: the launch stops writing and waits for its timeout."""


@dataclass
class ChunkState:
    rendered: int = 0
    encoded: int = 0
    attempt: int = 1


@dataclass
class LaunchJob:
    """One render's launch invocation."""

    functions: RemotionFunctions
    function_name: str
    render_id: str
    bucket: str
    params: dict[str, Any]
    timeout_ms: int
    faults: RenderFaults
    writer: ProgressWriter
    started: int = field(default_factory=now_ms)
    chunk_states: dict[int, ChunkState] = field(default_factory=dict)
    webhook_sent: bool = False
    input_props_key: str | None = None
    #: The image sequence this render uploads (``None``: a media render).
    sequence: SequenceJob | None = None
    #: Set when the launch hangs on an armed fault (it writes no more progress).
    stalled: anyio.Event = field(default_factory=anyio.Event)
    #: Set when the launch has ended (done, failed or timed out).
    ended: anyio.Event = field(default_factory=anyio.Event)
    _cancel_scope: anyio.CancelScope | None = None

    # ------------------------------------------------------------ helpers

    @property
    def state(self) -> dict[str, Any]:
        return self.writer.state

    def _sleep_s(self, ms: float) -> float:
        return self.functions.config.real_s(ms)

    def _error(self, *, type_: str, message: str, chunk: int | None, fatal: bool,
               attempt: int = 1, total_attempts: int = 1, will_retry: bool = False,
               name: str = "Error") -> dict[str, Any]:
        return {
            "type": type_,
            "message": message,
            "name": name,
            "stack": f"{name}: {message}\n    at aioremotion-emulator",
            "frame": None,
            "chunk": chunk,
            "isFatal": fatal,
            "attempt": attempt,
            "willRetry": will_retry,
            "totalAttempts": total_attempts,
            "tmpDir": None,
        }

    def _recount(self) -> None:
        self.state["framesRendered"] = sum(c.rendered for c in self.chunk_states.values())
        self.state["framesEncoded"] = sum(c.encoded for c in self.chunk_states.values())
        self.writer.touch()

    # ------------------------------------------------------------ entry

    async def run(self) -> None:
        """Run the render to its end: done, failed, or timed out."""
        try:
            await self._run()
        finally:
            self.ended.set()

    async def _run(self) -> None:
        functions = self.functions
        timed_out = False
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.writer.run)
            # the function's timeout is simulated time too (divided by the speed factor)
            with anyio.move_on_after(self._sleep_s(self.timeout_ms - 1000)) as deadline:
                self._cancel_scope = deadline
                try:
                    await self._render()
                except _Stalled:
                    await self._hang()
                except RenderFailure as exc:
                    await self._fail(str(exc))
                except Exception as exc:
                    logger.exception("emulated launch crashed")
                    await self._fail(f"{type(exc).__name__}: {exc}")
            timed_out = deadline.cancelled_caught
            tg.cancel_scope.cancel()
        if timed_out:
            self.writer.frozen = True
            if self.params.get("enableCancellation"):
                await self._write_cancel_json()
            await self._webhook("timeout")
        await functions.forget_launch(self.render_id)

    async def _hang(self) -> None:
        """An armed crash or stall: write nothing more, until the timeout."""
        self.writer.frozen = True
        self.stalled.set()
        await anyio.sleep_forever()

    # ------------------------------------------------------------ the render

    async def _render(self) -> None:
        p = self.params
        functions = self.functions
        await anyio.sleep(self.faults.invoke_latency_s(self.functions.config))
        self.writer.set(serveUrlOpened=now_ms())
        await self.writer.write_now()
        if self.faults.crash_before_metadata:
            await self._hang()

        composition = functions.find_composition(p.get("serveUrl", ""), p.get("composition", ""))
        props = await self._input_props()
        merged_props = {**composition.default_props, **props}
        self.writer.set(compositionValidated=now_ms())

        duration = int(p.get("forceDurationInFrames") or composition.duration_in_frames)
        frame_range = self._frame_range(p.get("frameRange"), duration)
        every_nth = int(p.get("everyNthFrame") or 1)
        renderer_name = p.get("rendererFunctionName")
        single = p.get("concurrency") == 1 and renderer_name is None
        try:
            plan = plan_chunks(
                frame_range=frame_range,
                every_nth_frame=every_nth,
                frames_per_lambda=p.get("framesPerLambda"),
                concurrency=p.get("concurrency"),
            )
        except ChunkPlanError as exc:
            raise RenderFailure(str(exc)) from None
        seq = self.sequence = sequence_of(p, version=functions.version_of(self.function_name),
                                          render_id=self.render_id, bucket=self.bucket,
                                          frame_range=frame_range)
        if seq is None and (p.get("output") or {}).get("type") == "sequence":
            raise RenderFailure(old_function_codec_error(p.get("codec")) or "no codec")
        codec = p.get("codec") or "h264"
        output: ExpectedOutput | None = None
        if seq is None:
            output = expected_output(
                render_id=self.render_id, bucket_name=self.bucket, render_type="video",
                out_name=p.get("outName"), codec=codec, audio_codec=p.get("audioCodec"),
                image_format=p.get("imageFormat"),
            )
            where = (output.bucket_name, output.key)
        else:
            where = (seq.bucket, seq.manifest_key)
        if not p.get("overwrite") and await functions.object_exists(*where):
            raise RenderFailure(
                f"Output file {where[1]} already exists in bucket {where[0]}. "
                "Pass overwrite: true to replace it."
            )
        scale = float(p.get("scale") or 1)
        width = int(p.get("forceWidth") or composition.width)
        height = int(p.get("forceHeight") or composition.height)
        metadata = render_metadata(
            self, plan=plan, composition=composition, frame_range=frame_range,
            every_nth=every_nth, codec=codec, single=single, size=(width, height), scale=scale)
        self.writer.set(renderMetadata=metadata)
        await self.writer.write_now()
        if self.faults.stall:
            raise _Stalled()

        with tempfile.TemporaryDirectory(prefix="aioremotion-render-") as workdir:
            chunk_files = await self._run_renderers(plan, composition, merged_props,
                                                    Path(workdir), single=single)
            if self.faults.stall_after_chunks:
                await self.writer.write_now()
                raise _Stalled()
            if seq is not None:
                sequence = await seq.write_manifest(functions, p, width=round(width * scale),
                                                    height=round(height * scale),
                                                    fps=float(composition.fps))
                self.state["renderMetadata"]["outputSequence"] = sequence
                self.writer.set(outputSequence=sequence)
                await self._finish(plan, seq.bucket, seq.manifest_key, seq.size, sequence)
                return
            body = await self._combine(plan, composition, chunk_files, Path(workdir), single)
        assert output is not None
        await self.functions.upload_output(output.bucket_name, output.key, body, self.params)
        await self._finish(plan, output.bucket_name, output.key, len(body))

    async def _input_props(self) -> dict[str, Any]:
        serialized = self.params.get("inputProps") or {"type": "payload", "payload": "{}"}
        if serialized.get("type") == "bucket-url":
            self.input_props_key = f"input-props/{serialized['hash']}.json"
            text = await self.functions.read_text(self.bucket, self.input_props_key)
        else:
            text = serialized.get("payload") or "{}"
        try:
            props = json.loads(text)
        except ValueError as exc:
            raise RenderFailure(f"Input props are not valid JSON: {exc}") from None
        if not isinstance(props, dict):
            raise RenderFailure("Input props must be a JSON object")
        return props

    @staticmethod
    def _frame_range(value: Any, duration: int) -> tuple[int, int]:
        if value is None:
            first, last = 0, duration - 1
        elif isinstance(value, int):
            first = last = value
        else:
            first, last = value[0], (value[1] if value[1] is not None else duration - 1)
        if not 0 <= first <= last <= duration - 1:
            raise RenderFailure(
                f'The "durationInFrames" of the <Composition /> was evaluated to be {duration}, '
                f"but frame range {first}-{last} is not inbetween 0-{duration - 1}"
            )
        return first, last

    # ------------------------------------------------------------ renderers

    async def _run_renderers(
        self, plan: ChunkPlan, composition: Composition, props: dict[str, Any],
        workdir: Path, *, single: bool,
    ) -> list[Path | None]:
        files: list[Path | None] = [None] * plan.total_chunks
        progress_every = max(1, math.ceil(plan.total_chunks / 15))

        async with anyio.create_task_group() as outer:
            if self.params.get("enableCancellation"):
                outer.start_soon(self._watch_cancel_json, outer.cancel_scope)
            async with anyio.create_task_group() as renderers:

                async def chunk_worker(chunk: int) -> None:
                    async with self.functions.lambda_slot():
                        files[chunk] = await self._render_chunk(
                            plan, chunk, composition, props, workdir, progress_every,
                            single=single, on_fatal=renderers.cancel_scope.cancel,
                        )

                for chunk in range(plan.total_chunks):
                    if single:
                        await chunk_worker(chunk)
                    else:
                        renderers.start_soon(chunk_worker, chunk)
            outer.cancel_scope.cancel()  # the renderers are done: stop watching cancel.json
        if self._cancelled:
            raise RenderFailure("renderMedia() got cancelled")
        if self._fatal_chunk_error is not None:
            raise RenderFailure(self._fatal_chunk_error)
        self.state["timeToEncode"] = now_ms() - self.started
        self.writer.touch()
        return files

    _cancelled: bool = False
    _fatal_chunk_error: str | None = None
    _all_rendered_marked: bool = False

    async def _watch_cancel_json(self, scope: anyio.CancelScope) -> None:
        interval = self.functions.config.cancel_poll_interval_s
        while True:
            await anyio.sleep(interval)
            if await self.functions.object_exists(self.bucket, cancel_key(self.render_id)):
                self._cancelled = True
                scope.cancel()
                return

    async def _render_chunk(
        self, plan: ChunkPlan, chunk: int, composition: Composition, props: dict[str, Any],
        workdir: Path, progress_every: int, *, single: bool,
        on_fatal: Callable[[], None],
    ) -> Path | None:
        p = self.params
        max_retries = int(p.get("maxRetries", 1))
        config = self.functions.config
        frames = plan.frames_of(chunk)
        while True:
            state = self.chunk_states.setdefault(chunk, ChunkState())
            start = now_ms()
            await anyio.sleep(self.faults.invoke_latency_s(self.functions.config))
            if not single and state.attempt == 1:
                self.state["lambdasInvoked"] += 1
                self.writer.touch()
            fault = self.faults.take_chunk_fault(chunk)
            try:
                if self.sequence is not None:
                    await self._upload_frames(frames, composition, props, state, fault,
                                              progress_every)
                    path = None
                elif config.real_encoding:
                    path = await self._encode_frames(chunk, frames, composition, props,
                                                     workdir, state, fault, progress_every)
                else:
                    await self._simulate_frames(frames, state, fault, progress_every)
                    path = None
            except _ChunkError as exc:
                attempt = state.attempt
                will_retry = exc.retryable and attempt <= max_retries
                self.state["errors"].append(self._error(
                    type_="renderer", message=str(exc), chunk=chunk, fatal=not will_retry,
                    attempt=attempt, total_attempts=max_retries + 1, will_retry=will_retry,
                ))
                state.rendered = state.encoded = 0
                if not will_retry:
                    self._fatal_chunk_error = str(exc)
                    self.state["fatalErrorTimestamp"] = now_ms()
                    self._recount()
                    on_fatal()
                    return None
                state.attempt += 1
                self.state["retries"].append({"attempt": state.attempt, "time": now_ms(),
                                              "chunk": chunk})
                self._recount()
                continue
            self.state["chunks"].append(chunk)
            self.state["timings"].append({"chunk": chunk, "start": start,
                                          "rendered": now_ms()})
            if (not self._all_rendered_marked
                    and self.state["framesRendered"] >= plan.frame_count):
                self._all_rendered_marked = True
                self.state["timeToRenderFrames"] = now_ms() - self.started
            self.writer.touch()
            return path

    def _count(self, state: ChunkState, done: int, total: int, progress_every: int) -> None:
        """``done`` frames of a chunk of ``total`` are rendered and encoded."""
        state.rendered = state.encoded = done
        if done % progress_every == 0 or done == total:
            self._recount()

    async def _simulate_frames(self, frames: list[int], state: ChunkState,
                               fault: ChunkFault | None, progress_every: int) -> None:
        """Synthetic mode: each frame costs a sleep; an armed fault fires mid-chunk."""
        for index in range(len(frames)):
            await anyio.sleep(self.faults.frame_s(self.functions.config))
            if fault is not None and index == len(frames) // 2:
                raise _ChunkError.of(fault, frames[index])
            self._count(state, index + 1, len(frames), progress_every)

    async def _upload_frames(self, frames: list[int], composition: Composition,
                             props: dict[str, Any], state: ChunkState,
                             fault: ChunkFault | None, progress_every: int) -> None:
        """Image sequence: draw, encode and upload each frame, counting it in
        ``framesUploaded`` once it is in S3; an armed fault fires mid-chunk."""
        seq, p = self.sequence, self.params
        assert seq is not None
        sized = seq.sized(composition, p)
        for index, frame in enumerate(frames):
            await anyio.sleep(self.faults.frame_s(self.functions.config))
            if fault is not None and index == len(frames) // 2:
                raise _ChunkError.of(fault, frame)
            await seq.upload_frame(self.functions, sized, props, frame,
                                   scale=float(p.get("scale") or 1), params=p)
            self.state["framesUploaded"] = len(seq.uploaded)
            self._count(state, index + 1, len(frames), progress_every)

    async def _encode_frames(
        self, chunk: int, frames: list[int], composition: Composition, props: dict[str, Any],
        workdir: Path, state: ChunkState, fault: ChunkFault | None, progress_every: int,
    ) -> Path:
        """Real mode: draw and encode the chunk, counting each frame as the encoder takes it
        (progress moves with the real work); an armed fault stops it mid-chunk."""
        from .media import chunk_extension, encode_chunk

        fail_at = len(frames) // 2 if fault is not None else None
        if fault is not None and fail_at == 0:
            raise _ChunkError.of(fault, frames[0])
        if (cost := self.faults.frame_s(self.functions.config)) > 0:
            composition = composition.slowed(cost)
        codec = self.params.get("codec") or "h264"
        out = workdir / f"chunk-{chunk:04d}.{chunk_extension(codec)}"
        live = True

        def on_frame(done: int) -> None:  # on the event loop, after each frame
            if live:
                self._count(state, done, len(frames), progress_every)
                if fail_at is not None and done >= fail_at:
                    scope.cancel()

        with anyio.CancelScope() as scope:
            async with self.functions.encoder_slot():
                try:
                    await encode_chunk(composition, props, frames, codec=codec, out_path=out,
                                       scale=float(self.params.get("scale") or 1),
                                       on_frame=on_frame)  # fmt: skip
                finally:
                    live = False
        if fault is not None and scope.cancel_called:
            await anyio.Path(out).unlink(missing_ok=True)
            raise _ChunkError.of(fault, frames[fail_at or 0])
        return out

    # ------------------------------------------------------------ stitching and upload

    async def _combine(self, plan: ChunkPlan, composition: Composition,
                       files: list[Path | None], workdir: Path, single: bool) -> bytes:
        p = self.params
        codec = p.get("codec") or "h264"
        combine_start = now_ms()
        if single:
            self.writer.set(combinedFrames=plan.frame_count)
        else:
            for step in (0.5, 1.0):
                await anyio.sleep(self._sleep_s(self.functions.config.combine_cost_ms / 2))
                self.writer.set(combinedFrames=int(plan.frame_count * step))
        if self.functions.config.real_encoding:
            from .media import combine_chunks

            out = workdir / f"out.{file_extension(codec, p.get('audioCodec'))}"
            async with self.functions.encoder_slot():
                await combine_chunks([f for f in files if f is not None], out, codec=codec,
                                     audio_codec=p.get("audioCodec"))
            body = await anyio.Path(out).read_bytes()
        else:
            from .media import synthetic_output

            body = synthetic_output(codec, frames=plan.frame_count, fps=30)
        if not single:
            self.writer.set(timeToCombine=now_ms() - combine_start)
        return body

    async def _finish(self, plan: ChunkPlan, bucket: str, key: str, size: int,
                      sequence: dict[str, Any] | None = None) -> None:
        end = now_ms()
        timings = self.state["timings"]
        billing = sum(max(0, t["rendered"] - t["start"]) + 100 for t in timings)
        renderer = self.state["renderMetadata"]["rendererFunctionName"]
        spec = parse_function_name(renderer)
        memory = spec.memory_mb if spec else self.functions.memory_of(self.function_name)
        region = self.functions.region
        cost = estimate_price(
            region=region, memory_mb=memory, disk_mb=DISK_MB_FOR_PRICE_CALCULATION,
            lambdas_invoked=self.state["renderMetadata"]["estimatedTotalLambdaInvokations"],
            duration_ms=billing,
        )
        currency = currency_of(region)
        ranked = sorted(timings, key=lambda t: t["rendered"] - t["start"], reverse=True)[:5]
        expensive = [
            {"timeInMilliseconds": t["rendered"] - t["start"], "chunk": t["chunk"],
             "frameRange": list(plan.chunk_frames(t["chunk"]))}
            for t in ranked
        ]
        errors = [
            {**e, "explanation": explain_error(e.get("stack")), "s3Location": ""}
            for e in self.state["errors"]
        ]
        chunk_times = [t["rendered"] for t in timings] or [end]
        starts = [t["start"] for t in timings] or [end]
        # a sequence has no output file: outputFile null, outputSequence instead
        url = self.functions.output_url(bucket, key) if sequence is None else None
        self.writer.set(postRenderData={
            "cost": {
                "currency": currency,
                "disclaimer": POST_RENDER_COST_DISCLAIMER,
                "estimatedCost": cost,
                "estimatedDisplayCost": format_final_cost(cost, currency),
            },
            "outputFile": url,
            # 4.0.535+ (create-post-render-data.ts): both, null for a media render
            **({"separateAudio": None, "outputSequence": sequence}
               if "framesUploaded" in self.state else {}),
            "timeToFinish": end - self.started,
            "errors": errors,
            "startTime": self.started,
            "endTime": end,
            "outputSize": size,
            "renderSize": size,
            "filesCleanedUp": 0,
            "timeToEncode": self.state.get("timeToEncode"),
            "timeToCleanUp": 0,
            "timeToRenderChunks": max(0, max(chunk_times) - min(starts)),
            "timeToRenderFrames": self.state.get("timeToRenderFrames"),
            "retriesInfo": self.state["retries"],
            "mostExpensiveFrameRanges": expensive,
            "deleteAfter": self.params.get("deleteAfter"),
            "estimatedBillingDurationInMilliseconds": billing,
            "timeToCombine": self.state.get("timeToCombine"),
            "artifactProgress": [],
        })
        await self.writer.write_now()
        if self.input_props_key:
            await self.functions.delete_object(self.bucket, self.input_props_key)
        await self._webhook("success", outputUrl=url, lambdaErrors=errors, outputFile=url,
                            timeToFinish=end - self.started,
                            costs=self.state["postRenderData"]["cost"])

    # ------------------------------------------------------------ failure paths

    async def _fail(self, message: str) -> None:
        if self.state.get("fatalErrorTimestamp") is None:
            self.state["fatalErrorTimestamp"] = now_ms()
        self.state["errors"].append(self._error(type_="stitcher", message=message, chunk=None,
                                                fatal=True))
        self.writer.touch()
        await self.writer.write_now()
        if self.params.get("enableCancellation"):
            await self._write_cancel_json()
        await self._webhook("error", errors=[{"message": message, "name": "Error",
                                              "stack": f"Error: {message}"}])

    async def _write_cancel_json(self) -> None:
        await self.functions.s3.put_object(
            Bucket=self.bucket, Key=cancel_key(self.render_id),
            Body=json.dumps({"cancelledAt": now_ms()}).encode(), ACL="private",
        )

    async def _webhook(self, status: str, **extra: Any) -> None:
        hook = self.params.get("webhook")
        if not hook or self.webhook_sent:
            return
        self.webhook_sent = True
        payload = webhook_payload(
            status, render_id=self.render_id,
            expected_bucket_owner=self.functions.account_id, bucket_name=self.bucket,
            custom_data=hook.get("customData"), **extra,
        )
        error = await send_webhook(hook["url"], hook.get("secret"), payload,
                                   session=self.functions.http)
        if error is not None:
            self.state["errors"].append(self._error(type_="webhook", message=error, chunk=None,
                                                    fatal=False))
            self.writer.frozen = False
            self.writer.touch()
            await self.writer.write_now()


class _ChunkError(Exception):
    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable

    @classmethod
    def of(cls, fault: ChunkFault, frame: int) -> _ChunkError:
        """The error an armed chunk fault raises at ``frame``."""
        return cls(fault.message or ("Target closed" if fault.retryable
                                     else f"Could not render frame {frame}"), fault.retryable)


__all__ = ["LaunchJob", "RenderFailure"]
