"""``aioremotion render``, ``still``, ``watch`` and ``info``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

from .. import environment
from ..errors import InvalidOptionsError
from ..events import Done, Failed
from ..handles import RenderHandle
from ..protocol.naming import check_bucket_name, check_render_id, file_extension
from ..protocol.options import RenderMediaOptions, RenderStillOptions
from ..protocol.pricing import format_cost
from ..watching import live_watch_options, watch
from ._common import (
    EXIT_OK,
    EXIT_RENDER_FAILED,
    Target,
    add_target_arguments,
    default_serve_url,
    download,
    emit_json,
    human_size,
    load_props,
    open_target,
    output_path,
)
from ._display import RenderReporter, choose_mode

__all__ = ["add_parsers"]

Options = TypeVar("Options", RenderMediaOptions, RenderStillOptions)

def _add_site_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("composition", nargs="?", default=None,
                        help="the composition id (default: REMOTION_COMPOSITION)")
    props = parser.add_mutually_exclusive_group()
    props.add_argument("--props", default=None, metavar="JSON",
                       help="input props as a JSON object")
    props.add_argument("--props-file", default=None, metavar="FILE",
                       help="a file holding the input props as JSON")
    parser.add_argument("--serve-url", default=None,
                        help="the deployed site: a name or https:// URL (default: "
                             "REMOTION_SERVE_URL; with --local, the emulator's site)")
    parser.add_argument("--privacy", default=None, choices=("public", "private", "no-acl"),
                        help="the output's ACL (private outputs download through a "
                             "presigned URL)")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="where to write the output (default: <composition>.<ext>)")
    parser.add_argument("--no-download", action="store_true",
                        help="only print the output's URL")
    parser.add_argument("--json", action="store_true",
                        help="JSON Lines on stdout instead of a progress bar")


def add_parsers(sub: Any) -> None:
    """Register ``render``, ``still``, ``watch`` and ``info``."""
    render = sub.add_parser(
        "render", help="render a video and download it",
        description="Start a render on Remotion Lambda (or, with --local, on an emulator "
                    "started in-process), show its progress, and download the output.")
    _add_site_arguments(render)
    render.add_argument("--codec", default="h264", help="h264 (default), h265, vp8, vp9, "
                                                       "mp3, aac, wav, gif or prores")
    render.add_argument("--frames-per-lambda", type=int, default=None, metavar="N",
                        help="frames each renderer function renders")
    add_target_arguments(render, real_default=True)
    render.set_defaults(handler=render_command)

    still = sub.add_parser(
        "still", help="render a still image and download it",
        description="Render one frame as an image and download it.")
    _add_site_arguments(still)
    still.add_argument("--frame", type=int, default=0, metavar="N",
                       help="the frame to render (default 0; negative counts from the end)")
    still.add_argument("--image-format", default="png",
                       help="png (default), jpeg, webp or pdf")
    add_target_arguments(still, real_default=True)
    still.set_defaults(handler=still_command)

    follow = sub.add_parser(
        "watch", help="follow a render that is already running",
        description="Follow an existing render until it is done (progress bar or --json); "
                    "with --out, download its output.")
    follow.add_argument("render_id", metavar="RENDER_ID")
    follow.add_argument("--bucket", default=None,
                        help="the render's bucket (default: REMOTION_BUCKET)")
    follow.add_argument("--out", default=None, metavar="FILE",
                        help="download the output here when it is done")
    follow.add_argument("--json", action="store_true",
                        help="JSON Lines on stdout instead of a progress bar")
    add_target_arguments(follow, local=False)
    follow.set_defaults(handler=watch_command)

    info = sub.add_parser(
        "info", help="print the deployed function's Remotion version",
        description="Ask the deployed function for its Remotion version (the info routine).")
    info.add_argument("--json", action="store_true", help="a JSON object on stdout")
    add_target_arguments(info, real_default=False)
    info.set_defaults(handler=info_command)


def _composition(args: argparse.Namespace) -> str | None:
    value: str | None = args.composition or environment.setting("composition")
    return value


def _options(args: argparse.Namespace, serve_url: str | None, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"serve_url": serve_url, "composition": _composition(args),
                               **extra}
    if args.privacy is not None:
        options["privacy"] = args.privacy
    return options


def _validated(model: type[Options], args: argparse.Namespace,
               options: dict[str, Any]) -> Options:
    """Validate ``options`` plus the input props, reporting every problem at once."""
    problems: list[tuple[str, str]] = []
    try:
        props = load_props(args)
    except InvalidOptionsError as exc:
        problems.extend(exc.problems)
        props = None
    if props is not None:
        options["input_props"] = props
    hints = {"serve_url": "pass --serve-url, set REMOTION_SERVE_URL, or use --local",
             "composition": "pass it as the first argument or set REMOTION_COMPOSITION"}
    problems.extend((name, f"is required: {hint}") for name, hint in hints.items()
                    if not options.get(name))
    present = {key: value for key, value in options.items() if value is not None}
    try:
        validated = model.model_validate(present)
    except InvalidOptionsError as exc:
        problems.extend(item for item in exc.problems if item[0] not in hints
                        or options.get(item[0]))
        raise InvalidOptionsError(problems) from None
    if problems:
        raise InvalidOptionsError(problems)
    return validated


def _media_options(args: argparse.Namespace, serve_url: str | None) -> RenderMediaOptions:
    extra: dict[str, Any] = {"codec": args.codec}
    if args.frames_per_lambda is not None:
        extra["frames_per_lambda"] = args.frames_per_lambda
    return _validated(RenderMediaOptions, args, _options(args, serve_url, **extra))


def _result(event: Done | Failed, **extra: Any) -> dict[str, Any]:
    if isinstance(event, Done):
        return {"type": "result", "status": "done", "renderId": event.render_id,
                "bucketName": event.bucket_name, "url": event.url, "size": event.size,
                "cost": event.cost, **extra}
    return {"type": "result", "status": "failed", "renderId": event.render_id,
            "error": event.message, "explanation": event.explanation,
            "timedOut": event.timed_out, **extra}


def _print_failure(event: Failed) -> None:
    print(f"error: render {event.render_id} failed: {event.message}", file=sys.stderr)
    if event.explanation:
        print(f"  {event.explanation}", file=sys.stderr)
    for error in event.errors[:3]:
        if error.message != event.message:
            print(f"  chunk {error.chunk}: {error.message}", file=sys.stderr)


async def _follow(target: Target, handle: RenderHandle, args: argparse.Namespace,
                  label: str, *, resumed: bool, out: Path | None, private: bool) -> int:
    """Watch a render to its end, then download its output to ``out`` (if any)."""
    mode = choose_mode(args.json)
    started = time.monotonic()
    outcome: Done | Failed | None = None
    # a live bar gets a heartbeat each second, so that its ETA keeps counting down, and
    # estimates between reads; logs and JSON Lines get what was read, only
    bar = mode == "bar"
    options = live_watch_options(heartbeat_s=1.0 if bar else None, estimates=bar)
    with RenderReporter(mode, label) as reporter:
        reporter.started(handle, resumed=resumed)
        async for event in watch(target.client, handle, options):
            reporter.event(event)
            if isinstance(event, (Done, Failed)):
                outcome = event
    if outcome is None:  # pragma: no cover - watch always ends with an outcome
        return EXIT_RENDER_FAILED
    if isinstance(outcome, Failed):
        if mode == "json":
            emit_json(_result(outcome))
        _print_failure(outcome)
        return EXIT_RENDER_FAILED
    extra: dict[str, Any] = {}
    if out is not None:
        size = await download(target.client, outcome.url, out,
                              bucket_name=outcome.bucket_name, key=outcome.out_key,
                              private=private)
        extra = {"file": str(out), "bytesWritten": size}
    _report_done(mode, outcome, extra, started)
    return EXIT_OK


def _report_done(mode: str, outcome: Done, extra: dict[str, Any], started: float) -> None:
    if mode == "json":
        emit_json(_result(outcome, **extra))
        return
    took = time.monotonic() - started
    where = extra.get("file")
    cost = f", {outcome.cost_display}" if outcome.cost_display else ""
    if where:
        print(f"wrote {where} ({human_size(extra['bytesWritten'])}{cost}) in {took:.1f} s",
              file=sys.stderr)
        print(where, flush=True)
    else:
        print(outcome.url, flush=True)


def _warn_local_url(args: argparse.Namespace, target: Target) -> None:
    """``--local --no-download``: the URL printed dies with the emulator, at exit."""
    if target.emulator is not None and args.no_download and not args.json:
        print("note: with --local the output's URL stops working when this command ends "
              "(the emulator stops with it); drop --no-download to keep the file",
              file=sys.stderr, flush=True)


async def render_command(args: argparse.Namespace) -> int:
    """``aioremotion render``: start, show progress, download."""
    _media_options(args, default_serve_url(args))  # fail on bad options before any start
    async with open_target(args, real_default=True) as target:
        options = _media_options(args, target.serve_url)
        handle = await target.client.render_media(options)
        if target.emulator is None:
            args.resume_hint = (f"render {handle.render_id} keeps running; follow it with: "
                                f"aioremotion watch {handle.render_id} --bucket "
                                f"{handle.bucket_name}")
        composition = options.composition
        _warn_local_url(args, target)
        out = None if args.no_download else output_path(
            args.out, composition, handle.out_key, file_extension(options.codec))
        return await _follow(target, handle, args, composition, resumed=False, out=out,
                             private=options.privacy == "private")


async def still_command(args: argparse.Namespace) -> int:
    """``aioremotion still``: render one frame and download it."""
    def still_options(serve_url: str | None) -> RenderStillOptions:
        return _validated(RenderStillOptions, args, _options(
            args, serve_url, frame=args.frame, image_format=args.image_format))

    options = still_options(default_serve_url(args))
    mode = choose_mode(args.json)
    started = time.monotonic()
    async with open_target(args, real_default=True) as target:
        options = still_options(target.serve_url)
        if mode != "json":
            print(f"{options.composition}: rendering frame {options.frame}...",
                  file=sys.stderr, flush=True)
        _warn_local_url(args, target)
        still = await target.client.render_still(options)
        done = Done(url=still.url, size=still.size_in_bytes, render_id=still.render_id,
                    bucket_name=still.bucket_name, out_key=still.out_key,
                    cost=float(still.estimated_price.accrued_so_far),
                    cost_display=format_cost(float(still.estimated_price.accrued_so_far),
                                            still.estimated_price.currency))
        extra: dict[str, Any] = {}
        if not args.no_download:
            out = output_path(args.out, options.composition, still.out_key,
                              options.image_format)
            size = await download(target.client, still.url, out,
                                  bucket_name=still.bucket_name, key=still.out_key,
                                  private=options.privacy == "private")
            extra = {"file": str(out), "bytesWritten": size}
    _report_done(mode, done, extra, started)
    return EXIT_OK


async def watch_command(args: argparse.Namespace) -> int:
    """``aioremotion watch``: follow an existing render."""
    bucket = args.bucket or environment.setting("bucket_name")
    if not bucket:
        raise InvalidOptionsError(
            [("bucket_name", "is required: pass --bucket (the bucketName the render call "
                             "returned) or set REMOTION_BUCKET")])
    render_id = check_render_id(args.render_id)
    bucket = check_bucket_name(bucket)
    async with open_target(args) as target:
        client = target.client
        handle = RenderHandle(render_id=render_id, bucket_name=bucket, region=client.region,
                              function_name=client.function_name)
        out = output_path(args.out, render_id, None, "") if args.out else None
        return await _follow(target, handle, args, render_id, resumed=True, out=out,
                             private=False)


async def info_command(args: argparse.Namespace) -> int:
    """``aioremotion info``: the deployed function's Remotion version."""
    async with open_target(args, real_default=False) as target:
        client = target.client
        version = await client.function_version()
        if args.json:
            emit_json({"functionName": client.function_name, "region": client.region,
                       "version": version})
        else:
            print(f"{client.function_name} ({client.region}): Remotion {version}",
                  file=sys.stderr)
            print(version, flush=True)
    return EXIT_OK
