"""Input props on their way to the function: inline in the payload, or, when too large,
uploaded to the render bucket (``input-props/<hash>.json``) as Remotion does. Options the
function's version cannot carry are refused first, so nothing is uploaded for a call
that would be refused.

Example::

    props, bucket = await prepare_input_props(options, kind="media", version="4.0.527",
                                              transport=transport, buckets=buckets)
"""

from __future__ import annotations

from typing import Literal

from .buckets import RenderBuckets
from .protocol.options import (
    CompositionsOptions,
    RenderFramesOptions,
    RenderMediaOptions,
    RenderStillOptions,
)
from .protocol.props import InlineProps, UploadedProps, plan_input_props
from .protocol.versions import check_frames_for_version, check_options_for_version
from .transport.base import Transport

__all__ = ["prepare_input_props"]

_PAYLOAD_TYPE = {"media": "start", "still": "still", "compositions": "compositions"}


async def prepare_input_props(
    options: RenderMediaOptions | RenderFramesOptions | RenderStillOptions | CompositionsOptions,
    *,
    kind: Literal["media", "frames", "still", "compositions"],
    version: str,
    transport: Transport,
    buckets: RenderBuckets,
) -> tuple[InlineProps | UploadedProps, str | None]:
    """The props as the payload carries them, and the bucket the call must name: the
    forced one, or (when the props were uploaded) the region's render bucket.

    Raises :class:`~aioremotion.errors.InvalidOptionsError` first, before any upload, for
    options a function of ``version`` cannot carry."""
    if kind == "frames":  # an image sequence needs a 4.0.535+ function first of all
        check_frames_for_version(options, version)
    else:
        check_options_for_version(_PAYLOAD_TYPE[kind], options, version)
    forced = options.force_bucket_name
    plan = plan_input_props(options.input_props_json,
                            kind="media" if kind == "frames" else kind,
                            env_variables=options.env_variables)
    if isinstance(plan, InlineProps):
        return plan, forced
    bucket = forced or await buckets.get_or_create()
    await transport.put_object(bucket, plan.key, plan.text.encode(), acl="private",
                               content_type="application/json")
    return plan, bucket
