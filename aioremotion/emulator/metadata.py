"""``renderMetadata`` of an emulated render: what the launch decided, as Remotion's launch
writes it into progress.json once the composition is validated (docs/PROTOCOL.md section
8.1). An image sequence (4.0.535+) has ``type: "sequence"``, ``codec: null`` and its
``outputSequence`` (docs/PROTOCOL.md section 4.4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..protocol.chunks import ChunkPlan
    from .launch import LaunchJob
    from .media import Composition

__all__ = ["render_metadata"]


def render_metadata(job: LaunchJob, *, plan: ChunkPlan, composition: Composition,
                    frame_range: tuple[int, int], every_nth: int, codec: str, single: bool,
                    size: tuple[int, int], scale: float) -> dict[str, Any]:
    """The render's metadata; ``size`` is the composition's (forced) size at scale 1."""
    p, functions, seq = job.params, job.functions, job.sequence
    width, height = size
    metadata: dict[str, Any] = {
        "outputFileIsConditional": not p.get("overwrite"),
        "startedDate": job.started,
        "totalChunks": plan.total_chunks,
        "estimatedTotalLambdaInvokations": (0 if single else plan.total_chunks) + 1,
        "estimatedRenderLambdaInvokations": 0 if single else plan.total_chunks,
        "compositionId": composition.id,
        "siteId": functions.resolve_serve_url(p.get("serveUrl", "")),
        "codec": codec if seq is None else None,
        "type": "video" if seq is None else "sequence",
        "imageFormat": p.get("imageFormat"),
        "inputProps": p.get("inputProps"),
        "lambdaVersion": functions.version_of(job.function_name),
        "framesPerLambda": plan.frames_per_lambda,
        "memorySizeInMb": functions.memory_of(job.function_name),
        "region": functions.region,
        "renderId": job.render_id,
        "privacy": p.get("privacy"),
        "everyNthFrame": every_nth,
        "frameRange": list(frame_range),
        "audioCodec": p.get("audioCodec"),
        "deleteAfter": p.get("deleteAfter"),
        "numberOfGifLoops": p.get("numberOfGifLoops"),
        "downloadBehavior": p.get("downloadBehavior"),
        "audioBitrate": p.get("audioBitrate"),
        "muted": bool(p.get("muted")),
        "metadata": p.get("metadata"),
        "functionName": job.function_name,
        "dimensions": {"width": round(width * scale), "height": round(height * scale)},
        "rendererFunctionName": p.get("rendererFunctionName") or job.function_name,
        "scale": scale,
    }
    if seq is not None:  # where the frames go (create-post-render-data reads it back)
        metadata["outputSequence"] = seq.output_sequence(
            functions.output_url(seq.bucket, seq.manifest_key))
    out_name = p.get("outName")
    if isinstance(out_name, str):
        metadata["outName"] = out_name
    elif isinstance(out_name, dict):
        metadata["outName"] = {
            "bucketName": out_name.get("bucketName"), "key": out_name.get("key"),
            **({"s3OutputProvider": {"endpoint": out_name["s3OutputProvider"]["endpoint"]}}
               if out_name.get("s3OutputProvider") else {}),
        }
    return metadata
