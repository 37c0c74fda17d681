"""The package stays ruff- and mypy-clean (part of the default test run, like CI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or "ruff"
    done = run(ruff, "check", "aioremotion", "tests", "examples")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean() -> None:
    done = run(sys.executable, "-m", "mypy", "aioremotion")
    assert done.returncode == 0, done.stdout + done.stderr


def test_doctests_pass() -> None:
    done = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--doctest-modules", "aioremotion/protocol", "aioremotion/errors.py",
               "aioremotion/handles.py", "aioremotion/events.py", "aioremotion/schedule.py",
               "aioremotion/retry.py", "aioremotion/transport/errors.py", "aioremotion/web",
               "aioremotion/environment.py",
               "aioremotion/emulator/media")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
