"""The jobs file of ``aioremotion batch``: one render_media options object per line.

Lines are read as bytes and checked one by one (UTF-8, JSON, nesting depth, an optional
``"key"`` unique in the file) before anything starts; every problem names its line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic.alias_generators import to_camel

from ..errors import InvalidOptionsError
from ..protocol.nesting import MAX_JSON_DEPTH, JsonTooDeepError, parse_json
from ..protocol.options import RenderMediaOptions

__all__ = ["REQUIRED_HINTS", "BatchJob", "check_jobs", "load_jobs"]

#: Where a job's required fields can come from besides the job itself.
REQUIRED_HINTS = {
    "serve_url": "name it in the job, pass --serve-url, set REMOTION_SERVE_URL or use --local",
    "composition": "name it in the job, pass --composition or set REMOTION_COMPOSITION",
}


@dataclass(frozen=True)
class BatchJob:
    """One line of the jobs file."""

    index: int
    line: int
    key: str | None
    raw: dict[str, Any]
    digest: str

    @property
    def ident(self) -> str:
        """How the state file knows the job: its key, else its line number."""
        return f"key:{self.key}" if self.key is not None else f"line:{self.line}"

    @property
    def label(self) -> str:
        return self.key if self.key is not None else f"line {self.line}"

    @property
    def tags(self) -> dict[str, Any]:
        return {"key": self.key, "line": self.line}

    @property
    def job_id(self) -> str:
        """The stable part of the job's start tags: the same in every run of the same
        job, so a render whose record was lost can still be found."""
        return hashlib.sha256(f"{self.ident}\0{self.digest}".encode()).hexdigest()[:12]

    def options(self, defaults: dict[str, Any]) -> RenderMediaOptions:
        """The job's options, with ``defaults`` for the fields it does not name."""
        merged = dict(self.raw)
        for name, value in defaults.items():
            if value is not None and name not in merged and to_camel(name) not in merged:
                merged[name] = value
        return RenderMediaOptions.model_validate(merged)


def _digest(raw: dict[str, Any]) -> str:
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_jobs(path: str) -> list[BatchJob]:
    """Read and check the jobs file (raises InvalidOptionsError naming each bad line)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidOptionsError([("jobs", f"cannot read {path}: {exc.strerror or exc}")]) \
            from None
    jobs: list[BatchJob] = []
    problems: list[tuple[str, str]] = []
    keys: dict[str, int] = {}
    for number, raw_line in enumerate(data.splitlines(), start=1):
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append((f"line {number}", f"is not valid UTF-8 (byte "
                                               f"0x{raw_line[exc.start]:02x} at column "
                                               f"{exc.start + 1}): save the file as UTF-8"))
            continue
        if not line.strip():
            continue
        try:  # (a job's object may wrap input props of the deepest nesting allowed)
            value = parse_json(line, field=f"line {number}", limit=MAX_JSON_DEPTH + 1)
        except JsonTooDeepError as exc:
            problems.extend(exc.problems)
            continue
        except json.JSONDecodeError as exc:
            problems.append((f"line {number}", f"is not valid JSON: {exc}"))
            continue
        if not isinstance(value, dict):
            problems.append((f"line {number}", "must be a JSON object of render options"))
            continue
        key = value.pop("key", None)
        if key is not None:
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                problems.append((f"line {number}: key", f"must be a string; got {key!r}"))
                continue
            key = str(key)
            if key in keys:
                problems.append((f"line {number}: key",
                                 f"{key!r} is also the key of line {keys[key]}"))
                continue
            keys[key] = number
        jobs.append(BatchJob(index=len(jobs), line=number, key=key, raw=value,
                             digest=_digest(value)))
    if problems:
        raise InvalidOptionsError(problems)
    if not jobs:
        raise InvalidOptionsError([("jobs", f"{path} holds no jobs")])
    return jobs


def check_jobs(jobs: list[BatchJob], defaults: dict[str, Any]) -> list[RenderMediaOptions]:
    """Every job's options, or one InvalidOptionsError listing every problem by line."""
    options: list[RenderMediaOptions] = []
    problems: list[tuple[str, str]] = []
    for job in jobs:
        try:
            options.append(job.options(defaults))
        except InvalidOptionsError as exc:
            where = f"line {job.line}" + (f" ({job.key})" if job.key is not None else "")
            for name, message in exc.problems:
                if message == "is required" and name in REQUIRED_HINTS:
                    message = f"is required: {REQUIRED_HINTS[name]}"
                problems.append((f"{where}: {name}", message))
    if problems:
        raise InvalidOptionsError(problems)
    return options
