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
from .protocol.options import CompositionsOptions, RenderMediaOptions, RenderStillOptions
from .protocol.props import InlineProps, UploadedProps, plan_input_props
from .protocol.versions import check_options_for_version
from .transport.base import Transport

__all__ = ["prepare_input_props"]

_PAYLOAD_TYPE = {"media": "start", "still": "still", "compositions": "compositions"}


async def prepare_input_props(
    options: RenderMediaOptions | RenderStillOptions | CompositionsOptions,
    *,
    kind: Literal["media", "still", "compositions"],
    version: str,
    transport: Transport,
    buckets: RenderBuckets,
) -> tuple[InlineProps | UploadedProps, str | None]:
    """The props as the payload carries them, and the bucket the call must name: the
    forced one, or (when the props were uploaded) the region's render bucket.

    Raises :class:`~aioremotion.errors.InvalidOptionsError` first, before any upload, for
    options a function of ``version`` cannot carry."""
    check_options_for_version(_PAYLOAD_TYPE[kind], options, version)
    forced = options.force_bucket_name
    plan = plan_input_props(options.input_props_json, kind=kind,
                            env_variables=options.env_variables)
    if isinstance(plan, InlineProps):
        return plan, forced
    bucket = forced or await buckets.get_or_create()
    await transport.put_object(bucket, plan.key, plan.text.encode(), acl="private",
                               content_type="application/json")
    return plan, bucket
