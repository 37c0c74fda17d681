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
``AWS_ENDPOINT_URL_S3`` and the usual AWS credentials. ``eval "$(aioremotion emulator)"``
in another shell points every command at a running emulator.

Progress bars and messages go to stderr (plain, sparse lines when stderr is not a
terminal); stdout carries only machine output (the written file's path, ``--json`` lines).

Exit codes: 0 success; 1 a render failed (its message and Remotion's explanation are on
stderr) or another error; 2 bad usage or invalid options (nothing was started); 130
interrupted (Ctrl+C; a batch resumes when run again).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import CredentialsError, InvalidOptionsError, RemotionError
from ._common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``aioremotion`` argument parser with every subcommand."""
    from . import _batch, _media, _serve

    parser = argparse.ArgumentParser(
        prog="aioremotion",
        description="asyncio client for Remotion Lambda: render, watch, batch, serve, and a "
                    "local emulator",
        epilog="Exit codes: 0 ok, 1 render failed, 2 invalid options, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"aioremotion {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _media.add_parsers(sub)
    _batch.add_parser(sub)
    _serve.add_parsers(sub)
    return parser


def _error_code(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and message for an error the CLI reports without a traceback."""
    group = getattr(exc, "exceptions", None)
    if isinstance(group, (list, tuple)) and len(group) == 1:
        return _error_code(group[0])
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    if isinstance(exc, InvalidOptionsError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, CliError):
        return exc.code, str(exc)
    if isinstance(exc, CredentialsError):
        return EXIT_FAILED, (f"{exc} (Or add --local to render on a local emulator, no "
                             "AWS account needed.)")
    if isinstance(exc, RemotionError):  # every AWS failure is one (aioremotion.errors)
        return EXIT_FAILED, f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError):  # a file the command reads or writes
        return EXIT_FAILED, f"{type(exc).__name__}: {exc}"
    return None


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
        known = _error_code(exc)
        if known is None:
            raise
        code, message = known
        if code == EXIT_INTERRUPTED:
            hint = getattr(args, "resume_hint", None)
            message = f"interrupted; {hint}" if hint else "interrupted"
        print(f"error: {message}" if code != EXIT_INTERRUPTED else message,
              file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
