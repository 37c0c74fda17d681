"""The versions table: parsing, the supported range, payloads between captured versions,
and options a version cannot carry."""

from __future__ import annotations

from typing import Any

import pytest

from aioremotion.errors import InvalidOptionsError
from aioremotion.protocol.options import RenderMediaOptions, RenderStillOptions
from aioremotion.protocol.payloads import build_start_payload, build_still_payload
from aioremotion.protocol.props import plan_input_props
from aioremotion.protocol.versions import (
    FIELD_RULES,
    MAX_SUPPORTED_VERSION,
    MIN_SUPPORTED_VERSION,
    is_supported_version,
    parse_version,
)

SITE = {"serve_url": "my-site", "composition": "MyComp"}


def start(version: str, **options: Any) -> dict[str, Any]:
    opts = RenderMediaOptions(**SITE, codec="h264", **options)
    props = plan_input_props(opts.input_props_json, kind="media",
                             env_variables=opts.env_variables)
    return build_start_payload(opts, version=version, props=props, bucket_name=None)


def still(version: str, **options: Any) -> dict[str, Any]:
    opts = RenderStillOptions(**SITE, **options)
    props = plan_input_props(opts.input_props_json, kind="still",
                             env_variables=opts.env_variables)
    return build_still_payload(opts, version=version, props=props, bucket_name=None,
                               streamed=True)


def test_versions_compare_numerically() -> None:
    assert parse_version("4.0.99") < parse_version("4.0.403") < parse_version("4.0.542")
    assert parse_version("4.1.0") > parse_version("4.0.999")


@pytest.mark.parametrize("text", ["4.0", "v4.0.527", "4.0.527-beta", "4.0.0527", ""])
def test_malformed_versions_are_refused(text: str) -> None:
    with pytest.raises(InvalidOptionsError) as info:
        parse_version(text)
    assert info.value.fields == ["remotion_version"]


def test_supported_range() -> None:
    assert (MIN_SUPPORTED_VERSION, MAX_SUPPORTED_VERSION) == ("4.0.403", "4.0.542")
    assert is_supported_version("4.0.403") and is_supported_version("4.0.542")
    assert not is_supported_version("4.0.402") and not is_supported_version("4.0.543")


def test_every_rule_is_well_formed() -> None:
    for rule in FIELD_RULES:
        assert (rule.since is None) != (rule.until is None), rule
        for bound in (rule.since, rule.until):
            if bound is not None:
                assert is_supported_version(bound), rule
        if rule.until is not None:  # a key of old versions: not built by the builders
            assert rule.option is None and rule.before is not None


@pytest.mark.parametrize(("version", "present", "absent"), [
    ("4.0.403", {"apiKey"}, {"gopSize", "sampleRate", "enableCancellation", "output"}),
    ("4.0.409", {"apiKey"}, {"isProduction", "forceFps", "sampleRate"}),
    ("4.0.410", {"isProduction"}, {"apiKey", "forceFps", "sampleRate"}),
    ("4.0.425", {"isProduction", "forceFps", "forceDurationInFrames"}, {"apiKey", "sampleRate"}),
    ("4.0.448", {"forceFps", "sampleRate"}, {"gopSize", "enableCancellation"}),
    ("4.0.465", {"sampleRate"}, {"gopSize", "enableCancellation"}),
    ("4.0.466", {"gopSize", "sampleRate"}, {"apiKey", "enableCancellation"}),
    ("4.0.491", {"gopSize", "isProduction"}, {"apiKey", "enableCancellation"}),
    ("4.0.508", {"gopSize", "sampleRate"}, {"apiKey", "enableCancellation"}),
    ("4.0.515", {"enableCancellation"}, {"output", "separateAudioTo"}),
    ("4.0.527", {"enableCancellation"}, {"output", "disableSharedMemoryCapture"}),
    ("4.0.534", {"enableCancellation"}, {"output", "disableSharedMemoryCapture"}),
    ("4.0.535", {"output", "disableSharedMemoryCapture", "separateAudioTo"}, {"apiKey"}),
    ("4.0.542", {"output", "disableSharedMemoryCapture", "separateAudioTo"}, {"apiKey"}),
])
def test_start_keys_between_captured_versions(version: str, present: set[str],
                                              absent: set[str]) -> None:
    payload = start(version)
    assert payload["version"] == version
    assert present <= set(payload)
    assert not absent & set(payload)


def test_newest_start_payload_follows_js_conventions() -> None:
    payload = start("4.0.539")
    assert payload["output"] == {"type": "media"}
    assert payload["disableSharedMemoryCapture"] is False
    assert payload["separateAudioTo"] is None
    assert payload["metadata"] is None  # the JS client's null, not the Python SDK's {}
    set_ = start("4.0.539", separate_audio_to="audio.wav", disable_shared_memory_capture=True)
    assert (set_["separateAudioTo"], set_["disableSharedMemoryCapture"]) == ("audio.wav", True)


def test_api_key_sits_before_license_key_in_old_payloads() -> None:
    keys = list(start("4.0.403"))
    assert keys.index("apiKey") + 1 == keys.index("licenseKey")
    assert start("4.0.403", license_key="k")["apiKey"] is None
    keys = list(still("4.0.403"))
    assert keys.index("apiKey") + 1 == keys.index("licenseKey")
    assert not {"forceFps", "forceDurationInFrames", "isProduction"} & set(keys)
    assert {"forceFps", "forceDurationInFrames", "isProduction"} <= set(still("4.0.491"))


@pytest.mark.parametrize(("option", "value", "version", "since"), [
    ("enable_cancellation", True, "4.0.491", "4.0.515"),
    ("enable_cancellation", True, "4.0.514", "4.0.515"),
    ("gop_size", 60, "4.0.451", "4.0.466"),
    ("sample_rate", 44100, "4.0.431", "4.0.448"),
    ("force_fps", 30, "4.0.403", "4.0.425"),
    ("force_duration_in_frames", 90, "4.0.424", "4.0.425"),
    ("is_production", True, "4.0.409", "4.0.410"),
    ("separate_audio_to", "audio.wav", "4.0.527", "4.0.535"),
    ("disable_shared_memory_capture", True, "4.0.534", "4.0.535"),
])
def test_options_the_version_lacks_are_refused(option: str, value: Any, version: str,
                                               since: str) -> None:
    with pytest.raises(InvalidOptionsError) as info:
        start(version, **{option: value})
    assert info.value.problems == [
        (option, f"needs Remotion {since} or later; the function is {version}")]
    assert option in str(info.value) and since in str(info.value)
    start(since, **{option: value})  # the version that added it takes it


def test_defaults_are_omitted_not_refused() -> None:
    payload = start("4.0.403", enable_cancellation=False, sample_rate=48000,
                    disable_shared_memory_capture=False, separate_audio_to=None)
    assert not {"enableCancellation", "sampleRate", "disableSharedMemoryCapture"} & set(payload)


def test_still_options_the_version_lacks_are_refused() -> None:
    with pytest.raises(InvalidOptionsError, match=r"is_production: needs Remotion 4\.0\.410"):
        still("4.0.403", is_production=True)
