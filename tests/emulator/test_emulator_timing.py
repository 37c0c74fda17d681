"""The emulator's timing knobs, as a benchmark relies on them: a per-render slow factor
survives the global one, a slow factor scales only the frame work, and the ``speed``
factor divides the progress.json write interval and the function's timeout too."""

from __future__ import annotations

import json

from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.emulator.faults import Faults


def test_a_render_armed_with_its_own_slow_factor_keeps_it() -> None:
    faults = Faults()
    faults.next_render().slow_factor = 5.0
    faults.next_render()  # armed with something else: takes the global factor
    faults.slow_renders(2.0)
    assert faults.take_render_faults().slow_factor == 5.0
    assert faults.take_render_faults().slow_factor == 2.0
    assert faults.take_render_faults().slow_factor == 2.0


async def test_speed_divides_the_write_interval_and_the_timeout_and_slow_scales_frames_only(
) -> None:
    config = EmulatorConfig(speed=4.0, frame_cost_ms=10.0, invoke_latency_ms=1000.0,
                            combine_cost_ms=400.0, progress_write_interval_s=0.2)
    async with RemotionEmulator(config=config) as emulator:
        emulator.faults.slow_renders(1000)  # 10 s a frame: the render runs until the end
        faults = emulator.faults.next_render()
        faults.invoke_latency_ms = 2000.0
        async with emulator.client() as remotion:
            render = await remotion.render_media(serve_url=emulator.serve_url,
                                                 composition="HelloWorld", codec="h264")
            assert emulator.functions is not None
            job = emulator.functions.launches[render.render_id]
            # the write interval and every duration in real seconds: simulated / speed
            assert job.writer._interval_s == 0.2 / 4
            assert job.faults.invoke_latency_s(config) == 2000.0 / 1000 / 4  # its own latency
            assert job.faults.frame_s(config) == 10.0 * 1000 / 1000 / 4  # only frames slowed
            assert job._sleep_s(config.combine_cost_ms) == 0.1
            read = await remotion.progress_reader.read(render, if_none_match=None)
            assert read.raw is not None
            first = json.loads(read.raw)
            timeout_ms = emulator.functions.timeout_ms_of(job.function_name)
            assert first["timeoutTimestamp"] - first["functionLaunched"] == timeout_ms / 4
