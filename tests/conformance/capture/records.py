"""The pure parts of the capture tool: source cases to driver jobs, captured bodies to
records, records to the file, and the comparisons (``--diff``, ``--compare``)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

RECORDS_DIR = Path(__file__).resolve().parent.parent / "records"
SOURCE_CASES = RECORDS_DIR / "payload-cases.json"
VERSIONS_DIR = RECORDS_DIR / "versions"
#: the file name of a version's records: the media/still/status cases, or ``--compositions``
PAYLOAD_FILE = "payload-cases.json"
COMPOSITIONS_FILE = "compositions-cases.json"

#: the payload ``type`` each ``api`` of a record invokes
ROUTINES = {"media": "start", "still": "still", "status": "status",
            "compositions": "compositions"}

_FUNCTION = "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec"
#: The option sets of ``getCompositionsOnLambda`` (``--compositions``): the least a caller
#: passes (``inputProps`` and ``envVariables``: the JS client fails on ``undefined``), and the
#: documented options set to non-default values.
COMPOSITIONS_CASES: list[dict[str, Any]] = [
    {"name": "compositions-minimal", "api": "compositions",
     "options": {"region": "us-east-1", "functionName": _FUNCTION, "serveUrl": "my-site",
                 "inputProps": {}, "envVariables": {}}},
    {"name": "compositions-options", "api": "compositions",
     "options": {"region": "us-east-1", "functionName": _FUNCTION, "serveUrl": "my-site",
                 "inputProps": {"title": "Hello", "n": 3},
                 "envVariables": {"API_URL": "https://example.com"},
                 "chromiumOptions": {"ignoreCertificateErrors": True, "gl": "swangle"},
                 "logLevel": "verbose", "timeoutInMilliseconds": 60000,
                 "forceBucketName": "remotionlambda-useast1-abcdefghij",
                 "offthreadVideoCacheSizeInBytes": 100000000}},
]

_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_FUNCTION_VERSION = re.compile(r"^(remotion-render-)\d+-\d+-\d+(-mem)")
#: random per call: the 10-character hash of large input props (README of the records)
_RANDOM_HASH = re.compile(r"^[a-z0-9]{10}$")
_RANDOM_PROPS_PATH = re.compile(r"/input-props/[a-z0-9]{10}\.json$")
RANDOM_PLACEHOLDER = "<random10>"


def check_version(version: str) -> str:
    if not _VERSION.match(version):
        raise ValueError(f"not a release number: {version!r} (expected e.g. 4.0.508)")
    return version


def function_name_for(name: str, version: str) -> str:
    """``remotion-render-4-0-527-mem2048mb-…`` with the version of ``version``."""
    dashed = version.replace(".", "-")
    return _FUNCTION_VERSION.sub(lambda m: f"{m.group(1)}{dashed}{m.group(2)}", name)


def options_for(options: Mapping[str, Any], version: str) -> dict[str, Any]:
    """The source options with every Remotion function name moved to ``version``
    (the markers ``__date__``/``__repeat__`` stay: the Node driver decodes them)."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, str):
            return function_name_for(value, version)
        return value
    result: dict[str, Any] = walk(dict(options))
    return result


def load_source_cases(path: Path = SOURCE_CASES) -> list[dict[str, Any]]:
    cases = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(cases, list) or not cases:
        raise ValueError(f"{path} holds no cases")
    return cases


