"""The resume state of ``aioremotion batch``: an fsynced JSON Lines journal of each job's
steps (``starting`` with its tag, ``started`` with its handle, ``start-failed``,
``finished`` with its result), and reading it back, damaged or not.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..handles import RenderHandle
from ..protocol.nesting import MAX_JSON_DEPTH, parse_json
from ._jobs import BatchJob

__all__ = ["STATE_VERSION", "JobState", "SavedState", "StateLog", "load_state"]

STATE_VERSION = 1


@dataclass
class JobState:
    """What the state file says about one job (its latest records)."""

    digest: str | None = None
    handle: RenderHandle | None = None
    result: dict[str, Any] | None = None
    #: A start call was made and its outcome never recorded (the process died in it).
    starting: bool = False
    #: The tag that start call put into the render's metadata (to find it again), and
    #: when (epoch seconds).
    token: str | None = None
    starting_at: float | None = None


@dataclass
class SavedState:
    """What a state file holds: each job's latest state, and the damage found."""

    jobs: dict[str, JobState] = field(default_factory=dict)
    #: Line numbers (from 1) of records that could not be read.
    damaged_lines: list[int] = field(default_factory=list)
    #: The earliest time a readable record carries (epoch seconds), if any.
    earliest_at: float | None = None

    @property
    def damaged(self) -> bool:
        return bool(self.damaged_lines)

    def describe_damage(self, path: Path) -> str:
        lines = ", ".join(str(n) for n in self.damaged_lines[:5])
        more = ", ..." if len(self.damaged_lines) > 5 else ""
        return (f"{path} has {len(self.damaged_lines)} unreadable record(s) (line "
                f"{lines}{more}; a crash while writing, a truncated copy or an edit); "
                "the readable records are used, and jobs left without a record are "
                "looked up by their tag before any is started")


def load_state(path: Path) -> SavedState:
    """Read a state file. Never fails on its content: a line that is not UTF-8, not
    JSON or not a record is counted in ``damaged_lines`` and skipped."""
    saved = SavedState()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return saved
    states = saved.jobs
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = parse_json(raw, limit=MAX_JSON_DEPTH + 8)  # (ValueError if not)
            ident = record["job"]
            event = record["event"]
            at = record.get("at")
            if isinstance(at, (int, float)):
                saved.earliest_at = at if saved.earliest_at is None else min(
                    saved.earliest_at, at)
            if event == "starting":
                states[ident] = JobState(digest=record.get("digest"), starting=True,
                                         token=record.get("token"), starting_at=at)
            elif event == "start-failed":
                states[ident] = JobState()
            elif event == "started":
                states[ident] = JobState(
                    digest=record.get("digest"),
                    handle=RenderHandle.model_validate(record["render"]))
            elif event == "finished":
                state = states.setdefault(ident, JobState())
                state.digest = record.get("digest", state.digest)
                state.result = dict(record["result"])
                state.starting = False
            else:
                raise ValueError(f"unknown event {event!r}")
        except (ValueError, KeyError, TypeError, AttributeError):  # UnicodeDecodeError too
            saved.damaged_lines.append(number)
    return saved


class StateLog:
    """Appends records to the state file: each written, flushed and fsynced at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = path.open("a+b")
        # a crash may have left a torn last line: start on a fresh one
        self._file.seek(0, os.SEEK_END)
        if self._file.tell() > 0:
            self._file.seek(self._file.tell() - 1)
            if self._file.read(1) != b"\n":
                self._file.write(b"\n")

    def append(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps({"v": STATE_VERSION, "at": round(time.time(), 3),
                                     **record}, separators=(",", ":"),
                                    default=str).encode() + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def starting(self, job: BatchJob, token: str) -> None:
        self.append({"event": "starting", "job": job.ident, **job.tags,
                     "digest": job.digest, "token": token})

    def start_failed(self, job: BatchJob) -> None:
        self.append({"event": "start-failed", "job": job.ident, **job.tags})

    def started(self, job: BatchJob, handle: RenderHandle) -> None:
        self.append({"event": "started", "job": job.ident, **job.tags, "digest": job.digest,
                     "render": handle.model_dump(mode="json", by_alias=True,
                                                 exclude_none=True)})

    def finished(self, job: BatchJob, result: dict[str, Any]) -> None:
        self.append({"event": "finished", "job": job.ident, **job.tags,
                     "digest": job.digest, "result": result})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _NoState(StateLog):
    """State is not kept (``--local``)."""

    def __init__(self) -> None:
        self._file = None
