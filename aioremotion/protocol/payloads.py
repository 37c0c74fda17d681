"""Lambda payloads, key for key what the official JS client sends (docs/PROTOCOL.md section 5).

Each builder builds the newest payload; :func:`~.versions.payload_for_version` fits it to
the ``version`` asked for (the keys that version sends, and no others), and options that
version cannot carry raise :class:`~aioremotion.errors.InvalidOptionsError`.

Example:
    >>> from aioremotion.protocol.options import RenderMediaOptions
    >>> from aioremotion.protocol.props import plan_input_props
    >>> opts = RenderMediaOptions(serve_url="my-site", composition="MyComp", codec="h264")
    >>> props = plan_input_props(opts.input_props_json, kind="media",
    ...                          env_variables=opts.env_variables)
    >>> payload = build_start_payload(opts, version="4.0.527", props=props, bucket_name=None)
    >>> payload["type"], payload["everyNthFrame"], payload["inputProps"]
    ('start', 1, {'type': 'payload', 'payload': '{}'})
"""

from __future__ import annotations

from typing import Any

from .options import (
    CompositionsOptions,
    ProgressOptions,
    RenderFramesOptions,
    RenderMediaOptions,
    RenderStillOptions,
)
from .props import InlineProps, UploadedProps
from .versions import check_frames_for_version, check_options_for_version, payload_for_version


def _serialized_props(props: InlineProps | UploadedProps, bucket_name: str | None) -> Any:
    if isinstance(props, UploadedProps):
        if bucket_name is None:
            raise ValueError(
                "uploaded input props need the bucket they were uploaded to (bucket_name)"
            )
        return props.to_payload(bucket_name)
    return props.to_payload()


def _secret(value: Any) -> Any:
    return value.get_secret_value() if value is not None else None


def _media_values(o: RenderMediaOptions) -> dict[str, Any]:
    """The values of the keys only media renders set (image sequences send defaults)."""
    return {
        "codec": o.codec, "crf": o.crf, "pixelFormat": o.pixel_format,
        "proResProfile": o.prores_profile, "x264Preset": o.x264_preset,
        "gopSize": o.gop_size, "jpegQuality": o.jpeg_quality, "outName": o.out_name_payload(),
        "numberOfGifLoops": o.number_of_gif_loops, "muted": o.muted,
        "audioBitrate": o.audio_bitrate, "videoBitrate": o.video_bitrate,
        "encodingBufferSize": o.encoding_buffer_size, "encodingMaxRate": o.encoding_max_rate,
        "audioCodec": o.audio_codec, "colorSpace": o.color_space,
        "preferLossless": o.prefer_lossless,
        "metadata": dict(o.metadata) if o.metadata is not None else None,
        "sampleRate": o.sample_rate, "output": {"type": "media"},
        "disableSharedMemoryCapture": o.disable_shared_memory_capture,
        "separateAudioTo": o.separate_audio_to,
    }


#: What ``renderFramesOnLambda`` sends for the media-only keys: ``codec: null``,
#: ``muted: true``, ``outName`` and ``numberOfGifLoops`` null, the rest at the defaults
#: ``renderMediaOnLambda`` fills in (those of :class:`RenderMediaOptions`).
_FRAMES_MEDIA_DEFAULTS: dict[str, Any] = {
    "codec": None, "crf": None, "pixelFormat": None, "proResProfile": None,
    "x264Preset": None, "gopSize": None, "outName": None, "numberOfGifLoops": None,
    "muted": True, "audioBitrate": None, "videoBitrate": None, "encodingBufferSize": None,
    "encodingMaxRate": None, "audioCodec": None, "colorSpace": None, "preferLossless": False,
    "metadata": None, "sampleRate": 48000, "disableSharedMemoryCapture": False,
    "separateAudioTo": None,
}


