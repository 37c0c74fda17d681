"""The ``Version mismatch`` texts of real Remotion functions, per version (issue 14).

A function refuses a ``start``, ``still``, ``status`` or ``compositions`` payload whose
``version`` is not its own, with one of two texts: one for a payload without ``version``
(any falsy value), one for a payload of another version. The wording changed across
releases; :data:`MISMATCH_TEXTS` holds each wording once, keyed by the first release that
uses it (see docs/PROTOCOL.md 4.2 for the sources and what is unconfirmed), and
:func:`version_mismatch_text` fills in the function's own.

Example:
    >>> print(version_mismatch_text("status", function_name="fn", function_version="4.0.527",
    ...                             payload={"type": "status", "version": "4.0.491"}))
    ... # doctest: +NORMALIZE_WHITESPACE
    Version mismatch: When calling getRenderProgress(), you passed fn as the function, which
    has the version 4.0.527, but the @remotion/lambda package you used to invoke the function
    has version 4.0.491. Deploy a new function and use it to call getRenderProgress(). See:
    https://www.remotion.dev/docs/lambda/upgrading
    >>> version_mismatch_text("start", function_name="fn", function_version="4.0.527",
    ...                       payload={"type": "start", "version": "4.0.527"}) is None
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..protocol.versions import parse_version

__all__ = ["API_NAMES", "MISMATCH_TEXTS", "MismatchTexts", "version_mismatch_text"]

#: The API each routine's text names (the same in every release checked, 4.0.200 … 4.0.527).
API_NAMES: Final = {
    "start": "renderMediaOnLambda()",
    "still": "renderStillOnLambda()",
    "status": "getRenderProgress()",
    "compositions": "getCompositionsOnLambda()",
}

_LINK: Final = "See: https://www.remotion.dev/docs/lambda/upgrading"
_OTHER_HEAD: Final = (
    "Version mismatch: When calling {api}, you passed {name} as the function, which has the "
    "version {version}, but the @remotion/lambda package you used to invoke the function has "
    "version {sent}. Deploy a new function and use it to call ")
_OLDER: Final = (
    "Version mismatch: When calling {api}, you called the function {name} which has the "
    "version {version} but the @remotion/lambda package is an older version. Deploy a new "
    "function and use it to call {api}. " + _LINK)


@dataclass(frozen=True)
class MismatchTexts:
    """The two texts of one wording (``str.format`` templates).

    Fields: ``{api}`` (see :data:`API_NAMES`), ``{name}`` (the function), ``{version}`` (its
    version), ``{sent}`` (the payload's version), ``{payload}`` (the payload as
    ``JSON.stringify`` writes it).
    """

    without_version: str
    other_version: str


#: (first release, wording), oldest first. Sources and caveats: docs/PROTOCOL.md 4.2.
MISMATCH_TEXTS: Final[tuple[tuple[str, MismatchTexts], ...]] = (
    # Each handler checked on its own and named its own API in both texts (UNCONFIRMED
    # which release was first; still so in @remotion/serverless 4.0.244's compositions).
    ("4.0.0", MismatchTexts(without_version=_OLDER,
                            other_version=_OTHER_HEAD + "{api}. " + _LINK)),
    # One shared check from 4.0.248 (4.0.244, the release before, has none): the
    # other-version text names getRenderProgress() for every routine.
    ("4.0.248", MismatchTexts(without_version=_OLDER,
                              other_version=_OTHER_HEAD + "getRenderProgress(). " + _LINK)),
    # The payload-without-version text quotes the payload (4.0.314 does not; 4.0.320 does,
    # and every release up to 4.0.527 has the same two texts).
    ("4.0.320", MismatchTexts(
        without_version=(
            "Version mismatch: When calling {api}, you called the function {name} which has "
            "the version {version} but the @remotion/lambda package sent an incompatible "
            "payload: {payload}. Expected it to contain {{version: {version}}}"),
        other_version=_OTHER_HEAD + "getRenderProgress(). " + _LINK)),
)


def texts_for(function_version: str) -> MismatchTexts:
    """The wording of a function of ``function_version`` (the newest for an unparsable one).

    >>> texts_for("4.0.314") is MISMATCH_TEXTS[1][1], texts_for("4.0.539") is MISMATCH_TEXTS[2][1]
    (True, True)
    """
    try:
        version = parse_version(function_version)
    except ValueError:
        return MISMATCH_TEXTS[-1][1]
    chosen = MISMATCH_TEXTS[0][1]
    for first, texts in MISMATCH_TEXTS:
        if parse_version(first) <= version:
            chosen = texts
    return chosen


def _js_number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _as_js(value: Any) -> Any:
    """``value`` with integral floats as ints, as ``JSON.stringify`` writes numbers."""
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, Mapping):
        return {key: _as_js(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_js(item) for item in value]
    return value


def json_stringify(payload: Mapping[str, Any]) -> str:
    """``payload`` as ``JSON.stringify`` writes it (no spaces, keys in order).

    >>> json_stringify({"type": "start", "scale": 1.0, "props": {"a": [1, 2.5]}})
    '{"type":"start","scale":1,"props":{"a":[1,2.5]}}'
    """
    return json.dumps(_as_js(payload), separators=(",", ":"), ensure_ascii=False)


def version_mismatch_text(
    routine: str, *, function_name: str, function_version: str, payload: Mapping[str, Any]
) -> str | None:
    """The text a function of ``function_version`` refuses ``payload`` with, or ``None`` when
    the payload's ``version`` is its own (or the routine is not version-checked)."""
    if routine not in API_NAMES:
        return None
    sent = payload.get("version")
    if sent == function_version:
        return None
    texts = texts_for(function_version)
    template = texts.other_version if sent else texts.without_version
    return template.format(api=API_NAMES[routine], name=function_name,
                           version=function_version, sent=sent,
                           payload=json_stringify(payload) if not sent else "")
