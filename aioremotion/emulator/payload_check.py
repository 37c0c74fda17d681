"""The strict payload check of the emulated functions: a ``start``, ``still``, ``status`` or
``compositions`` payload must carry the keys the function of its version reads.

The rule (``EmulatorConfig(strict_payloads=True)``, the default):

* a key the function of that version reads and the payload lacks is an error: on Lambda
  the function would read ``undefined`` where its own client always sends a value;
* a key that only a *later* version's client sends (``enableCancellation`` to a 4.0.491
  function, say) is an error too: that function would silently ignore the option;
* any other extra key is accepted, as a real function ignores keys it does not know (the
  official Python SDK's ``chromiumOptions`` and ``forcePathStyle``, a removed ``apiKey``,
  a future ``chunks``).

Values are not checked (the Python SDK's ``outName`` object with snake_case keys,
``metadata: {}``, ``streamed: false`` all pass). Versions outside
``MIN_SUPPORTED_VERSION`` … ``MAX_SUPPORTED_VERSION`` are not checked: their key sets are
unknown. Which keys each version sends comes from
:data:`aioremotion.protocol.versions.FIELD_RULES` (the keys that change between versions)
and the keys every captured version sends (below), both from the captured records of
``tests/conformance/records``.

Example:
    >>> payload = {"type": "status", "bucketName": "b", "renderId": "r", "version": "4.0.491",
    ...            "logLevel": "info", "forcePathStyle": False}
    >>> problem = payload_problem(payload, "4.0.491")
    >>> print(problem.split(": ", 1)[1].split(" (")[0])
    it lacks s3OutputProvider, which that version reads
    >>> payload_problem({**payload, "s3OutputProvider": None}, "4.0.491") is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..protocol.versions import (
    FIELD_RULES,
    MAX_SUPPORTED_VERSION,
    MIN_SUPPORTED_VERSION,
    Version,
    parse_version,
)

__all__ = ["CHECKED_ROUTINES", "expected_keys", "payload_problem"]

_API: Final = {"start": "renderMediaOnLambda()", "still": "renderStillOnLambda()",
               "status": "getRenderProgress()", "compositions": "getCompositionsOnLambda()"}
#: The routines whose payload keys are checked.
CHECKED_ROUTINES: Final = frozenset(_API)

# The keys every captured version (4.0.403 … 4.0.527 JS, 4.0.539 Python SDK) sends;
# compositions: the JS captures of 4.0.403 … 4.0.527 (records/versions/*/compositions-cases.json).
_ALWAYS: Final[dict[str, frozenset[str]]] = {
    "start": frozenset({
        "type", "version", "rendererFunctionName", "framesPerLambda", "concurrency",
        "composition", "serveUrl", "inputProps", "codec", "imageFormat", "crf",
        "envVariables", "pixelFormat", "proResProfile", "x264Preset", "jpegQuality",
        "maxRetries", "privacy", "logLevel", "frameRange", "outName",
        "timeoutInMilliseconds", "chromiumOptions", "scale", "everyNthFrame",
        "numberOfGifLoops", "concurrencyPerLambda", "downloadBehavior", "muted", "overwrite",
        "audioBitrate", "videoBitrate", "encodingBufferSize", "encodingMaxRate", "webhook",
        "forceHeight", "forceWidth", "bucketName", "audioCodec",
        "offthreadVideoCacheSizeInBytes", "deleteAfter", "colorSpace", "preferLossless",
        "forcePathStyle", "metadata", "licenseKey", "offthreadVideoThreads",
        "mediaCacheSizeInBytes", "storageClass",
    }),
    "still": frozenset({
        "type", "version", "composition", "serveUrl", "inputProps", "imageFormat",
        "envVariables", "jpegQuality", "maxRetries", "frame", "privacy", "attempt",
        "logLevel", "outName", "timeoutInMilliseconds", "chromiumOptions", "scale",
        "downloadBehavior", "forceHeight", "forceWidth", "bucketName",
        "offthreadVideoCacheSizeInBytes", "deleteAfter", "streamed", "forcePathStyle",
        "licenseKey", "offthreadVideoThreads", "mediaCacheSizeInBytes", "storageClass",
    }),
    "status": frozenset({
        "type", "version", "bucketName", "renderId", "logLevel", "s3OutputProvider",
        "forcePathStyle",
    }),
    "compositions": frozenset({
        "type", "chromiumOptions", "serveUrl", "envVariables", "inputProps", "logLevel",
        "timeoutInMilliseconds", "version", "bucketName", "offthreadVideoCacheSizeInBytes",
        "forcePathStyle", "mediaCacheSizeInBytes",
    }),
}

def _known(version: str) -> Version | None:
    try:
        parsed = parse_version(version)
    except ValueError:
        return None
    low, high = parse_version(MIN_SUPPORTED_VERSION), parse_version(MAX_SUPPORTED_VERSION)
    return parsed if low <= parsed <= high else None


def expected_keys(routine: str, version: str) -> frozenset[str] | None:
    """The keys the official client of ``version`` sends in a ``routine`` payload, or
    ``None`` when they are not known (another routine, a version outside the table).

    Example:
        >>> sorted(expected_keys("start", "4.0.403") - expected_keys("start", "4.0.431"))
        ['apiKey']
        >>> expected_keys("info", "4.0.527") is None
        True
    """
    parsed = _known(version)
    if parsed is None or routine not in _ALWAYS:
        return None
    keys = set(_ALWAYS[routine])
    keys.update(rule.key for rule in FIELD_RULES
                if rule.payload == routine and rule.sent_by(parsed))
    return frozenset(keys)


def _too_new(routine: str, version: Version) -> dict[str, str]:
    """Keys only later versions send, with the version that added each."""
    out: dict[str, str] = {}
    for rule in FIELD_RULES:
        since = rule.since
        if rule.payload == routine and since is not None and version < parse_version(since):
            out[rule.key] = since
    return out


def payload_problem(payload: Mapping[str, Any], version: str) -> str | None:
    """Why ``payload`` does not fit the function of ``version`` (``None``: it does)."""
    routine = str(payload.get("type"))
    expected = expected_keys(routine, version)
    parsed = _known(version)
    if expected is None or parsed is None:
        return None
    missing = sorted(expected - set(payload))
    newer = _too_new(routine, parsed)
    unread = sorted(key for key in payload if key in newer)
    if not missing and not unread:
        return None
    parts = []
    if missing:
        parts.append(f"it lacks {', '.join(missing)}, which that version reads")
    if unread:
        named = ", ".join(f"{key} (sent from {newer[key]} on)" for key in unread)
        parts.append(f"it has {named}, which that version does not read: the option "
                     "would be silently ignored")
    return (f"The {_API[routine]} payload does not fit a Remotion {version} function: "
            f"{'; '.join(parts)} (aioremotion emulator, strict_payloads; set "
            "EmulatorConfig(strict_payloads=False) to relax)")
