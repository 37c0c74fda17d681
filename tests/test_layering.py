"""The shape the redesign keeps: a small client without plumbing, and no botocore or
aiohttp in the modules users call (AWS failures are mapped in aioremotion.transport)."""

from __future__ import annotations

import ast
from pathlib import Path

from aioremotion import RemotionLambda

PACKAGE = Path(__file__).resolve().parents[1] / "aioremotion"

#: Attributes the client used to expose only so that others could reach AWS through it.
PLUMBING = ("s3", "lambda_client", "limiter", "throttle_listeners", "throttled_invocations",
            "read_progress_file", "progress_from_file", "progress_context", "head_output")

#: Where AWS libraries may be imported: the transport, the session helpers, log redaction,
#: the emulator (an AWS stand-in itself) and the CLI's download of a finished output over
#: plain HTTP (its failures become CliError).
#: The transport and its helpers speak to AWS; the emulator and the test kit are the AWS
#: side (servers and proxies) and use aiohttp and botocore as such.
MAY_IMPORT_AWS = ("transport/", "_aws.py", "_redact.py", "testing/", "emulator/",
                  "cli/_common.py")


def test_the_client_is_small_and_has_no_plumbing() -> None:
    lines = (PACKAGE / "client.py").read_text().count("\n")
    assert lines < 450, f"client.py has {lines} lines"
    assert not [name for name in PLUMBING if hasattr(RemotionLambda, name)]


def test_only_the_transport_imports_botocore_or_aiohttp() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(MAY_IMPORT_AWS):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] in ("botocore", "aiohttp") for name in names):
                offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, offenders
