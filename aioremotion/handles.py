"""What a started render is known by: small, typed, serialisable values.

A :class:`RenderHandle` is all another process needs to follow a render (render id, bucket,
region, function, its timeout, where the output lands). It serialises with the JS client's
camelCase names, so ``handle.model_dump(by_alias=True)`` is also the ``renderMediaOnLambda``
result a JavaScript front end expects.

Example:
    >>> h = RenderHandle(render_id="k1a2b3c4d5", bucket_name="remotionlambda-useast1-abc",
    ...                  region="us-east-1",
    ...                  function_name="remotion-render-4-0-527-mem2048mb-disk2048mb-120sec")
    >>> RenderHandle.model_validate_json(h.model_dump_json()) == h
    True
    >>> h.timeout_ms
    120000
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .errors import InvalidOptionsError, InvalidReplyError
from .protocol.naming import (
    check_bucket_name,
    check_render_id,
    launch_logs_url,
    parse_function_name,
    progress_json_console_url,
    renderer_logs_url,
    s3_folder_console_url,
    still_logs_url,
)
from .protocol.options import RenderFramesOptions, RenderMediaOptions
from .protocol.progress import CostsInfo, ProgressContext


class _Value(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class RenderHandle(_Value):
    """A started video/audio/GIF render, or image sequence (``out_key``: its manifest)."""

    render_id: str
    bucket_name: str
    region: str
    function_name: str
    #: The function's timeout and memory as given (``None``: read from its name); the
    #: properties :attr:`timeout_ms` and :attr:`memory_mb` always have a value.
    function_timeout_ms: int | None = None
    #: (Serialised handles of earlier releases call it ``memoryMb``; still read.)
    function_memory_mb: int | None = Field(
        default=None, validation_alias=AliasChoices(
            "function_memory_mb", "functionMemoryMb", "memory_mb", "memoryMb"))
    renderer_function_name: str | None = None
    #: Where the output will be, when known at start (custom out names may differ).
    out_bucket: str | None = None
    out_key: str | None = None
    cancellation_enabled: bool = False
    #: ms since the epoch when the start call returned (the client's clock).
    started_at_ms: float | None = None

    @classmethod
    def started(cls, options: RenderMediaOptions | RenderFramesOptions, *, render_id: str,
                bucket_name: str, region: str, function_name: str, out_bucket: str,
                out_key: str, started_at_ms: float) -> RenderHandle:
        """The handle of a render a function just accepted with ``options`` (the
        function's timeout and memory read off its name)."""
        spec = parse_function_name(function_name)
        return cls(
            render_id=render_id, bucket_name=bucket_name, region=region,
            function_name=function_name, function_timeout_ms=spec.timeout_ms if spec else None,
            function_memory_mb=spec.memory_mb if spec else None,
            renderer_function_name=options.renderer_function_name, out_bucket=out_bucket,
            out_key=out_key, cancellation_enabled=options.enable_cancellation,
            started_at_ms=started_at_ms)

    @property
    def timeout_ms(self) -> int:
        """The function timeout in ms (from the name when not set; 900 s if unknown)."""
        if self.function_timeout_ms is not None:
            return self.function_timeout_ms
        spec = parse_function_name(self.function_name)
        return spec.timeout_ms if spec else 900_000

    @property
    def memory_mb(self) -> int:
        """The function memory in MB (from the name when not set; 2048 if unknown)."""
        if self.function_memory_mb is not None:
            return self.function_memory_mb
        spec = parse_function_name(self.function_name)
        return spec.memory_mb if spec else 2048

    def progress_context(self) -> ProgressContext:
        """What the progress computation (and the watch machine) needs to know about this
        render: where it is, and its function's timeout and memory.

        >>> RenderHandle(render_id="k1a2b3c4d5", bucket_name="b-b-b", region="eu-west-1",
        ...              function_name="remotion-render-4-0-527-mem2048mb-disk2048mb-120sec"
        ...              ).progress_context().timeout_ms
        120000
        """
        return ProgressContext(
            render_id=self.render_id,
            bucket_name=self.bucket_name,
            region=self.region,
            function_name=self.function_name,
            timeout_ms=self.timeout_ms,
            memory_mb=self.memory_mb,
        )

    @property
    def cloud_watch_logs(self) -> str:
        """CloudWatch logs of the renderer invocations."""
        return renderer_logs_url(
            self.region, self.renderer_function_name or self.function_name, self.render_id
        )

    @property
    def cloud_watch_main_logs(self) -> str:
        """CloudWatch logs of the main (launch) invocation."""
        return launch_logs_url(self.region, self.function_name, self.render_id)

    @property
    def folder_in_s3_console(self) -> str:
        return s3_folder_console_url(self.region, self.bucket_name, self.render_id)

    @property
    def progress_json_in_console(self) -> str:
        return progress_json_console_url(self.region, self.bucket_name, self.render_id)

    @property
    def lambda_insights_logs(self) -> str:
        from .protocol.naming import lambda_insights_url

        return lambda_insights_url(self.region, self.function_name)

    def js_result(self) -> dict[str, Any]:
        """The object ``renderMediaOnLambda`` resolves to in JavaScript."""
        return {
            "renderId": self.render_id,
            "bucketName": self.bucket_name,
            "cloudWatchLogs": self.cloud_watch_logs,
            "cloudWatchMainLogs": self.cloud_watch_main_logs,
            "folderInS3Console": self.folder_in_s3_console,
            "lambdaInsightsLogs": self.lambda_insights_logs,
            "progressJsonInConsole": self.progress_json_in_console,
        }


class StillResult(_Value):
    """A finished still render (stills finish within their one invocation)."""

    render_id: str
    bucket_name: str
    url: str
    out_key: str
    size_in_bytes: int
    estimated_price: CostsInfo
    cloud_watch_logs: str = ""
    artifacts: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def from_reply(cls, reply: dict[str, Any], *, region: str,
                   function_name: str) -> StillResult:
        """The result a still render's reply describes; :class:`InvalidReplyError` when
        the reply lacks something."""
        try:
            render_id = str(reply["renderId"])
            return cls(
                render_id=render_id, bucket_name=str(reply["bucketName"]),
                url=str(reply["output"]), out_key=str(reply["outKey"]),
                size_in_bytes=int(reply.get("size", reply.get("sizeInBytes", 0))),
                estimated_price=reply["estimatedPrice"],
                cloud_watch_logs=still_logs_url(region, function_name, render_id),
                artifacts=list(reply.get("receivedArtifacts") or []))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidReplyError(
                f"{function_name} answered the still render without {exc}: {str(reply)[:200]}"
            ) from None


def handle_for(render: RenderHandle | str, bucket_name: str | None, *, region: str,
               function_name: str) -> RenderHandle:
    """The handle of ``render``: itself, or a render id in ``bucket_name`` with the given
    region and function (what a client fills in for a render known only by its id).

    Example:
        >>> handle_for("k1a2b3c4d5", "remotionlambda-useast1-abc", region="us-east-1",
        ...            function_name="remotion-render-4-0-527-mem2048mb-disk2048mb-120sec"
        ...            ).timeout_ms
        120000
    """
    if isinstance(render, RenderHandle):
        return render
    if bucket_name is None:
        raise InvalidOptionsError(
            [("bucket_name", "is required with a render id: pass the bucketName the "
                             "render call returned (or pass the RenderHandle itself)")])
    return RenderHandle(render_id=check_render_id(render),
                        bucket_name=check_bucket_name(bucket_name), region=region,
                        function_name=function_name)
