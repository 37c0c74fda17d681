"""Every recorded ``getCompositionsOnLambda`` case (``versions/<version>/compositions-cases.json``,
captured with ``python -m tests.conformance.capture VERSION --compositions``): our
``compositions`` payload for the record's version must equal what that version's official
JS client sent. One test per case, id ``version/case``; a new capture is picked up with no
change here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aioremotion.emulator.payload_check import expected_keys
from aioremotion.protocol.options import CompositionsOptions
from aioremotion.protocol.payloads import build_compositions_payload
from aioremotion.protocol.props import UploadedProps, plan_input_props
from aioremotion.protocol.versions import is_supported_version

from .loader import conformance_dir, decode_js_options
from .test_payload_cases import check_uploads, normalise_random_hash


def compositions_cases() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted((conformance_dir() / "versions").glob("*/compositions-cases.json")):
        cases = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(cases, list) or not cases:
            raise ValueError(f"{path} holds no cases")
        assert all(case["api"] == "compositions" for case in cases), path
        found.extend(cases)
    return found


CASES = compositions_cases()


def build(case: dict[str, Any]) -> tuple[dict[str, Any], object]:
    options = CompositionsOptions.model_validate(decode_js_options(case["options"]))
    props = plan_input_props(options.input_props_json, kind="compositions",
                             env_variables=options.env_variables)
    payload = build_compositions_payload(options, version=case["remotionVersion"],
                                         props=props, bucket_name=options.force_bucket_name)
    return payload, props


@pytest.mark.parametrize("case", CASES,
                         ids=[f"{case['remotionVersion']}/{case['name']}" for case in CASES])
def test_compositions_payload_matches_client_of_its_version(case: dict[str, Any]) -> None:
    payload, props = build(case)
    expected = dict(case["payload"])
    normalise_random_hash(payload, expected)
    assert payload == expected
    check_uploads(case, props if isinstance(props, UploadedProps) else None)
    # the emulator's strict check expects exactly the keys this version's client sends
    assert expected_keys("compositions", case["remotionVersion"]) == frozenset(expected)


def test_every_recorded_compositions_version_is_supported() -> None:
    versions = {case["remotionVersion"] for case in CASES}
    assert all(is_supported_version(version) for version in versions), versions


def test_the_repository_records_cover_the_captured_versions() -> None:
    if conformance_dir() != Path(__file__).resolve().parent / "records":
        pytest.skip("AIOREMOTION_CONFORMANCE_DIR points elsewhere")
    assert {case["remotionVersion"] for case in CASES} == {
        "4.0.403", "4.0.431", "4.0.451", "4.0.491", "4.0.508", "4.0.520", "4.0.527"}
    assert {case["name"] for case in CASES} == {"compositions-minimal", "compositions-options"}
