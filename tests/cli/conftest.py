"""Every command line test runs without ambient AWS or Remotion settings, in a fresh
current folder (outputs land there)."""

from __future__ import annotations

from pathlib import Path

import pytest

AMBIENT = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_LAMBDA",
           "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
           "AWS_DEFAULT_REGION", "REMOTION_AWS_REGION", "REMOTION_FUNCTION_NAME",
           "REMOTION_SERVE_URL", "REMOTION_COMPOSITION", "REMOTION_BUCKET",
           "REMOTION_AWS_ACCESS_KEY_ID", "REMOTION_AWS_SECRET_ACCESS_KEY")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient AWS or Remotion settings; outputs land in a fresh folder."""
    for name in AMBIENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
