"""The seam between aioremotion and AWS (see :mod:`aioremotion.transport.base`).

``Transport`` is the interface; :class:`AiobotocoreTransport` talks to AWS (or the
emulator), :class:`MockTransport` keeps everything in memory for unit tests. Both map
every failure to :mod:`aioremotion.errors` in one place (:mod:`.errors`).

Example::

    from aioremotion import RemotionLambda
    from aioremotion.transport import MockTransport

    mock = MockTransport(region="us-east-1")
    mock.reply("info", {"type": "success", "version": "4.0.527"})
    async with RemotionLambda(region="us-east-1", transport=mock) as remotion:
        assert await remotion.function_version() == "4.0.527"
"""

from __future__ import annotations

from .aws import AiobotocoreTransport
from .base import (
    BucketSetting,
    ForeignS3,
    InvokeReply,
    ObjectHead,
    ObjectInfo,
    ObjectPage,
    ObjectRead,
    StreamReply,
    Transport,
    list_all_objects,
)
from .mock import AwsFailure, MockInvocation, MockTransport

__all__ = [
    "AiobotocoreTransport",
    "AwsFailure",
    "BucketSetting",
    "ForeignS3",
    "InvokeReply",
    "MockInvocation",
    "MockTransport",
    "ObjectHead",
    "ObjectInfo",
    "ObjectPage",
    "ObjectRead",
    "StreamReply",
    "Transport",
    "list_all_objects",
]
