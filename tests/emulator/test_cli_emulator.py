"""`aioremotion emulator` serves in the foreground, prints export lines any client can
`eval`, and says on stderr whether its renders are real H.264 (the default) or synthetic
(``--synthetic``); without the encoder it refuses to start and names the extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from aioremotion import RemotionLambda
from aioremotion.emulator.config import REAL_OUTPUTS, SYNTHETIC_OUTPUTS
from aioremotion.events import Done

from .cli_process import decode_video, emulator_process

ENV_KEYS = {"AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "REMOTION_FUNCTION_NAME",
            "REMOTION_SERVE_URL", "REMOTION_BUCKET", "REMOTION_COMPOSITION"}


async def test_cli_emulator_prints_a_usable_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with emulator_process() as running:
        env = running.env
        assert set(env) == ENV_KEYS
        assert env["AWS_ENDPOINT_URL_LAMBDA"].startswith("http://127.0.0.1:")
        assert REAL_OUTPUTS in running.banner, running.banner  # real H.264 by default
        assert SYNTHETIC_OUTPUTS not in running.banner
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        async with RemotionLambda() as remotion:
            render = await remotion.render_media(serve_url=env["REMOTION_SERVE_URL"],
                                                 composition=env["REMOTION_COMPOSITION"],
                                                 codec="h264")
            assert render.bucket_name == env["REMOTION_BUCKET"]


async def test_synthetic_flag_says_outputs_are_not_playable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with emulator_process("--synthetic") as running:
        assert SYNTHETIC_OUTPUTS in running.banner, running.banner
        assert "drop --synthetic for real H.264" in running.banner
        for key, value in running.env.items():
            monkeypatch.setenv(key, value)
        async with RemotionLambda() as remotion:
            done = await remotion.render(serve_url=running.env["REMOTION_SERVE_URL"],
                                         composition="HelloWorld", codec="h264")
    assert isinstance(done, Done)
    assert done.size < 1000  # a placeholder, not a 5 s 720p video


def test_without_the_encoder_nothing_starts_and_the_extra_is_named() -> None:
    """No silent fall back to synthetic outputs: `emulator` and `serve --local` exit with
    what to install, and the library's emulator refuses to start with real encoding."""
    script = textwrap.dedent(
        """
        import asyncio, contextlib, io, json, sys
        for name in ("numpy", "PIL", "imageio_ffmpeg", "av"):
            sys.modules[name] = None  # makes the encoder's packages unimportable
        from aioremotion.cli import main
        from aioremotion.emulator import EmulatorConfig, RemotionEmulator
        from aioremotion.emulator.media import MediaDependencyError

        results = {}
        for argv in (["emulator"], ["serve", "--local", "--port", "0"]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(argv)
            results[argv[0]] = [code, err.getvalue()]

        async def library():
            try:
                async with RemotionEmulator(config=EmulatorConfig(real_encoding=True)):
                    return "started"
            except MediaDependencyError as exc:
                return str(exc)

        results["library"] = asyncio.run(library())
        print(json.dumps(results))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for command in ("emulator", "serve"):
        code, err = results[command]
        assert code == 1, (command, err)
        assert 'pip install "aioremotion[emulator]"' in err, (command, err)
        assert "--synthetic" in err, (command, err)
        assert "rendering on a local emulator" not in err, (command, err)
    assert 'pip install "aioremotion[emulator]"' in results["library"]


async def test_aioremotion_render_out_gets_a_playable_mp4(tmp_path: Path) -> None:
    """What a user does with the export lines: `aioremotion render HelloWorld --out x.mp4`
    in a shell where they are set."""
    out = tmp_path / "x.mp4"
    async with emulator_process() as running:
        with anyio.fail_after(180):
            done = await anyio.run_process(
                [sys.executable, "-m", "aioremotion", "render", "HelloWorld", "--out", str(out)],
                env={**os.environ, **running.env}, check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert done.stdout.decode().strip() == str(out)
    assert decode_video(out) == {"codec": "h264", "frames": 150, "width": 1280, "height": 720}