def jobs_for(cases: Sequence[Mapping[str, Any]], version: str,
             names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """What the driver runs: ``{name, api, options}`` per case (all, or those named)."""
    wanted = set(names) if names is not None else None
    jobs = [{"name": case["name"], "api": case["api"],
             "options": options_for(case["options"], version)}
            for case in cases if wanted is None or case["name"] in wanted]
    if wanted is not None:
        unknown = wanted - {job["name"] for job in jobs}
        if unknown:
            raise ValueError(f"no such case: {', '.join(sorted(unknown))}")
    return jobs


def upload_entry(path: str, body: bytes) -> dict[str, Any]:
    return {"path": path, "bodyLength": len(body),
            "bodySha256": hashlib.sha256(body).hexdigest()}


def pick_invocation(api: str, bodies: Sequence[bytes]) -> dict[str, Any] | None:
    """The client's own call among the Invoke bodies seen during one case: the first
    whose ``type`` is the routine of ``api`` (the emulator's internal calls have other
    types). Parsed keeping the key order the client sent."""
    routine = ROUTINES[api]
    for body in bodies:
        try:
            payload = json.loads(body)
        except ValueError:
            continue
        if isinstance(payload, dict) and payload.get("type") == routine:
            return payload
    return None


def make_record(job: Mapping[str, Any], version: str, payload: dict[str, Any] | None,
                uploads: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"name": job["name"], "remotionVersion": version, "api": job["api"],
            "options": copy.deepcopy(dict(job["options"])), "payload": payload,
            "uploads": [dict(upload) for upload in uploads]}


def dumps_records(records: Sequence[Mapping[str, Any]]) -> str:
    """The records file's text, byte for byte the format of the committed ones."""
    return json.dumps(list(records), indent=1, ensure_ascii=False)


def write_records(records: Sequence[Mapping[str, Any]], version: str,
                  versions_dir: Path = VERSIONS_DIR, file_name: str = PAYLOAD_FILE) -> Path:
    folder = versions_dir / check_version(version)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    path.write_text(dumps_records(records), encoding="utf-8")
    return path


def without_random(record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` with the per-call random props hash replaced by a
    placeholder (in the payload's ``inputProps.hash`` and in upload paths)."""
    result = copy.deepcopy(dict(record))
    payload = result.get("payload")
    if isinstance(payload, dict):
        props = payload.get("inputProps")
        if (isinstance(props, dict) and isinstance(props.get("hash"), str)
                and _RANDOM_HASH.match(props["hash"])):
            props["hash"] = RANDOM_PLACEHOLDER
    for upload in result.get("uploads") or []:
        upload["path"] = _RANDOM_PROPS_PATH.sub(f"/input-props/{RANDOM_PLACEHOLDER}.json",
                                                upload["path"])
    return result


def _differences(old: Any, new: Any, where: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in list(old) + [key for key in new if key not in old]:
            if key not in new:
                lines.append(f"{where}.{key}: only in the committed record")
            elif key not in old:
                lines.append(f"{where}.{key}: only in the new capture")
            else:
                lines.extend(_differences(old[key], new[key], f"{where}.{key}"))
        return lines
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [line for index, (a, b) in enumerate(zip(old, new))
                for line in _differences(a, b, f"{where}[{index}]")]
    if old != new:
        return [f"{where}: {json.dumps(old)[:80]} != {json.dumps(new)[:80]}"]
    return []


def compare_records(old: Sequence[Mapping[str, Any]],
                    new: Sequence[Mapping[str, Any]]) -> list[str]:
    """Differences between two captures, ignoring the random props hash and key order
    (as parsed JSON); ``[]`` when they match."""
    lines: list[str] = []
    old_names = [record["name"] for record in old]
    new_names = [record["name"] for record in new]
    if old_names != new_names:
        lines.append(f"case names differ: {old_names} != {new_names}")
    by_name = {record["name"]: record for record in new}
    for record in old:
        other = by_name.get(record["name"])
        if other is not None:
            lines.extend(_differences(without_random(record), without_random(other),
                                      record["name"]))
    return lines


def key_diff(reference: Sequence[Mapping[str, Any]],
             records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """Per routine (``start``, ``still``, ``status``, ``compositions``; those the
    reference has): the payload keys only the reference sends (``missing``) and those
    only ``records`` send (``added``), over all the records of that routine."""
    def keys(source: Sequence[Mapping[str, Any]], api: str) -> list[str]:
        seen: dict[str, None] = {}
        for record in source:
            if record["api"] == api and isinstance(record.get("payload"), dict):
                seen.update(dict.fromkeys(record["payload"]))
        return list(seen)
    result = {}
    for api, routine in ROUTINES.items():
        if not any(record["api"] == api for record in reference):
            continue
        ref, got = keys(reference, api), keys(records, api)
        result[routine] = {"missing": [key for key in ref if key not in got],
                           "added": [key for key in got if key not in ref]}
    return result


def format_key_diff(diff: Mapping[str, Mapping[str, list[str]]], version: str,
                    reference: str = "4.0.527") -> list[str]:
    lines = []
    for routine, change in diff.items():
        if not change["missing"] and not change["added"]:
            lines.append(f"{routine}: same payload keys as {reference}")
            continue
        parts = []
        if change["missing"]:
            parts.append(f"no {', '.join(change['missing'])}")
        if change["added"]:
            parts.append(f"adds {', '.join(change['added'])}")
        lines.append(f"{routine}: {version} {'; '.join(parts)} (vs {reference})")
    return lines
