"""``aioremotion batch``: render every job of a JSON Lines file, resumably.

Jobs: one options object per line (snake_case or the JS client's camelCase keys, as
``render_media`` takes them), with an optional ``"key"`` to recognise the job by; lines
without a key are known by their line number. ``serve_url``, ``composition`` and ``codec``
default to ``--serve-url``/REMOTION_SERVE_URL, REMOTION_COMPOSITION and ``--codec``.

Results: one record per job, in input order (``key``, ``line``, ``status``, ``renderId``,
``bucketName``, then ``url``/``size``/``cost`` or ``error``/``explanation``).

Resuming: the state file (JSON Lines, default ``<out>.state.jsonl``) gets, per job, a
``starting`` record just before the start call, a ``started`` record with the render's
handle as soon as the function accepted it (or ``start-failed`` when it provably did not
start), and a ``finished`` record with the job's result when it ends; each record is
flushed and fsynced before the batch goes on. A rerun reads it first: finished jobs are not
started again (their results are reused; ``--retry-failed`` starts failed ones anew),
renders that were running are watched again (re-attached) instead of started twice, and
only jobs never started are started.

Like the client, the batch never starts a render twice on its own. Each start call tags
the render's ``metadata`` with a random token (``aioremotion-job``) that the ``starting``
record keeps. When the process died during a start call, the rerun looks for a render
carrying that token (``renders/*/progress.json`` written since) and watches it; a job
whose render is not found (its start never arrived, or it has no metadata yet), or whose
call was sent but got no answer, is reported with status ``error`` and only started again
with ``--retry-failed``. Ctrl+C lets the start calls in flight finish and records them
before exiting, so an interrupted batch leaves no unknown starts; only a hard kill can.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
from pydantic.alias_generators import to_camel

from ..errors import InvalidOptionsError, InvalidReplyError, StartOutcomeUnknownError
from ..events import Done, Failed
from ..fanout import StartPacer
from ..handles import RenderHandle
from ..protocol.options import RenderMediaOptions
from ..watching import watch
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    Target,
    add_target_arguments,
    default_serve_url,
    emit_json,
    open_target,
)
from ._display import BatchReporter, choose_mode

__all__ = ["BatchJob", "JobState", "StateLog", "add_parser", "load_jobs", "load_state"]

STATE_VERSION = 1
FAILED_STATUSES = ("failed", "error")
UNKNOWN_START = (
    "an earlier run stopped during this job's start call, so the render may be running "
    "(look for a new renders/<id>/progress.json in the bucket); it was not started again: "
    "rerun with --retry-failed to start it anyway"
)
#: Where a job's required fields can come from besides the job itself.
REQUIRED_HINTS = {
    "serve_url": "name it in the job, pass --serve-url, set REMOTION_SERVE_URL or use --local",
    "composition": "name it in the job, pass --composition or set REMOTION_COMPOSITION",
}
#: Start errors after which the render may exist: never retried on their own.
UNKNOWN_START_ERRORS = (StartOutcomeUnknownError, InvalidReplyError)


def add_parser(sub: Any) -> None:
    """Register ``batch``."""
    parser = sub.add_parser(
        "batch", help="render every job of a JSON Lines file (resumable)",
        description="Render the jobs of a JSON Lines file (one render_media options object "
                    "per line, with an optional \"key\"), write one result per job in input "
                    "order, and record progress in a state file so that a rerun resumes: "
                    "finished jobs are skipped and running renders re-attached.")
    parser.add_argument("jobs", metavar="JOBS.jsonl")
    parser.add_argument("--out", default="results.jsonl", metavar="FILE",
                        help="results, JSON Lines in input order (default results.jsonl; "
                             "'-' for stdout)")
    parser.add_argument("--state", default=None, metavar="FILE",
                        help="the resume state (default <out>.state.jsonl; not used with "
                             "--local, whose renders end with the process)")
    parser.add_argument("--concurrency", type=int, default=10, metavar="N",
                        help="renders in flight at once (default 10)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="start jobs that failed in an earlier run again")
    parser.add_argument("--serve-url", default=None,
                        help="serve URL of jobs that name none (default REMOTION_SERVE_URL; "
                             "with --local, the emulator's site)")
    parser.add_argument("--composition", default=None,
                        help="composition of jobs that name none (default "
                             "REMOTION_COMPOSITION)")
    parser.add_argument("--codec", default="h264", help="codec of jobs that name none")
    parser.add_argument("--json", action="store_true",
                        help="JSON Lines of every job's events on stdout instead of bars")
    add_target_arguments(parser, real_default=True)
    parser.set_defaults(handler=batch_command)


# ---------------------------------------------------------------- jobs


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
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidOptionsError([("jobs", f"cannot read {path}: {exc.strerror or exc}")]) \
            from None
    jobs: list[BatchJob] = []
    problems: list[tuple[str, str]] = []
    keys: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
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


# ---------------------------------------------------------------- state


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


def load_state(path: Path) -> dict[str, JobState]:
    """Read a state file; a torn last line (a crash mid-write) is ignored."""
    states: dict[str, JobState] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return states
    for line in text.splitlines():
        try:
            record = json.loads(line)
            ident = record["job"]
            state = states.setdefault(ident, JobState())
            event = record["event"]
            if event == "starting":
                states[ident] = JobState(digest=record.get("digest"), starting=True,
                                         token=record.get("token"),
                                         starting_at=record.get("at"))
            elif event == "start-failed":
                states[ident] = JobState()
            elif event == "started":
                states[ident] = JobState(
                    digest=record.get("digest"),
                    handle=RenderHandle.model_validate(record["render"]))
            elif event == "finished":
                state.digest = record.get("digest", state.digest)
                state.result = dict(record["result"])
                state.starting = False
        except (ValueError, KeyError, TypeError):
            continue
    return states


class StateLog:
    """Appends records to the state file: each written, flushed and fsynced at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("a+", encoding="utf-8")
        # a crash may have left a torn last line: start on a fresh one
        self._file.seek(0, os.SEEK_END)
        if self._file.tell() > 0:
            self._file.seek(self._file.tell() - 1)
            if self._file.read(1) != "\n":
                self._file.write("\n")

    def append(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps({"v": STATE_VERSION, **record},
                                    separators=(",", ":"), default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def starting(self, job: BatchJob, token: str) -> None:
        self.append({"event": "starting", "job": job.ident, **job.tags,
                     "digest": job.digest, "token": token, "at": round(time.time(), 3)})

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


# ---------------------------------------------------------------- results


def result_record(job: BatchJob, *, handle: RenderHandle | None = None,
                  outcome: Done | Failed | None = None,
                  error: BaseException | str | None = None) -> dict[str, Any]:
    """A job's line in the results file."""
    status = ("done" if isinstance(outcome, Done)
              else "failed" if isinstance(outcome, Failed) else "error")
    record: dict[str, Any] = {
        **job.tags,
        "status": status,
        "renderId": handle.render_id if handle else None,
        "bucketName": handle.bucket_name if handle else None,
    }
    if isinstance(outcome, Done):
        record.update(url=outcome.url, size=outcome.size, cost=outcome.cost)
    elif isinstance(outcome, Failed):
        record.update(error=outcome.message, explanation=outcome.explanation,
                      timedOut=outcome.timed_out)
    else:
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        record.update(error=message)
    return record


def write_results(out: str, results: list[dict[str, Any]]) -> None:
    """Write the results file whole (a temporary file renamed into place)."""
    if out == "-":
        for record in results:
            emit_json(record)
        return
    target = Path(out)
    partial = target.with_name(target.name + ".part")
    with partial.open("w", encoding="utf-8") as file:
        for record in results:
            file.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
    partial.replace(target)


# ---------------------------------------------------------------- running


@dataclass
class _Plan:
    skipped: dict[int, dict[str, Any]]
    reattach: dict[int, RenderHandle]
    fresh: list[int]
    #: Jobs whose start call was cut (the process died in it): their tag and its time.
    unknown: dict[int, tuple[str, float | None]] = field(default_factory=dict)


def plan_jobs(jobs: list[BatchJob], states: dict[str, JobState], *,
              retry_failed: bool, state_path: Path | None) -> _Plan:
    """Which jobs are done, which renders to re-attach to, which to start."""
    plan = _Plan({}, {}, [])
    problems: list[tuple[str, str]] = []
    for job in jobs:
        state = states.get(job.ident)
        if state is None or (state.handle is None and state.result is None
                             and not state.starting):
            plan.fresh.append(job.index)
            continue
        if retry_failed and (state.starting or (
                state.result is not None and state.result.get("status") in FAILED_STATUSES)):
            plan.fresh.append(job.index)
            continue
        if state.digest is not None and state.digest != job.digest:
            problems.append((f"line {job.line}" + (f" ({job.key})" if job.key else ""),
                             f"its options differ from the job {state_path} recorded: "
                             "delete that state file (or pass another --state) to start "
                             "the batch over"))
            continue
        if state.result is not None:
            plan.skipped[job.index] = {**state.result, **job.tags}
        elif state.starting and state.token:
            plan.unknown[job.index] = (state.token, state.starting_at)
        elif state.starting:
            plan.skipped[job.index] = result_record(job, error=UNKNOWN_START)
        else:
            assert state.handle is not None
            plan.reattach[job.index] = state.handle
    if problems:
        raise InvalidOptionsError(problems)
    return plan


class _Runner:
    def __init__(self, target: Target, jobs: list[BatchJob],
                 options: list[RenderMediaOptions], state: StateLog,
                 reporter: BatchReporter, concurrency: int) -> None:
        self.client = target.client
        self.jobs = jobs
        self.options = options
        self.state = state
        self.reporter = reporter
        self.limiter = anyio.CapacityLimiter(concurrency)
        self.pacer = StartPacer(initial=min(8, concurrency), maximum=concurrency)
        self.results: dict[int, dict[str, Any]] = {}

    async def run(self, plan: _Plan) -> None:
        self.results.update(plan.skipped)
        self.client.throttle_listeners.append(self.pacer.on_throttle)
        try:
            async with anyio.create_task_group() as tg:
                # re-attached renders are running already: they get the first slots
                for index, handle in plan.reattach.items():
                    tg.start_soon(self._job, self.jobs[index], handle)
                for index in plan.fresh:
                    tg.start_soon(self._job, self.jobs[index], None)
        finally:
            self.client.throttle_listeners.remove(self.pacer.on_throttle)

    def _finish(self, job: BatchJob, result: dict[str, Any], *, persist: bool) -> None:
        if persist:
            self.state.finished(job, result)
        self.results[job.index] = result
        self.reporter.finished_job(job.index, job.label, result)

    async def _job(self, job: BatchJob, handle: RenderHandle | None) -> None:
        async with self.limiter:
            resumed = handle is not None
            if handle is None:
                handle = await self._start(job)
                if handle is None:
                    return
            await self._follow(job, handle, resumed=resumed)

    async def _start(self, job: BatchJob) -> RenderHandle | None:
        try:
            async with self.pacer:  # (the pacer sees throttles and failures)
                # Ctrl+C waits for the call in flight, so that its outcome is recorded
                with anyio.CancelScope(shield=True):
                    token = secrets.token_hex(8)
                    self.state.starting(job, token)
                    handle = await self.client.render_media(tagged(self.options[job.index],
                                                                   token))
                    self.state.started(job, handle)
        except UNKNOWN_START_ERRORS as exc:  # it may be running: never started again
            self._finish(job, result_record(job, error=exc), persist=True)
            return None
        except Exception as exc:  # provably not started: a rerun retries it
            self.state.start_failed(job)
            self._finish(job, result_record(job, error=exc), persist=False)
            return None
        return handle

    async def _follow(self, job: BatchJob, handle: RenderHandle, *, resumed: bool) -> None:
        self.reporter.started(job.index, job.label, job.tags, handle, resumed=resumed)
        outcome: Done | Failed | None = None
        try:
            async for event in watch(self.client, handle):
                self.reporter.event(job.index, job.tags, event)
                if isinstance(event, (Done, Failed)):
                    outcome = event
        except Exception as exc:  # WatchError & co: still running, a rerun re-attaches
            error = f"{type(exc).__name__}: {exc} (rerun the batch to watch it again)"
            self._finish(job, result_record(job, handle=handle, error=error), persist=False)
            return
        self._finish(job, result_record(job, handle=handle, outcome=outcome),
                     persist=outcome is not None)


#: The render metadata key a batch tags each start with, to find a render whose start
#: call was cut (SIGKILL) when the batch runs again.
JOB_TAG = "aioremotion-job"


def tagged(options: RenderMediaOptions, token: str) -> RenderMediaOptions:
    """The options with the job's tag added to the render's metadata."""
    return options.model_copy(update={"metadata": {**(options.metadata or {}),
                                                   JOB_TAG: token}})


async def find_tagged_renders(client: Any, tokens: dict[str, float | None],
                              buckets: set[str]) -> dict[str, RenderHandle]:
    """The renders (in ``buckets``) whose metadata carries one of ``tokens``.

    Lists ``renders/*/progress.json`` written since the earliest start (less a minute of
    clock skew) and reads their metadata; a render still without metadata is not found.
    """
    times = [at for at in tokens.values() if at is not None]
    since = min(times) - 60 if times else None
    candidates: list[tuple[str, str]] = []
    for bucket in sorted(buckets):
        paginator = client.s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=bucket, Prefix="renders/"):
            for item in page.get("Contents", []):
                key: str = item["Key"]
                parts = key.split("/")
                if len(parts) != 3 or parts[2] != "progress.json":
                    continue
                if since is not None and item["LastModified"].timestamp() < since:
                    continue
                candidates.append((bucket, parts[1]))
    found: dict[str, RenderHandle] = {}
    limiter = anyio.CapacityLimiter(16)

    async def check(bucket: str, render_id: str) -> None:
        async with limiter:
            try:
                read = await client.read_progress_file(render_id, bucket_name=bucket)
            except Exception:  # gone, or unreadable: not ours to decide here
                return
        meta = read.file.render_metadata if read.file is not None else None
        token = (meta.metadata or {}).get(JOB_TAG) if meta is not None else None
        if token in tokens:
            found[token] = RenderHandle(render_id=render_id, bucket_name=bucket,
                                        region=client.region,
                                        function_name=client.function_name)

    async with anyio.create_task_group() as tg:
        for bucket, render_id in candidates:
            tg.start_soon(check, bucket, render_id)
    return found


async def reconcile(client: Any, plan: _Plan, jobs: list[BatchJob],
                    options: list[RenderMediaOptions], states: dict[str, JobState]) -> int:
    """Re-attach the jobs whose start call was cut to the renders they started, found by
    their tag; the others stay reported as "may be running". Returns how many were found.

    It looks in the buckets the batch's other renders went to, the jobs' forced buckets
    and ``REMOTION_BUCKET``; failing those, in the region's Remotion bucket."""
    if not plan.unknown:
        return 0
    buckets = {s.handle.bucket_name for s in states.values() if s.handle is not None}
    buckets.update(b for index in plan.unknown
                   if (b := options[index].force_bucket_name) is not None)
    if os.environ.get("REMOTION_BUCKET"):
        buckets.add(os.environ["REMOTION_BUCKET"])
    if not buckets:
        try:
            bucket = await client.find_bucket()
        except Exception:  # none, or several: then nothing can be found
            bucket = None
        if bucket is not None:
            buckets.add(bucket)
    tokens = dict(plan.unknown.values())
    found = await find_tagged_renders(client, tokens, buckets) if buckets else {}
    for index, (token, _) in plan.unknown.items():
        if token in found:
            plan.reattach[index] = found[token]
        else:
            plan.skipped[index] = result_record(jobs[index], error=UNKNOWN_START)
    plan.unknown.clear()
    return len(found)


async def batch_command(args: argparse.Namespace) -> int:
    """``aioremotion batch``."""
    if args.concurrency < 1:
        raise InvalidOptionsError([("concurrency", f"must be at least 1; got "
                                                   f"{args.concurrency}")])
    jobs = load_jobs(args.jobs)
    defaults = {"serve_url": default_serve_url(args),
                "composition": args.composition or os.environ.get("REMOTION_COMPOSITION")
                or None,
                "codec": args.codec}
    check_jobs(jobs, defaults)  # every line checked before anything starts

    state_path: Path | None = None
    if args.local:
        if args.state:
            print("note: --state is not used with --local (the emulator's renders end "
                  "with this process)", file=sys.stderr)
    else:
        base = args.out if args.out != "-" else args.jobs
        state_path = Path(args.state or f"{base}.state.jsonl")
    states = load_state(state_path) if state_path is not None else {}
    plan = plan_jobs(jobs, states, retry_failed=args.retry_failed, state_path=state_path)
    if state_path is not None:
        args.resume_hint = (f"rerun the same command to resume (state: {state_path}); "
                            "renders already started are watched again, not restarted")

    mode = choose_mode(args.json)
    async with open_target(args, real_default=True) as target:
        options = check_jobs(jobs, {**defaults, "serve_url": target.serve_url})
        found = await reconcile(target.client, plan, jobs, options, states)
        state = StateLog(state_path) if state_path is not None else _NoState()
        try:
            with BatchReporter(mode, total=len(jobs),
                               already_finished=len(plan.skipped)) as reporter:
                if plan.skipped or plan.reattach:
                    reporter.note(f"resuming from {state_path}: {len(plan.skipped)} finished, "
                                  f"{len(plan.reattach)} re-attached, {len(plan.fresh)} to "
                                  "start")
                if found:
                    reporter.note(f"found {found} render(s) whose start call was cut, by "
                                  "their tag: watching them instead of starting again")
                runner = _Runner(target, jobs, options, state, reporter, args.concurrency)
                await runner.run(plan)
        finally:
            state.close()
    results = [runner.results[job.index] for job in jobs]
    write_results(args.out, results)
    bad = [record for record in results if record.get("status") != "done"]
    summary = f"{len(results) - len(bad)} of {len(results)} jobs done"
    if args.out != "-":
        summary += f"; results in {args.out}"
    if bad:
        summary += f"; {len(bad)} not done: " + ", ".join(
            str(record.get("key") or f"line {record.get('line')}") for record in bad[:10])
        if len(bad) > 10:
            summary += ", ..."
    print(summary, file=sys.stderr, flush=True)
    return EXIT_FAILED if bad else EXIT_OK
