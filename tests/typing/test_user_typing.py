"""A user's own ``mypy --strict`` on code that imports aioremotion as installed.

The package is built into a wheel and installed (not editable) into a scratch folder put
on ``PYTHONPATH``, so mypy sees it as a user's project does: as an installed, ``py.typed``
package whose re-exports must be explicit (a computed ``__all__`` hides every name).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import aioremotion

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def test_all_lists_exactly_the_lazy_exports() -> None:
    assert sorted(aioremotion.__all__) == sorted([*aioremotion._EXPORTS, "__version__"])
    assert len(set(aioremotion.__all__)) == len(aioremotion.__all__)
    assert "BatchObserver" in aioremotion.__all__


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("installed")
    source = work / "source"  # a copy: building writes build/ and *.egg-info beside it
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "aioremotion", source / "aioremotion",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source),
                    "-w", str(work / "wheel")], check=True, capture_output=True, timeout=300)
    [wheel] = (work / "wheel").glob("aioremotion-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(work / "site"), str(wheel)], check=True, capture_output=True,
                   timeout=300)
    assert (work / "site" / "aioremotion" / "py.typed").exists()
    return work


def user_mypy(installed: Path, source: Path) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` on a copy of ``source`` in a folder of its own (so mypy cannot
    find the repository's sources next to it)."""
    project = installed / "project"
    project.mkdir(exist_ok=True)
    (project / source.name).write_text(source.read_text())
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", source.name],
        cwd=project, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(installed / "site"), "PATH": "/usr/bin:/bin"},
    )


def test_a_users_strict_mypy_accepts_the_public_api(installed: Path) -> None:
    done = user_mypy(installed, HERE / "user_app.py")
    assert done.returncode == 0, done.stdout + done.stderr
