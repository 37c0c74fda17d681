"""``python -m tests.conformance.capture VERSION [VERSION…]`` (see ``--help``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from .records import (
    COMPOSITIONS_CASES,
    COMPOSITIONS_FILE,
    PAYLOAD_FILE,
    SOURCE_CASES,
    VERSIONS_DIR,
    check_version,
    compare_records,
    format_key_diff,
    jobs_for,
    key_diff,
    load_source_cases,
    write_records,
)
from .run import CaptureError, capture, install


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.conformance.capture",
        description="Capture what @remotion/lambda-client@VERSION sends for the option sets "
                    "of tests/conformance/records/payload-cases.json, into "
                    "records/versions/VERSION/payload-cases.json (with --compositions: the "
                    "getCompositionsOnLambda option sets, into compositions-cases.json).")
    parser.add_argument("versions", nargs="+", metavar="VERSION", help="e.g. 4.0.508")
    parser.add_argument("--case", action="append", dest="cases", metavar="NAME",
                        help="capture only this case (repeatable); prints, does not write")
    parser.add_argument("--diff", action="store_true",
                        help="print which payload keys differ from payload-cases.json")
    parser.add_argument("--compare", action="store_true",
                        help="do not write: compare with the committed records of VERSION "
                             "(ignoring the random props hash); exit 1 if they differ")
    parser.add_argument("--compositions", action="store_true",
                        help="capture the getCompositionsOnLambda option sets instead, into "
                             "VERSION/compositions-cases.json (--diff: against 4.0.527's)")
    parser.add_argument("--out", type=Path, default=VERSIONS_DIR,
                        help="folder of the version folders (default: records/versions)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    file_name = COMPOSITIONS_FILE if args.compositions else PAYLOAD_FILE
    if args.compositions:
        source = COMPOSITIONS_CASES
        reference_path = args.out / "4.0.527" / COMPOSITIONS_FILE
        reference = (load_source_cases(reference_path) if reference_path.exists()
                     else COMPOSITIONS_CASES)
    else:
        source = reference = load_source_cases(SOURCE_CASES)
    status = 0
    for version in args.versions:
        try:
            check_version(version)
            jobs = jobs_for(source, version, args.cases)
            node_modules = install(version)
            results = asyncio.run(capture(version, jobs, node_modules))
        except (CaptureError, ValueError) as error:
            print(f"{version}: {error}", file=sys.stderr)
            status = 1
            continue
        records = [result.record for result in results]
        captured = sum(result.captured for result in results)
        print(f"{version}: captured {captured}/{len(results)} cases")
        for result in results:
            if not result.captured:
                status = 1
                print(f"  FAILED {result.record['name']}: no call reached Lambda; "
                      f"client error: {result.client_error}")
            elif result.client_error:
                print(f"  {result.record['name']}: captured; the client then said: "
                      f"{result.client_error}")
        if args.diff:
            for line in format_key_diff(key_diff(reference, records), version):
                print(f"  diff {line}")
        if args.compare:
            committed_path = args.out / version / file_name
            committed = json.loads(committed_path.read_text(encoding="utf-8"))
            if args.cases:
                committed = [r for r in committed if r["name"] in set(args.cases)]
            lines = compare_records(committed, records)
            print(f"  compare with {committed_path}: "
                  + ("identical (modulo the random props hash)" if not lines
                     else f"{len(lines)} differences"))
            for line in lines:
                print(f"    {line}")
            status = status or (1 if lines else 0)
        elif args.cases:
            print(json.dumps(records, indent=1, ensure_ascii=False))
        elif captured == len(results):
            print(f"  wrote {write_records(records, version, args.out, file_name)}")
        else:
            print("  not written: some cases failed")
    return status


if __name__ == "__main__":
    sys.exit(main())
