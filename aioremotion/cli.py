"""The ``aioremotion`` command line.

``aioremotion emulator`` serves a local Remotion Lambda in the foreground and prints the
shell lines that point any client at it::

    eval "$(aioremotion emulator --print-env-only)"   # or run it in another terminal
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence


def _emulator_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "emulator",
        help="serve a local Remotion Lambda (Lambda API + S3) until interrupted",
        description="Serve a local Remotion Lambda on 127.0.0.1 and print `export KEY=VALUE` "
                    "lines that point any Remotion Lambda client at it.",
    )
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--real", action="store_true",
                        help="draw and encode real videos (needs aioremotion[emulator])")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="divide simulated render time by this factor")
    parser.add_argument("--frame-cost-ms", type=float, default=0.0,
                        help="simulated time per frame per renderer")


async def _serve_emulator(args: argparse.Namespace) -> int:
    from .testing.emulator import RemotionEmulator
    from .testing.functions import EmulatorConfig

    config = EmulatorConfig(real_encoding=args.real, speed=args.speed,
                            frame_cost_ms=args.frame_cost_ms)
    async with RemotionEmulator(region=args.region, config=config) as emulator:
        for line in emulator.export_lines():
            print(line)
        print("# aioremotion emulator running; press Ctrl+C to stop", file=sys.stderr)
        sys.stdout.flush()
        await asyncio.Event().wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aioremotion`` command."""
    parser = argparse.ArgumentParser(prog="aioremotion",
                                     description="asyncio client for Remotion Lambda")
    sub = parser.add_subparsers(dest="command", required=True)
    _emulator_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "emulator":
            return asyncio.run(_serve_emulator(args))
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
