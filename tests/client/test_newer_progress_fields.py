"""Progress of Remotion 4.0.535+ functions carries framesUploaded, outputSequence and
separateAudio; older functions' progress does not, and reads the same as before."""

from __future__ import annotations

import pytest

from aioremotion.emulator import EmulatorConfig, RemotionEmulator

FAST = EmulatorConfig(progress_write_interval_s=0.02)


@pytest.mark.parametrize(("version", "newer"), [("4.0.539", True), ("4.0.527", False)])
async def test_progress_exposes_the_versions_fields(version: str, newer: bool) -> None:
    async with RemotionEmulator(remotion_version=version, config=FAST) as emulator, \
            emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="Square", codec="h264")
        await emulator.wait_for_renders()
        via_s3 = await remotion.get_progress(render)
        via_lambda = await remotion.get_progress(render, via="lambda")
    for progress in (via_s3, via_lambda):
        assert progress.done
        dumped = progress.to_json_dict()
        if newer:
            assert progress.frames_uploaded == 0
            assert "framesUploaded" in dumped and "outputSequence" in dumped
        else:
            assert progress.frames_uploaded is None
            assert not {"framesUploaded", "outputSequence", "separateAudio"} & set(dumped)
