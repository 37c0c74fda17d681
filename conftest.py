"""What every test folder shares (pytest loads this file before the ones in tests/).

* ``no_ambient_aws`` (autouse): no AWS profile, endpoint or Remotion function name from
  the developer's environment reaches a test;
* ``emulator``: the suite's short name for the ``remotion_emulator`` fixture that
  aioremotion ships (aioremotion/testing/pytest_plugin.py), a fresh running emulator per
  test.  A folder configures it by overriding ``remotion_emulator_config`` in its
  conftest.py, a test with ``@pytest.mark.remotion_emulator(...)``.
"""

from __future__ import annotations

import pytest

from aioremotion.emulator import RemotionEmulator

AMBIENT_AWS = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_LAMBDA",
               "REMOTION_FUNCTION_NAME", "REMOTION_AWS_ACCESS_KEY_ID",
               "REMOTION_AWS_SECRET_ACCESS_KEY")


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AMBIENT_AWS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def emulator(remotion_emulator: RemotionEmulator) -> RemotionEmulator:
    return remotion_emulator