def _start_payload(o: RenderMediaOptions | RenderFramesOptions, m: dict[str, Any], *,
                   version: str, props: InlineProps | UploadedProps,
                   bucket: str | None) -> dict[str, Any]:
    """The ``type:"start"`` payload in the JS client's key order: the options both render
    kinds share from ``o``, the media-only keys from ``m``."""
    return payload_for_version({
        "enableCancellation": o.enable_cancellation,
        "rendererFunctionName": o.renderer_function_name,
        "framesPerLambda": o.frames_per_lambda,
        "concurrency": o.concurrency,
        "composition": o.composition,
        "serveUrl": o.serve_url,
        "inputProps": _serialized_props(props, bucket),
        "codec": m["codec"],
        "imageFormat": o.image_format,
        "crf": m["crf"],
        "envVariables": dict(o.env_variables),
        "pixelFormat": m["pixelFormat"],
        "proResProfile": m["proResProfile"],
        "x264Preset": m["x264Preset"],
        "gopSize": m["gopSize"],
        "jpegQuality": m["jpegQuality"],
        "maxRetries": o.max_retries,
        "privacy": o.privacy,
        "logLevel": o.log_level,
        "frameRange": list(o.frame_range) if isinstance(o.frame_range, tuple) else o.frame_range,
        "outName": m["outName"],
        "timeoutInMilliseconds": o.timeout_in_milliseconds,
        "chromiumOptions": o.chromium_options.to_payload(),
        "scale": o.scale,
        "everyNthFrame": o.every_nth_frame,
        "numberOfGifLoops": m["numberOfGifLoops"],
        "concurrencyPerLambda": o.concurrency_per_lambda,
        "downloadBehavior": o.download_behavior.to_payload(),
        "muted": m["muted"],
        "version": version,
        "overwrite": o.overwrite,
        "audioBitrate": m["audioBitrate"],
        "videoBitrate": m["videoBitrate"],
        "encodingBufferSize": m["encodingBufferSize"],
        "encodingMaxRate": m["encodingMaxRate"],
        "webhook": o.webhook.to_payload() if o.webhook is not None else None,
        "forceHeight": o.force_height,
        "forceWidth": o.force_width,
        "forceFps": o.force_fps,
        "forceDurationInFrames": o.force_duration_in_frames,
        "bucketName": bucket,
        "audioCodec": m["audioCodec"],
        "type": "start",
        "offthreadVideoCacheSizeInBytes": o.offthread_video_cache_size_in_bytes,
        "deleteAfter": o.delete_after,
        "colorSpace": m["colorSpace"],
        "preferLossless": m["preferLossless"],
        "forcePathStyle": o.force_path_style,
        "metadata": m["metadata"],
        "licenseKey": _secret(o.license_key),
        "offthreadVideoThreads": o.offthread_video_threads,
        "mediaCacheSizeInBytes": o.media_cache_size_in_bytes,
        "storageClass": o.storage_class,
        "isProduction": o.is_production,
        "sampleRate": m["sampleRate"],
        "output": m["output"],
        "disableSharedMemoryCapture": m["disableSharedMemoryCapture"],
        "separateAudioTo": m["separateAudioTo"],
    }, version)


def build_start_payload(
    options: RenderMediaOptions,
    *,
    version: str,
    props: InlineProps | UploadedProps,
    bucket_name: str | None,
) -> dict[str, Any]:
    """The ``type:"start"`` payload of ``renderMediaOnLambda``.

    ``bucket_name`` is the render bucket to force: ``options.force_bucket_name``, or the
    bucket large props were uploaded to (the function reads them from its render bucket).
    """
    check_options_for_version("start", options, version)
    bucket = bucket_name if bucket_name is not None else options.force_bucket_name
    return _start_payload(options, _media_values(options), version=version, props=props,
                          bucket=bucket)


def build_frames_payload(
    options: RenderFramesOptions,
    *,
    version: str,
    props: InlineProps | UploadedProps,
    bucket_name: str | None,
) -> dict[str, Any]:
    """The ``type:"start"`` payload of ``renderFramesOnLambda`` (Remotion 4.0.535+).

    The start payload of a media render with ``codec: null``, ``muted: true`` and
    ``output: {type: "sequence", outputPrefix, imageSequencePattern}``; a function older
    than 4.0.535 is refused (:func:`~.versions.check_frames_for_version`).

    Example:
        >>> from aioremotion.protocol.options import RenderFramesOptions
        >>> from aioremotion.protocol.props import InlineProps
        >>> opts = RenderFramesOptions(serve_url="my-site", composition="MyComp",
        ...                            output_prefix="exports/seq")
        >>> p = build_frames_payload(opts, version="4.0.539", props=InlineProps("{}"),
        ...                          bucket_name=None)
        >>> p["codec"], p["muted"], p["imageFormat"], p["jpegQuality"], p["output"]
        (None, True, 'png', 80, {'type': 'sequence', 'outputPrefix': 'exports/seq', \
'imageSequencePattern': None})
    """
    check_frames_for_version(options, version)
    bucket = bucket_name if bucket_name is not None else options.force_bucket_name
    media = {
        **_FRAMES_MEDIA_DEFAULTS,
        "jpegQuality": options.jpeg_quality if options.jpeg_quality is not None else 80,
        "output": {"type": "sequence", "outputPrefix": options.output_prefix_payload(),
                   "imageSequencePattern": options.image_sequence_pattern},
    }
    return _start_payload(options, media, version=version, props=props, bucket=bucket)


