"""The ``aioremotion`` command line (also ``python -m aioremotion``).

Commands::

    aioremotion render HelloWorld --local                 # a real MP4 on a local emulator
    aioremotion render MyComp --props '{"title": "Hi"}' --serve-url my-site --out hi.mp4
    aioremotion render MyComp --json | jq .               # JSON Lines of events, then the result
    aioremotion still MyComp --frame 30 --image-format jpeg
    aioremotion watch k1a2b3c4d5 --bucket remotionlambda-useast1-abcdefghij --out out.mp4
    aioremotion batch jobs.jsonl --out results.jsonl --concurrency 20   # resumable
    aioremotion serve --local                             # the web backend on :8000
    aioremotion info                                      # the function's Remotion version
    aioremotion emulator                                  # a local Remotion Lambda, foreground

Configuration comes from the arguments, then the environment, as ``RemotionLambda`` reads
it: ``AWS_REGION``, ``REMOTION_FUNCTION_NAME``, ``REMOTION_SERVE_URL``,
``REMOTION_COMPOSITION``, ``REMOTION_BUCKET``, ``AWS_ENDPOINT_URL_LAMBDA`` /
``AWS_ENDPOINT_URL_S3`` and the usual AWS credentials. ``aioremotion emulator`` runs in
the foreground and prints ``export ...`` lines: pasted into another shell, they point every
command (and any other client) at it.

Progress bars and messages go to stderr (plain, sparse lines when stderr is not a
terminal); stdout carries only machine output (the written file's path, ``--json`` lines).
``render``, ``still`` and ``watch`` watch with
:func:`~aioremotion.watching.live_watch_options` (the default reads and, for the live bar,
an estimated progress every 0.25 s between them); ``batch`` keeps the default options.
Errors name the flag that fixes them (``--function-name``, ``--region``,
``--remotion-version``, ``--serve-url``, ``--local``).

Exit codes (:data:`aioremotion.cli._common.EXIT_CODES`):

* 0: success;
* 1: a render failed (it ran and ended in error; its message and Remotion's explanation
  are on stderr); for ``batch``, a job did not end done;
* 2: bad usage or configuration: invalid options, a missing or wrong setting (function
  name, region, credentials, Remotion version) or a missing extra; nothing was started;
* 3: AWS, the network or a local file failed (throttled for good, no connection, a lost
  answer, a failed download): the command could not finish, and a render it started may
  still be running (``aioremotion watch`` follows it);
* 130: interrupted (Ctrl+C; a batch resumes when run again).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
from collections.abc import Sequence

from .. import __version__
from ._common import EXIT_CODES, EXIT_INTERRUPTED, EXIT_IO, EXIT_OK, EXIT_USAGE
from ._errors import classify

__all__ = ["build_parser", "main"]


def exit_codes_help() -> str:
    """The exit codes, as the help text lists them.

    >>> exit_codes_help().splitlines()[1]
    '  0    success'
    """
    return "exit codes:\n" + "\n".join(
        textwrap.fill(meaning, 79, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7)
        for code, meaning in EXIT_CODES)


def build_parser() -> argparse.ArgumentParser:
    """The ``aioremotion`` argument parser with every subcommand."""
    from . import _batch, _media, _serve

    parser = argparse.ArgumentParser(
        prog="aioremotion",
        description="asyncio client for Remotion Lambda: render, watch, batch, serve, and a "
                    "local emulator",
        epilog=exit_codes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"aioremotion {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _media.add_parsers(sub)
    _batch.add_parser(sub)
    _serve.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aioremotion`` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors (argparse exits with 2)
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None
                                                           else EXIT_USAGE)
    try:
        code: int = asyncio.run(args.handler(args))
    except BaseException as exc:
        known = classify(exc)
        if known is None:
            raise
        code, message = known
        hint = getattr(args, "resume_hint", None)
        if code == EXIT_INTERRUPTED:
            print(f"interrupted; {hint}" if hint else "interrupted", file=sys.stderr,
                  flush=True)
        else:
            print(f"error: {message}", file=sys.stderr, flush=True)
            if code == EXIT_IO and hint:
                print(f"note: {hint}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
