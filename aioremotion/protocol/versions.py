"""Which payload field each Remotion 4.0.x version sends: one table, read by the builders.

A deployed function accepts only payloads whose ``version`` is its own, and the keys the
official JS client sends change between versions. The payload builders of
:mod:`.payloads` build the newest payload; :func:`payload_for_version` then drops the keys
the target version does not know and adds back the ones it still had (``apiKey``), as
:data:`FIELD_RULES` says. :func:`check_options_for_version` refuses, before any AWS call,
an option the target version cannot carry (its default value is simply left out).

Example:
    >>> payload_for_version({"type": "start", "gopSize": None, "licenseKey": None}, "4.0.403")
    {'type': 'start', 'apiKey': None, 'licenseKey': None}
    >>> payload_for_version({"type": "start", "gopSize": None, "licenseKey": None}, "4.0.491")
    {'type': 'start', 'gopSize': None, 'licenseKey': None}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel

from ..errors import InvalidOptionsError

#: The oldest version whose payloads this package knows (captured from its JS client).
MIN_SUPPORTED_VERSION: Final = "4.0.403"
#: The newest version whose payloads this package knows.
MAX_SUPPORTED_VERSION: Final = "4.0.542"

_VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")

Version = tuple[int, int, int]


def parse_version(text: str) -> Version:
    """``"4.0.491"`` as a tuple that compares as versions do.

    Example:
        >>> parse_version("4.0.491") < parse_version("4.0.527")
        True
        >>> parse_version("4.0")
        Traceback (most recent call last):
        ...
        aioremotion.errors.InvalidOptionsError: Invalid options:
          remotion_version: must look like 4.0.527 (major.minor.patch); got '4.0'
    """
    match = _VERSION.fullmatch(text)
    if match is None:
        raise InvalidOptionsError(
            [("remotion_version", f"must look like 4.0.527 (major.minor.patch); got {text!r}")])
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch)


def is_supported_version(text: str) -> bool:
    """Whether payloads for ``text`` are known (``MIN_SUPPORTED_VERSION`` … ``MAX``).

    Example:
        >>> is_supported_version("4.0.500"), is_supported_version("4.0.400")
        (True, False)
    """
    low, high = parse_version(MIN_SUPPORTED_VERSION), parse_version(MAX_SUPPORTED_VERSION)
    return low <= parse_version(text) <= high


@dataclass(frozen=True)
class FieldRule:
    """One payload key that not every version sends.

    The key is sent by versions ``since <= v < until`` (``None``: no bound). ``option`` is
    the Python option that fills it: setting it to anything but its default needs a
    version that sends the key. ``value`` and ``before`` are for keys the newest payload
    no longer has: the value older versions send, and the key it is sent in front of.
    """

    payload: str  # the payload's "type"
    key: str
    since: str | None = None
    until: str | None = None
    option: str | None = None
    value: Any = None
    before: str | None = None

    def sent_by(self, version: Version) -> bool:
        """Whether a payload for ``version`` carries the key."""
        if self.since is not None and version < parse_version(self.since):
            return False
        return self.until is None or version < parse_version(self.until)


# Evidence: tests/conformance/records (4.0.527, JS) and records/versions: JS clients
# 4.0.403, 4.0.431, 4.0.451, 4.0.491, 4.0.508, 4.0.520 (all 18 cases each), the Python SDK
# 4.0.539, and the capture tool's scan of releases between 4.0.403 and 4.0.527
# (media-minimal and still-png each; tests/conformance/records/versions/README.md), which
# pins the first release that sends each key. Keys newer than 4.0.527 (no JS client on
# npm yet) come from the SDK capture.
_SEEN_535: Final = "4.0.535"  # absent in 4.0.527; seen in 4.0.539 (SDK); records/versions
#                               README: "4.0.535 and later ... add" (Remotion's launch handler)

FIELD_RULES: Final[tuple[FieldRule, ...]] = (
    # ----- start (renderMediaOnLambda)
    FieldRule("start", "forceFps", since="4.0.425", option="force_fps"),
    FieldRule("start", "forceDurationInFrames", since="4.0.425",
              option="force_duration_in_frames"),
    FieldRule("start", "gopSize", since="4.0.466", option="gop_size"),
    FieldRule("start", "isProduction", since="4.0.410", option="is_production"),
    FieldRule("start", "sampleRate", since="4.0.448", option="sample_rate"),
    # Also Remotion's docs: "Cancelling Lambda renders v4.0.515"
    # (remotion.dev/docs/lambda/cancellation); 4.0.508 is the release before it.
    FieldRule("start", "enableCancellation", since="4.0.515", option="enable_cancellation"),
    FieldRule("start", "output", since=_SEEN_535),
    FieldRule("start", "disableSharedMemoryCapture", since=_SEEN_535,
              option="disable_shared_memory_capture"),
    FieldRule("start", "separateAudioTo", since=_SEEN_535, option="separate_audio_to"),
    # Always null, next to licenseKey, up to the release before isProduction came.
    FieldRule("start", "apiKey", until="4.0.410", value=None, before="licenseKey"),
    # ----- still (renderStillOnLambda)
    FieldRule("still", "forceFps", since="4.0.425", option="force_fps"),
    FieldRule("still", "forceDurationInFrames", since="4.0.425",
              option="force_duration_in_frames"),
    FieldRule("still", "isProduction", since="4.0.410", option="is_production"),
    FieldRule("still", "apiKey", until="4.0.410", value=None, before="licenseKey"),
    # status, info and compositions: no key differs across the captured versions.
)


def _rules(payload_type: str) -> list[FieldRule]:
    return [rule for rule in FIELD_RULES if rule.payload == payload_type]


def payload_for_version(payload: Mapping[str, Any], version: str) -> dict[str, Any]:
    """The newest ``payload`` as the JS client of ``version`` sends it.

    Keys ``version`` does not know are dropped; keys it still has and newer versions
    removed are added in front of the key they preceded (at the end if it is missing).

    Example:
        >>> payload_for_version({"type": "status", "renderId": "r"}, "4.0.403")
        {'type': 'status', 'renderId': 'r'}
    """
    target = parse_version(version)
    rules = _rules(str(payload.get("type")))
    dropped = {rule.key for rule in rules if rule.since is not None and not rule.sent_by(target)}
    added = [rule for rule in rules if rule.since is None and rule.sent_by(target)]
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if key in dropped:
            continue
        for rule in added:
            if rule.before == key:
                out[rule.key] = rule.value
        out[key] = value
    for rule in added:
        out.setdefault(rule.key, rule.value)
    return out


def _default(options: BaseModel, name: str) -> Any:
    return type(options).model_fields[name].get_default(call_default_factory=True)


def check_options_for_version(payload_type: str, options: BaseModel, version: str) -> None:
    """Refuse options that the function of ``version`` would not receive.

    Raises :class:`~aioremotion.errors.InvalidOptionsError` naming each such option and
    the version that added it; an option left at its default is simply not sent.

    Example:
        >>> from aioremotion.protocol.options import RenderMediaOptions
        >>> opts = RenderMediaOptions(serve_url="s", composition="C", codec="h264",
        ...                           enable_cancellation=True)
        >>> check_options_for_version("start", opts, "4.0.527")
        >>> check_options_for_version("start", opts, "4.0.491")
        Traceback (most recent call last):
        ...
        aioremotion.errors.InvalidOptionsError: Invalid options:
          enable_cancellation: needs Remotion 4.0.515 or later; the function is 4.0.491
    """
    target = parse_version(version)
    problems: list[tuple[str, str]] = []
    fields = type(options).model_fields
    for rule in _rules(payload_type):
        if rule.option is None or rule.option not in fields or rule.sent_by(target):
            continue
        if getattr(options, rule.option) == _default(options, rule.option):
            continue
        if rule.since is not None and target < parse_version(rule.since):
            message = f"needs Remotion {rule.since} or later; the function is {version}"
        else:
            message = f"was removed in Remotion {rule.until}; the function is {version}"
        problems.append((rule.option, message))
    if problems:
        raise InvalidOptionsError(problems)


#: The first version whose functions render image sequences (``output.type: "sequence"``).
#: Remotion's docs: "renderFramesOnLambda() v4.0.535"; its payload key ``output`` is the
#: one :data:`_SEEN_535` dates.
IMAGE_SEQUENCES_SINCE: Final = _SEEN_535


def check_frames_for_version(options: BaseModel, version: str) -> None:
    """Refuse an image sequence render for a function older than 4.0.535 (it would ignore
    ``output`` and fail on ``codec: null``), then the options as
    :func:`check_options_for_version` does.

    Example:
        >>> from aioremotion.protocol.options import RenderFramesOptions
        >>> opts = RenderFramesOptions(serve_url="s", composition="C")
        >>> check_frames_for_version(opts, "4.0.539")
        >>> check_frames_for_version(opts, "4.0.508")
        Traceback (most recent call last):
        ...
        aioremotion.errors.InvalidOptionsError: Invalid options:
          render_frames: needs Remotion 4.0.535 or later; the function is 4.0.508
    """
    if parse_version(version) < parse_version(IMAGE_SEQUENCES_SINCE):
        raise InvalidOptionsError(
            [("render_frames", f"needs Remotion {IMAGE_SEQUENCES_SINCE} or later; the "
                               f"function is {version}")])
    check_options_for_version("start", options, version)
