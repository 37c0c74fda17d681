"""``aioremotion batch --out-dir``: each done job's output downloaded into one folder.

A job's file is named by its key (else ``line-<n>``) plus the output's extension, with
characters unsafe in file names replaced; its results record gets ``file`` (the absolute
path), or ``downloadError`` when the download failed (the render itself is done). Outputs
of jobs finished in an earlier run are downloaded too, unless their file is there already.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import anyio
from anyio.abc import TaskGroup

from ..errors import RemotionError
from ._common import download
from ._jobs import BatchJob

if TYPE_CHECKING:
    from ..client import RemotionLambda

__all__ = ["Downloads", "file_names"]

#: Downloads at once (each is one HTTP GET streamed to disk).
MAX_DOWNLOADS = 4

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_names(jobs: list[BatchJob]) -> dict[int, str]:
    """Each job's file stem, unique within the batch: its key made safe for a file name
    (``line-<n>`` without one, or when two keys would give the same name).

    >>> from aioremotion.cli._jobs import BatchJob
    >>> jobs = [BatchJob(0, 1, "intro/en", {}, ""), BatchJob(1, 2, "intro en", {}, ""),
    ...         BatchJob(2, 3, None, {}, "")]
    >>> file_names(jobs)
    {0: 'intro_en', 1: 'intro_en-line-2', 2: 'line-3'}
    """
    names: dict[int, str] = {}
    used: set[str] = set()
    for job in jobs:
        stem = _UNSAFE.sub("_", job.key).strip("._") if job.key is not None else ""
        stem = stem or f"line-{job.line}"
        if stem.lower() in used:
            stem = f"{stem}-line-{job.line}"
        used.add(stem.lower())
        names[job.index] = stem
    return names


def _extension(record: dict[str, Any], out_key: str | None) -> str:
    return PurePosixPath(out_key or urlparse(str(record.get("url") or "")).path).suffix


class Downloads:
    """Downloads done jobs' outputs into ``folder`` in ``tasks`` (a task group that
    outlives the batch), at most :data:`MAX_DOWNLOADS` at once."""

    def __init__(self, client: RemotionLambda, folder: Path, names: dict[int, str],
                 tasks: TaskGroup) -> None:
        self.client = client
        self.folder = folder
        self.names = names
        self.tasks = tasks
        self.failed = 0
        self._limiter = anyio.CapacityLimiter(MAX_DOWNLOADS)

    def path(self, job: BatchJob, record: dict[str, Any], out_key: str | None = None) -> Path:
        """Where ``job``'s output goes."""
        return self.folder / f"{self.names[job.index]}{_extension(record, out_key)}"

    def submit(self, job: BatchJob, record: dict[str, Any], *, out_key: str | None = None,
               then: Callable[[], None] | None = None) -> None:
        """Download ``job``'s output (``record`` is a done results record: it gets
        ``file`` or ``downloadError``), then call ``then``. A file already there with
        the record's size is kept, not downloaded again."""
        target = self.path(job, record, out_key)
        try:
            present = target.stat().st_size == record.get("size")
        except OSError:
            present = False
        if present:
            record["file"] = str(target)
            if then is not None:
                then()
            return
        self.tasks.start_soon(self._fetch, record, target, out_key, then)

    async def _fetch(self, record: dict[str, Any], target: Path, out_key: str | None,
                     then: Callable[[], None] | None) -> None:
        async with self._limiter:
            try:
                await download(self.client, str(record["url"]), target,
                               bucket_name=record.get("bucketName"), key=out_key)
            except (RemotionError, OSError) as exc:
                self.failed += 1
                record["downloadError"] = f"{type(exc).__name__}: {exc}"
            else:
                record["file"] = str(target)
        if then is not None:
            then()