def build_still_payload(
    options: RenderStillOptions,
    *,
    version: str,
    props: InlineProps | UploadedProps,
    bucket_name: str | None,
    streamed: bool,
) -> dict[str, Any]:
    """The ``type:"still"`` payload of ``renderStillOnLambda``.

    ``streamed`` is ``True`` for InvokeWithResponseStream (every region but China's).
    """
    o = options
    check_options_for_version("still", o, version)
    bucket = bucket_name if bucket_name is not None else o.force_bucket_name
    return payload_for_version({
        "type": "still",
        "composition": o.composition,
        "serveUrl": o.serve_url,
        "inputProps": _serialized_props(props, bucket),
        "imageFormat": o.image_format,
        "envVariables": dict(o.env_variables),
        "jpegQuality": o.jpeg_quality,
        "maxRetries": o.max_retries,
        "frame": o.frame,
        "privacy": o.privacy,
        "attempt": o.attempt,
        "logLevel": o.effective_log_level,
        "outName": o.out_name_payload(),
        "timeoutInMilliseconds": o.timeout_in_milliseconds,
        "chromiumOptions": o.chromium_options.to_payload(),
        "scale": o.scale,
        "downloadBehavior": o.download_behavior.to_payload(),
        "version": version,
        "forceHeight": o.force_height,
        "forceWidth": o.force_width,
        "forceFps": o.force_fps,
        "forceDurationInFrames": o.force_duration_in_frames,
        "bucketName": bucket,
        "offthreadVideoCacheSizeInBytes": o.offthread_video_cache_size_in_bytes,
        "deleteAfter": o.delete_after,
        "streamed": streamed,
        "forcePathStyle": o.force_path_style,
        "licenseKey": _secret(o.license_key),
        "offthreadVideoThreads": o.offthread_video_threads,
        "mediaCacheSizeInBytes": o.media_cache_size_in_bytes,
        "storageClass": o.storage_class,
        "isProduction": o.is_production,
    }, version)


def build_status_payload(options: ProgressOptions, *, version: str) -> dict[str, Any]:
    """The ``type:"status"`` payload of ``getRenderProgress``."""
    provider = options.s3_output_provider
    return payload_for_version({
        "type": "status",
        "bucketName": options.bucket_name,
        "renderId": options.render_id,
        "version": version,
        "s3OutputProvider": provider.to_payload() if provider is not None else None,
        "logLevel": options.log_level,
        "forcePathStyle": options.force_path_style,
    }, version)


def build_info_payload(log_level: str = "info") -> dict[str, Any]:
    """The ``type:"info"`` payload: the function answers with its Remotion version."""
    return {"type": "info", "logLevel": log_level}


def build_compositions_payload(
    options: CompositionsOptions,
    *,
    version: str,
    props: InlineProps | UploadedProps,
    bucket_name: str | None,
) -> dict[str, Any]:
    """The ``type:"compositions"`` payload of ``getCompositionsOnLambda``."""
    o = options
    check_options_for_version("compositions", o, version)
    bucket = bucket_name if bucket_name is not None else o.force_bucket_name
    return payload_for_version({
        "type": "compositions",
        "chromiumOptions": o.chromium_options.to_payload(),
        "serveUrl": o.serve_url,
        "envVariables": dict(o.env_variables),
        "inputProps": _serialized_props(props, bucket),
        "logLevel": o.log_level,
        "timeoutInMilliseconds": o.timeout_in_milliseconds,
        "version": version,
        "bucketName": bucket,
        "offthreadVideoCacheSizeInBytes": o.offthread_video_cache_size_in_bytes,
        "forcePathStyle": o.force_path_style,
        "mediaCacheSizeInBytes": o.media_cache_size_in_bytes,
    }, version)
