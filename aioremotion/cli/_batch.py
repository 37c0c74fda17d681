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

The batch is :class:`aioremotion.Batch` (the library's one fan-out engine: paced starts,
throttled starts retried, a lost start answer resolved by the render's tag) plus this
persistence. Like the client, it never starts a render twice on its own. Each start call
tags the render's ``metadata`` with ``<job id>.<random>`` (``aioremotion-job``) that the
``starting`` record keeps. When the process died during a start call, the rerun looks for
a render carrying that tag (``renders/*/progress.json`` written since) and watches it; a
job whose render is not found (its start never arrived, or it has no metadata yet) is
reported with status ``error`` and only started again with ``--retry-failed``.

A damaged state file (a record cut by a crash or a truncated copy, bytes that are not
UTF-8, lines that are not records) is reported, never fatal: the readable records are
used, and every job left without a record is first looked up by its job id (the stable
part of its tags) in the bucket, so that a render whose record was lost is watched, not
started again. Ctrl+C lets the start calls in flight finish and records them before
exiting, so an interrupted batch leaves no unknown starts; only a hard kill can.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from .. import environment
from ..errors import InvalidOptionsError
from ..events import Done, Failed, Progress
from ..fanout import Batch, BatchObserver, Job, JobResult
from ..handles import RenderHandle
from ..protocol.options import RenderMediaOptions
from ..recovery import find_tagged_renders
from ._common import (
    EXIT_IO,
    EXIT_OK,
    EXIT_RENDER_FAILED,
    add_target_arguments,
    default_serve_url,
    emit_json,
    open_target,
)
from ._display import BatchReporter, choose_mode
from ._jobs import BatchJob, check_jobs, load_jobs
from ._outputs import Downloads, file_names
from ._state import JobState, SavedState, StateLog, _NoState, load_state

__all__ = ["BatchJob", "JobState", "SavedState", "StateLog", "add_parser", "load_jobs",
           "load_state"]

FAILED_STATUSES = ("failed", "error")
#: Where ``batch --local`` downloads outputs without ``--out-dir``.
LOCAL_OUT_DIR = "renders"
UNKNOWN_START = (
    "an earlier run stopped during this job's start call, so the render may be running "
    "(look for a new renders/<id>/progress.json in the bucket); it was not started again: "
    "rerun with --retry-failed to start it anyway"
)


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
    parser.add_argument("--out-dir", default=None, metavar="DIR",
                        help="download each done output into DIR, named by the job's key "
                             "(else line-N) and the output's extension; the results give "
                             f"each file's path (default with --local: ./{LOCAL_OUT_DIR}, "
                             "as the emulator's URLs end with the command)")
    parser.add_argument("--json", action="store_true",
                        help="JSON Lines of every job's events on stdout instead of bars")
    add_target_arguments(parser, real_default=True)
    parser.set_defaults(handler=batch_command)


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
    #: Jobs without any record in a damaged state file: to look up by job id first.
    suspect: list[int] = field(default_factory=list)
    #: Where a search for tagged renders starts (epoch seconds; None: everything).
    search_since: float | None = None


def plan_jobs(jobs: list[BatchJob], saved: SavedState, *,
              retry_failed: bool, state_path: Path | None) -> _Plan:
    """Which jobs are done, which renders to re-attach to, which to look up, which to
    start."""
    plan = _Plan({}, {}, [])
    problems: list[tuple[str, str]] = []
    states = saved.jobs
    for job in jobs:
        state = states.get(job.ident)
        if state is None and saved.damaged:
            plan.suspect.append(job.index)  # its records may be among the damaged lines
            continue
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
    times = [at for _, at in plan.unknown.values() if at is not None]
    if plan.suspect:
        plan.search_since = saved.earliest_at  # (None: search every render)
    elif times:
        plan.search_since = min(times)
    return plan


class _Journal(BatchObserver):
    """The CLI's part of a batch: records each job's steps in the state file and shows
    them; the fan-out itself is :class:`~aioremotion.Batch`."""

    def __init__(self, jobs: dict[int, BatchJob], state: StateLog,
                 reporter: BatchReporter, downloads: Downloads | None = None) -> None:
        self.jobs = jobs  # by the batch's index
        self.state = state
        self.reporter = reporter
        self.downloads = downloads
        self.resumed: set[int] = set()
        self.results: dict[int, dict[str, Any]] = {}  # by the job's index

    def starting(self, result: JobResult, tag: str) -> None:
        self.state.starting(self.jobs[result.index], tag)

    def started(self, result: JobResult) -> None:
        job, handle = self.jobs[result.index], result.render
        assert handle is not None
        resumed = result.index in self.resumed
        if not resumed:
            self.state.started(job, handle)
        self.reporter.started(job.index, job.label, job.tags, handle, resumed=resumed)

    def event(self, result: JobResult, event: Progress | Done | Failed) -> None:
        self.reporter.event(self.jobs[result.index].index, self.jobs[result.index].tags,
                            event)

    def finished(self, result: JobResult) -> None:
        job = self.jobs[result.index]
        if result.outcome is not None:  # done or failed: final
            record = result_record(job, handle=result.render, outcome=result.outcome)
            self.state.finished(job, record)
        elif result.start_outcome_unknown:  # may be running: never started again
            record = result_record(job, error=f"{UNKNOWN_START} (its tag: {result.tag})")
            self.state.finished(job, record)
        elif result.render is None and result.error is not None:
            # provably not started (throttled for good, no connection, refused, ...):
            # a rerun starts it
            self.state.start_failed(job)
            record = result_record(job, error=result.error)
        elif result.error is not None:  # still running: a rerun watches it again
            record = result_record(job, handle=result.render, error=(
                f"{type(result.error).__name__}: {result.error} (rerun the batch to watch "
                "it again)"))
        else:
            return  # cancelled with the batch (Ctrl+C): the records say where it stands
        self.results[job.index] = record
        done = result.outcome if isinstance(result.outcome, Done) else None
        cost = done.cost_display if done is not None else None

        def report() -> None:
            self.reporter.finished_job(job.index, job.label, record, cost=cost)

        if done is not None and self.downloads is not None:
            self.downloads.submit(job, record, out_key=done.out_key, then=report)
        else:
            report()


async def run_jobs(client: Any, jobs: list[BatchJob], options: list[RenderMediaOptions],
                   plan: _Plan, state: StateLog, reporter: BatchReporter,
                   concurrency: int, out_dir: Path | None = None
                   ) -> tuple[dict[int, dict[str, Any]], int]:
    """Run the plan on a :class:`~aioremotion.Batch`; every job's results record, by
    index (the skipped ones included), and how many downloads into ``out_dir`` failed."""
    async with anyio.create_task_group() as tasks:
        downloads = (Downloads(client, out_dir, file_names(jobs), tasks)
                     if out_dir is not None else None)
        if downloads is not None:  # outputs of jobs done in an earlier run
            for index, record in plan.skipped.items():
                if record.get("status") == "done" and record.get("url"):
                    downloads.submit(jobs[index], record)
        results = await _run_batch(client, jobs, options, plan,
                                   _Journal({}, state, reporter, downloads), concurrency)
    return results, downloads.failed if downloads is not None else 0


async def _run_batch(client: Any, jobs: list[BatchJob], options: list[RenderMediaOptions],
                     plan: _Plan, journal: _Journal,
                     concurrency: int) -> dict[int, dict[str, Any]]:
    async with Batch(client, max_in_flight=concurrency,
                     max_concurrent_starts=min(50, concurrency), observer=journal) as batch:
        # re-attached renders are running already: they get the first slots
        for index, handle in plan.reattach.items():
            job = jobs[index]
            at = batch.submit(Job(options[index], job.label, render=handle,
                                  job_id=job.job_id))
            journal.jobs[at] = job
            journal.resumed.add(at)
        for index in plan.fresh:
            job = jobs[index]
            journal.jobs[batch.submit(Job(options[index], job.label,
                                          job_id=job.job_id))] = job
    return {**plan.skipped, **journal.results}


async def reconcile(client: Any, plan: _Plan, jobs: list[BatchJob],
                    options: list[RenderMediaOptions], saved: SavedState) -> int:
    """Before anything starts: re-attach the jobs whose start call was cut, and the jobs
    whose records a damaged state file lost, to the renders they started, found by their
    tag. A cut start whose render is not found stays reported as "may be running"; a job
    with lost records and no render found is started. Returns how many were found.

    It looks in the buckets the batch's other renders went to, the jobs' forced buckets
    and ``REMOTION_BUCKET``; failing those, in the region's Remotion buckets."""
    if not plan.unknown and not plan.suspect:
        return 0
    buckets = {s.handle.bucket_name for s in saved.jobs.values() if s.handle is not None}
    buckets.update(b for index in [*plan.unknown, *plan.suspect]
                   if (b := options[index].force_bucket_name) is not None)
    if (bucket := environment.setting("bucket_name")) is not None:
        buckets.add(bucket)
    if not buckets:
        buckets.update(await client.remotion_buckets())
    tokens = {token for token, _ in plan.unknown.values()}
    job_ids = {jobs[index].job_id for index in plan.suspect}
    found = await find_tagged_renders(client, tokens, buckets=buckets,
                                      since_s=plan.search_since,
                                      job_ids=job_ids) if buckets else {}
    for index, (token, _) in plan.unknown.items():
        if token in found:
            plan.reattach[index] = found[token]
        else:
            plan.skipped[index] = result_record(jobs[index], error=UNKNOWN_START)
    for index in plan.suspect:
        handle = found.get(jobs[index].job_id)
        if handle is not None:
            plan.reattach[index] = handle
        else:
            plan.fresh.append(index)
    count = sum(1 for t in tokens if t in found) + sum(1 for j in job_ids if j in found)
    plan.unknown.clear()
    plan.suspect.clear()
    plan.fresh.sort()
    return count


async def batch_command(args: argparse.Namespace) -> int:
    """``aioremotion batch``."""
    if args.concurrency < 1:
        raise InvalidOptionsError([("concurrency", f"must be at least 1; got "
                                                   f"{args.concurrency}")])
    jobs = load_jobs(args.jobs)
    defaults = {"serve_url": default_serve_url(args),
                "composition": args.composition or environment.setting("composition")
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
    saved = load_state(state_path) if state_path is not None else SavedState()
    plan = plan_jobs(jobs, saved, retry_failed=args.retry_failed, state_path=state_path)
    if state_path is not None:
        args.resume_hint = (f"rerun the same command to resume (state: {state_path}); "
                            "renders already started are watched again, not restarted")
    if saved.damaged and state_path is not None:
        print(f"warning: {saved.describe_damage(state_path)}", file=sys.stderr, flush=True)

    out_dir = _out_dir(args)
    mode = choose_mode(args.json)
    async with open_target(args, real_default=True) as target:
        options = check_jobs(jobs, {**defaults, "serve_url": target.serve_url})
        found = await reconcile(target.client, plan, jobs, options, saved)
        state = StateLog(state_path) if state_path is not None else _NoState()
        try:
            with BatchReporter(mode, total=len(jobs),
                               already_finished=len(plan.skipped)) as reporter:
                if plan.skipped or plan.reattach:
                    reporter.note(f"resuming from {state_path}: {len(plan.skipped)} finished, "
                                  f"{len(plan.reattach)} re-attached, {len(plan.fresh)} to "
                                  "start")
                if found:
                    reporter.note(f"found {found} render(s) whose start call was cut or "
                                  "whose record was lost, by their tag: watching them "
                                  "instead of starting again")
                by_index, downloads_failed = await run_jobs(
                    target.client, jobs, options, plan, state, reporter, args.concurrency,
                    out_dir)
        finally:
            state.close()
    results = [by_index[job.index] for job in jobs]
    write_results(args.out, results)
    bad = [record for record in results if record.get("status") != "done"]
    summary = f"{len(results) - len(bad)} of {len(results)} jobs done"
    if args.out != "-":
        summary += f"; results in {args.out}"
    if out_dir is not None:
        summary += f"; outputs in {out_dir}"
        if downloads_failed:
            summary += f" ({downloads_failed} download(s) failed: see downloadError)"
    if bad:
        summary += f"; {len(bad)} not done: " + ", ".join(
            str(record.get("key") or f"line {record.get('line')}") for record in bad[:10])
        if len(bad) > 10:
            summary += ", ..."
    print(summary, file=sys.stderr, flush=True)
    if bad:
        return EXIT_RENDER_FAILED
    return EXIT_IO if downloads_failed else EXIT_OK


def _out_dir(args: argparse.Namespace) -> Path | None:
    """``--out-dir`` (created), else ``./renders`` with ``--local``: the emulator's URLs
    stop working when the command ends, so its outputs are kept on disk."""
    if args.out_dir is None and not args.local:
        return None
    folder = Path(args.out_dir or LOCAL_OUT_DIR).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    if args.out_dir is None and not args.json:
        print(f"note: --local: outputs are downloaded into {folder} (the emulator's URLs end "
              "with this command; --out-dir DIR to choose)", file=sys.stderr, flush=True)
    return folder
