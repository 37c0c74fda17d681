"""Which Remotion version a deployed function runs: asked once per function, then cached.

A function accepts only payloads of its own version. ``RemotionLambda(remotion_version=
"auto")`` (CLI: ``--remotion-version auto``, env ``REMOTION_VERSION=auto``) asks each
function it calls for its version (the ``info`` routine, one invocation) the first time it
needs it, and builds every payload for that version (:mod:`aioremotion.protocol.versions`).
Concurrent first calls share one question. A version outside the range aioremotion knows
is refused before any render starts.

Example::

    async with RemotionLambda(remotion_version="auto",
                              function_name="remotion-render-4-0-491-mem2048mb-disk2048mb-120sec"
                              ) as remotion:
        render = await remotion.render_media(serve_url="my-site", composition="Card",
                                             codec="h264")   # a 4.0.491 payload
"""

from __future__ import annotations

from typing import Final

import anyio

from .errors import InvalidOptionsError, InvalidReplyError, RemotionFunctionError
from .invoking import Invoker
from .protocol.payloads import build_info_payload
from .protocol.versions import MAX_SUPPORTED_VERSION, MIN_SUPPORTED_VERSION, is_supported_version

__all__ = ["AUTO", "FunctionVersions", "require_function_name_for_auto"]

#: The ``remotion_version`` that means "ask the function".
AUTO: Final = "auto"


def require_function_name_for_auto(version: str, function_name: str | None) -> None:
    """Refuse ``remotion_version="auto"`` without a function name: the default name is
    built from the version, so there would be nothing to ask.

    Example:
        >>> require_function_name_for_auto("auto", None)
        Traceback (most recent call last):
        ...
        aioremotion.errors.InvalidOptionsError: Invalid options:
          remotion_version: "auto" asks the function for its version, so it needs the function's name: pass function_name="remotion-render-..." (or set REMOTION_FUNCTION_NAME)
    """  # noqa: E501
    if version == AUTO and not function_name:
        raise InvalidOptionsError([(
            "remotion_version",
            '"auto" asks the function for its version, so it needs the function\'s name: '
            'pass function_name="remotion-render-..." (or set REMOTION_FUNCTION_NAME)')])


class FunctionVersions:
    """The versions of the functions a client calls (one ``info`` each, cached)."""

    def __init__(self, invoker: Invoker) -> None:
        self._invoker = invoker
        self._known: dict[str, str] = {}
        self._locks: dict[str, anyio.Lock] = {}

    async def ask(self, function_name: str) -> str:
        """The function's version, asked now (``info``); ``"n/a"`` for functions too old
        to have the routine."""
        try:
            reply = await self._invoker.call(function_name, build_info_payload(),
                                             routine="info")
        except RemotionFunctionError as exc:
            if "Command not found" in str(exc):
                return "n/a"
            raise
        version = reply.get("version")
        if not isinstance(version, str):
            raise InvalidReplyError(
                f"{function_name} answered info without a version: {str(reply)[:200]}")
        return version

    async def resolve(self, function_name: str, configured: str) -> str:
        """The version to build ``function_name``'s payloads for: ``configured``, or with
        ``"auto"`` the function's own (asked once)."""
        if configured != AUTO:
            return configured
        known = self._known.get(function_name)
        if known is not None:
            return known
        lock = self._locks.setdefault(function_name, anyio.Lock())
        async with lock:
            if function_name not in self._known:
                version = await self.ask(function_name)
                if version == "n/a" or not _supported(version):
                    raise InvalidOptionsError([(
                        "remotion_version",
                        f'"auto": the function {function_name} runs Remotion {version}, but '
                        f"aioremotion builds payloads for {MIN_SUPPORTED_VERSION} to "
                        f"{MAX_SUPPORTED_VERSION} only: deploy a function of a version in "
                        "that range")])
                self._known[function_name] = version
        return self._known[function_name]


def _supported(version: str) -> bool:
    try:
        return is_supported_version(version)
    except InvalidOptionsError:  # not a version at all
        return False
