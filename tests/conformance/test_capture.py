"""The capture tool (``python -m tests.conformance.capture``): its pure parts without npm,
and one live case when node, npm and the cached or reachable client are available."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .capture.records import (
    COMPOSITIONS_CASES,
    COMPOSITIONS_FILE,
    SOURCE_CASES,
    VERSIONS_DIR,
    compare_records,
    dumps_records,
    format_key_diff,
    function_name_for,
    jobs_for,
    key_diff,
    load_source_cases,
    make_record,
    pick_invocation,
    upload_entry,
    write_records,
)


def committed(version: str) -> list[dict]:
    return json.loads((VERSIONS_DIR / version / "payload-cases.json").read_text("utf-8"))


def test_function_names_move_to_the_version() -> None:
    assert (function_name_for("remotion-render-4-0-527-mem2048mb-disk2048mb-120sec", "4.0.491")
            == "remotion-render-4-0-491-mem2048mb-disk2048mb-120sec")
    assert function_name_for("my-function", "4.0.491") == "my-function"


def test_jobs_keep_the_source_order_and_markers() -> None:
    source = load_source_cases(SOURCE_CASES)
    jobs = jobs_for(source, "4.0.491")
    assert [job["name"] for job in jobs] == [case["name"] for case in source]
    dates = next(job for job in jobs if job["name"] == "media-dates")
    assert dates["options"]["inputProps"]["publishedAt"] == {"__date__": "2026-01-02T03:04:05.678Z"}
    # the options of the committed 4.0.491 capture are the source's, moved to 4.0.491
    assert [job["options"] for job in jobs] == [r["options"] for r in committed("4.0.491")]
    assert [job["name"] for job in jobs_for(source, "4.0.491", ["still-png"])] == ["still-png"]
    with pytest.raises(ValueError, match="no such case"):
        jobs_for(source, "4.0.491", ["nope"])


def test_the_client_call_is_picked_among_the_invocations() -> None:
    bodies = [b"not json", b'{"type":"launch"}', b'{"type":"start","b":1,"a":2}',
              b'{"type":"start","c":3}']
    payload = pick_invocation("media", bodies)
    assert payload == {"type": "start", "b": 1, "a": 2}
    assert list(payload) == ["type", "b", "a"]  # the order the client sent
    assert pick_invocation("still", bodies) is None


def test_rewriting_a_committed_capture_gives_the_same_bytes(tmp_path: Path) -> None:
    records = committed("4.0.491")
    rebuilt = [make_record({"name": r["name"], "api": r["api"], "options": r["options"]},
                           r["remotionVersion"], r["payload"], r["uploads"]) for r in records]
    path = write_records(rebuilt, "4.0.491", tmp_path)
    assert path.read_bytes() == (VERSIONS_DIR / "4.0.491" / "payload-cases.json").read_bytes()
    assert dumps_records(rebuilt) == path.read_text("utf-8")


def test_compare_ignores_only_the_random_props_hash() -> None:
    records = committed("4.0.491")
    other = json.loads(json.dumps(records))
    large = next(r for r in other if r["name"] == "media-large-props")
    old_hash = large["payload"]["inputProps"]["hash"]
    large["payload"]["inputProps"]["hash"] = "0123456789"
    large["uploads"][0]["path"] = large["uploads"][0]["path"].replace(old_hash, "0123456789")
    assert compare_records(records, other) == []
    large["uploads"][0]["bodyLength"] += 1
    other[0]["payload"]["crf"] = 23
    del other[1]["payload"]["sampleRate"]
    assert compare_records(records, other) == [
        "media-minimal.payload.crf: null != 23",
        "media-seed-route.payload.sampleRate: only in the committed record",
        "media-large-props.uploads[0].bodyLength: 200011 != 200012",
    ]


def test_upload_entries_hash_the_body() -> None:
    assert upload_entry("/b/input-props/x.json", b"abc") == {
        "path": "/b/input-props/x.json", "bodyLength": 3,
        "bodySha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}


def test_key_diff_against_the_reference() -> None:
    reference = load_source_cases(SOURCE_CASES)
    diff = key_diff(reference, committed("4.0.403"))
    assert set(diff["start"]["missing"]) == {"enableCancellation", "gopSize", "forceFps",
                                             "forceDurationInFrames", "isProduction",
                                             "sampleRate"}
    assert diff["start"]["added"] == ["apiKey"]
    assert diff["status"] == {"missing": [], "added": []}
    assert format_key_diff(key_diff(reference, committed("4.0.520")), "4.0.520") == [
        f"{routine}: same payload keys as 4.0.527" for routine in ("start", "still", "status")]



def test_compositions_jobs_and_their_key_diff() -> None:
    jobs = jobs_for(COMPOSITIONS_CASES, "4.0.491")
    assert [job["api"] for job in jobs] == ["compositions", "compositions"]
    assert {job["options"]["functionName"] for job in jobs} == {
        "remotion-render-4-0-491-mem2048mb-disk2048mb-120sec"}
    # the JS client fails on undefined inputProps or envVariables: the minimal set has both
    assert {"inputProps", "envVariables"} <= jobs[0]["options"].keys()
    reference, older = (json.loads((VERSIONS_DIR / v / COMPOSITIONS_FILE).read_text("utf-8"))
                        for v in ("4.0.527", "4.0.403"))
    assert format_key_diff(key_diff(reference, older), "4.0.403") == [
        "compositions: same payload keys as 4.0.527"]
    assert pick_invocation("compositions", [b'{"type":"info"}', b'{"type":"compositions"}']) \
        == {"type": "compositions"}


NODE, NPM = shutil.which("node"), shutil.which("npm")


@pytest.mark.skipif(NODE is None or NPM is None, reason="node and npm are not on PATH")
def test_live_capture_of_one_case_matches_the_committed_record() -> None:
    from .capture.run import CaptureError, cache_folder, capture, install, installed_version

    version = "4.0.491"
    if installed_version(cache_folder() / f"lambda-client-{version}") != version:
        ping = subprocess.run([NPM, "ping", "--fetch-retries=0", "--fetch-timeout=20000"],
                              capture_output=True, timeout=60, check=False)
        if ping.returncode != 0:
            pytest.skip("the npm registry is unreachable and the client is not cached")
    try:
        node_modules = install(version)
    except CaptureError as error:
        pytest.skip(str(error))
    jobs = jobs_for(load_source_cases(SOURCE_CASES), version, ["media-large-props"])
    results = asyncio.run(capture(version, jobs, node_modules))
    expected = [r for r in committed(version) if r["name"] == "media-large-props"]
    assert compare_records(expected, [results[0].record]) == []
