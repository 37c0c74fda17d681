"""Every recorded case of every ``versions/<folder>/payload-cases.json``: our payload for
the record's ``remotionVersion`` must equal what that version's official client sent.

Folders are found at collection time, so a new capture (say ``versions/4.0.450/``) is
tested with no change here. Records captured from the Python SDK (``capturedFrom:
"remotion-lambda==…"``) are compared against the JS client's conventions: the SDK's known
deviations are listed below, each accepted only in the exact form it takes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aioremotion.errors import InvalidOptionsError
from aioremotion.protocol.props import UploadedProps
from aioremotion.protocol.versions import is_supported_version

from .loader import conformance_dir
from .test_payload_cases import build, check_uploads, normalise_random_hash

PYTHON_SDK = "remotion-lambda=="


def version_cases() -> list[tuple[str, dict[str, Any]]]:
    """(folder, case) for every case of every version folder, in folder order."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted((conformance_dir() / "versions").glob("*/payload-cases.json")):
        cases = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(cases, list) or not cases:
            raise ValueError(f"{path} holds no cases")
        found.extend((path.parent.name, case) for case in cases)
    return found


def case_id(folder: str, case: dict[str, Any]) -> str:
    version = case["remotionVersion"]
    source = version if folder == version else f"{version}({folder})"
    return f"{source}/{case['name']}"


CASES = version_cases()


@dataclass(frozen=True)
class SdkDeviation:
    """A key where the Python SDK is known to send what the JS client does not."""

    apis: frozenset[str]
    key: str
    why: str
    is_sdk_form: Callable[[Any, Any], bool]  # (the SDK's value, ours) -> the known defect?


def _snake_keys(value: Any) -> bool:
    return isinstance(value, dict) and all(key == key.lower() for key in value)


def _without_nones(value: Any) -> Any:
    return {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value


MEDIA_STILL = frozenset({"media", "still"})
#: From records/versions/README.md, except the last two (seen in the records themselves).
SDK_DEVIATIONS = (
    SdkDeviation(MEDIA_STILL, "chromiumOptions",
                 "snake_case keys (the function ignores them)",
                 lambda sdk, ours: _snake_keys(sdk) and sdk != ours),
    SdkDeviation(MEDIA_STILL, "outName",
                 "an S3 outName object with a snake_case s3_output_provider",
                 lambda sdk, ours: isinstance(sdk, dict) and "s3_output_provider" in sdk
                 and isinstance(ours, dict) and sdk["key"] == ours["key"]
                 and sdk["bucketName"] == ours["bucketName"]),
    SdkDeviation(frozenset({"status"}), "forcePathStyle", "always false in status payloads",
                 lambda sdk, ours: sdk is False),
    SdkDeviation(frozenset({"media"}), "metadata", "{} where the JS client sends null",
                 lambda sdk, ours: sdk == {} and ours is None),
    SdkDeviation(frozenset({"still"}), "streamed", "stills by plain Invoke (streamed: false)",
                 lambda sdk, ours: sdk is False and ours is True),
    SdkDeviation(MEDIA_STILL, "inputProps",
                 "props JSON with non-ASCII escaped (\\u00eb): the same JSON value",
                 lambda sdk, ours: sdk["type"] == ours["type"] == "payload"
                 and json.loads(sdk["payload"]) == json.loads(ours["payload"])),
    SdkDeviation(frozenset({"status"}), "s3OutputProvider", "an unset region sent as null",
                 lambda sdk, ours: _without_nones(sdk) == ours),
)


def accept_sdk_deviations(case: dict[str, Any], ours: dict[str, Any],
                          expected: dict[str, Any]) -> None:
    """Replace, in ``expected``, each listed SDK deviation by our (JS-convention) value."""
    for deviation in SDK_DEVIATIONS:
        key = deviation.key
        if case["api"] not in deviation.apis or key not in expected or key not in ours:
            continue
        if expected[key] != ours[key]:
            assert deviation.is_sdk_form(expected[key], ours[key]), (key, expected[key])
            expected[key] = ours[key]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def build_refusing_unknown_options(
    case: dict[str, Any],
) -> tuple[dict[str, Any], UploadedProps | None]:
    """Build the case for its version. An old JS client silently drops options it does not
    know (the record shows the payload without them); we refuse them before any call
    instead. So: each refused option must be one the recorded payload lacks, and without
    the refused options our payload must be the recorded one."""
    version = case["remotionVersion"]
    try:
        return build(case, version=version)
    except InvalidOptionsError as exc:
        refused = exc.fields
    options = dict(case["options"])
    for field in refused:
        key = _camel(field)
        assert key in options and key not in case["payload"], field
        del options[key]
    return build({**case, "options": options}, version=version)


@pytest.mark.parametrize(("folder", "case"), CASES,
                         ids=[case_id(folder, case) for folder, case in CASES])
def test_payload_matches_client_of_its_version(folder: str, case: dict[str, Any]) -> None:
    expected = case["payload"]
    if expected is None:
        reason = case.get("sdkError")
        assert reason, f"{folder}/{case['name']} has no payload and no sdkError"
        pytest.skip(f"the SDK sent nothing: {reason}")
    payload, upload = build_refusing_unknown_options(case)
    expected = dict(expected)
    normalise_random_hash(payload, expected)
    if str(case.get("capturedFrom", "")).startswith(PYTHON_SDK):
        accept_sdk_deviations(case, payload, expected)
    assert payload == expected
    check_uploads(case, upload)


def test_every_recorded_version_is_supported() -> None:
    versions = {case["remotionVersion"] for _, case in CASES}
    assert all(is_supported_version(version) for version in versions), versions


def test_the_repository_records_cover_old_and_new_versions() -> None:
    if conformance_dir() != Path(__file__).resolve().parent / "records":
        pytest.skip("AIOREMOTION_CONFORMANCE_DIR points elsewhere")
    assert {case["remotionVersion"] for _, case in CASES} >= {"4.0.403", "4.0.491", "4.0.539"}
