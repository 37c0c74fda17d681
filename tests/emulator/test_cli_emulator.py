"""`aioremotion emulator` serves in the foreground and prints export lines any client can
`eval`."""

from __future__ import annotations

import os
import subprocess
import sys

import anyio
import pytest

from aioremotion import RemotionLambda


async def test_cli_emulator_prints_a_usable_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "aioremotion", "emulator"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines: list[str] = []
        assert process.stdout is not None
        while len(lines) < 9:
            line = await anyio.to_thread.run_sync(process.stdout.readline)
            assert line, process.stderr.read() if process.stderr else "no output"
            lines.append(line.strip())
        env = {}
        for line in lines:
            assert line.startswith("export ")
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value.strip("'")
        assert set(env) == {
            "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "REMOTION_FUNCTION_NAME",
            "REMOTION_SERVE_URL", "REMOTION_BUCKET", "REMOTION_COMPOSITION"}
        assert env["AWS_ENDPOINT_URL_LAMBDA"].startswith("http://127.0.0.1:")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        async with RemotionLambda() as remotion:
            render = await remotion.render_media(serve_url=env["REMOTION_SERVE_URL"],
                                                 composition=env["REMOTION_COMPOSITION"],
                                                 codec="h264")
            assert render.bucket_name == env["REMOTION_BUCKET"]
    finally:
        process.terminate()
        process.wait(timeout=30)
