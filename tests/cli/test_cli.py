"""The ``aioremotion`` command line, run in-process (``main([...])`` in a worker thread, as
it calls ``asyncio.run``) or as ``python -m aioremotion``, always on an emulator: either
``--local`` (started by the command) or one started here with its environment exported.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from aioremotion.cli import main
from aioremotion.cli._batch import (
    JobState,
    StateLog,
    check_jobs,
    load_jobs,
    load_state,
    plan_jobs,
    reconcile,
)
from aioremotion.cli._display import RenderReporter, choose_mode
from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.emulator.media import encoder_available, ffprobe_like
from aioremotion.events import Progress
from aioremotion.handles import RenderHandle
from aioremotion.recovery import tag_options


@asynccontextmanager
async def exported_emulator(monkeypatch: pytest.MonkeyPatch,
                            **config: Any) -> AsyncIterator[RemotionEmulator]:
    """An emulator in this process whose environment the CLI picks up (as after
    pasting the ``export`` lines ``aioremotion emulator`` prints)."""
    settings: dict[str, Any] = {"progress_write_interval_s": 0.02,
                                "cancel_poll_interval_s": 0.05, **config}
    async with RemotionEmulator(config=EmulatorConfig(**settings)) as emulator:
        for key, value in emulator.env.items():
            monkeypatch.setenv(key, value)
        yield emulator


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``aioremotion ARGS`` in-process; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = await anyio.to_thread.run_sync(main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------- render


@pytest.mark.skipif(not encoder_available(), reason="needs the emulator extra (Pillow, av)")
async def test_render_local_json_writes_a_real_mp4(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    code, out, err = await cli(capsys, "render", "Square", "--local", "--json",
                               "--props", '{"label": "hi"}')
    assert code == 0, err
    records = json_lines(out)
    assert records[0]["type"] == "started" and records[0]["renderId"]
    types = [record["type"] for record in records]
    assert types[-2:] == ["done", "result"]
    assert set(types[1:-2]) <= {"progress"}
    result = records[-1]
    assert result["status"] == "done" and result["renderId"] == records[0]["renderId"]
    path = Path(result["file"])
    assert path == tmp_path / "Square.mp4"
    assert path.stat().st_size == result["bytesWritten"] == records[-2]["size"] > 0
    info = await anyio.to_thread.run_sync(ffprobe_like, path)
    assert info["video_codec"] == "h264" and (info["width"], info["height"]) == (160, 90)
    assert info["frames"] == 30 and not info["errors"]


async def test_render_to_a_non_tty_prints_sparse_plain_lines(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    # the render (40 ms a frame) outlasts the first read, first_delay_s after the start
    async with exported_emulator(monkeypatch, frame_cost_ms=40) as emulator:
        # everything (endpoints, function, site, composition) comes from the environment
        code, out, err = await cli(capsys, "render", "--out", "video.mp4")
        assert emulator.functions is not None and emulator.functions.renders_started == 1
    assert code == 0, err
    assert out == f"{tmp_path / 'video.mp4'}\n"  # stdout: only the written file
    lines = err.splitlines()
    assert "\x1b[" not in err  # no bar, no escape codes
    assert lines[0].startswith("HelloWorld: started render ")
    progress = [line for line in lines if "% " in line]
    assert 1 <= len(progress) <= 11
    assert all("frames" in line and "chunks" in line and "ETA" in line for line in progress)
    assert any(line.startswith("HelloWorld: done http://127.0.0.1:") for line in lines)
    assert lines[-1].startswith(f"wrote {tmp_path / 'video.mp4'}")
    assert (tmp_path / "video.mp4").stat().st_size > 0


def test_the_bar_shows_percent_frames_chunks_eta_and_cost() -> None:
    stream = io.StringIO()
    with RenderReporter("bar", "HelloWorld", stream=stream) as reporter:
        reporter.event(Progress(progress=0.5, frames_rendered=75, chunks=4, total_chunks=8,
                                cost_so_far=0.001, cost_display="$0.001", eta_seconds=72))
    text = stream.getvalue()
    for part in ("HelloWorld", "50%", "75 frames", "4/8 chunks", "ETA 1:12", "$0.001"):
        assert part in text
    assert choose_mode(False, io.StringIO()) == "plain"
    assert choose_mode(True) == "json"


async def test_a_failed_render_exits_1_with_its_message(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    async with exported_emulator(monkeypatch) as emulator:
        emulator.faults.fail_chunk(0, retryable=False,
                                   message="TypeError: Cannot read properties of undefined")
        code, out, err = await cli(capsys, "render", "HelloWorld", "--json")
    assert code == 1
    records = json_lines(out)
    assert records[-2]["type"] == "error"
    assert records[-1]["type"] == "result" and records[-1]["status"] == "failed"
    assert "Cannot read properties of undefined" in records[-1]["error"]
    assert "error: render" in err and "Cannot read properties of undefined" in err
    assert not list(Path.cwd().iterdir())  # nothing downloaded


@pytest.mark.parametrize(
    ("args", "fields"),
    [
        (["render", "HelloWorld", "--local", "--frames-per-lambda", "3"],
         ["frames_per_lambda"]),
        (["render", "HelloWorld", "--local", "--codec", "avi", "--props", "{"],
         ["input_props", "codec"]),
        (["render"], ["serve_url", "composition"]),
        (["still", "Square", "--local", "--image-format", "gif"], ["image_format"]),
        (["watch", "k1a2b3c4d5"], ["bucket_name"]),
    ],
)
async def test_invalid_options_exit_2_naming_the_field(
        capsys: pytest.CaptureFixture[str], args: list[str], fields: list[str]) -> None:
    code, out, err = await cli(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith("error: Invalid options:")
    for field in fields:
        assert f"  {field}: " in err


async def test_missing_credentials_exit_2_suggesting_local(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = await cli(capsys, "info")
    assert code == 2 and out == ""  # a configuration error: nothing could start
    assert "No AWS credentials were found" in err and "--local" in err


async def test_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await cli(capsys, "render", "X", "--bogus")
    assert code == 2 and "unrecognized arguments: --bogus" in err
    for command in ("render", "still", "watch", "batch", "serve", "info", "emulator"):
        code, out, _ = await cli(capsys, command, "--help")
        assert code == 0 and "usage: aioremotion" in out


# ---------------------------------------------------------------- still, watch, info


async def test_still_local_writes_the_image(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    code, out, err = await cli(capsys, "still", "Square", "--local", "--frame", "3")
    assert code == 0, err
    assert out == f"{tmp_path / 'Square.png'}\n"
    assert (tmp_path / "Square.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    code, out, err = await cli(capsys, "still", "Square", "--local", "--synthetic", "--json",
                               "--image-format", "jpeg", "--out", "thumb.jpg",
                               "--privacy", "private")  # downloaded via a presigned URL
    assert code == 0, err
    [result] = json_lines(out)
    assert result["status"] == "done" and result["file"] == str(tmp_path / "thumb.jpg")
    assert result["url"].endswith(".jpeg") and result["bytesWritten"] > 0


async def test_watch_follows_an_existing_render(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    async with exported_emulator(monkeypatch, frame_cost_ms=3) as emulator:
        async with emulator.client() as remotion:
            render = await remotion.render_media(serve_url=emulator.serve_url,
                                                 composition="HelloWorld", codec="h264")
        code, out, err = await cli(capsys, "watch", render.render_id, "--bucket",
                                   render.bucket_name, "--json", "--out", "followed.mp4")
        assert code == 0, err
        records = json_lines(out)
        assert records[0]["type"] == "started" and records[0]["resumed"] is True
        assert records[-1]["status"] == "done"
        assert records[-1]["renderId"] == render.render_id
        assert (tmp_path / "followed.mp4").stat().st_size == records[-1]["size"]

        # REMOTION_BUCKET (exported by the emulator) stands in for --bucket
        code, out, err = await cli(capsys, "watch", render.render_id)
        assert code == 0, err
        assert out.strip() == records[-1]["url"]
        assert emulator.functions is not None and emulator.functions.renders_started == 1


async def test_info_prints_the_function_version(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    async with exported_emulator(monkeypatch) as emulator:
        code, out, err = await cli(capsys, "info")
        assert code == 0, err
        assert out == f"{emulator.remotion_version}\n"
        code, out, _ = await cli(capsys, "info", "--json")
        assert json.loads(out) == {"functionName": emulator.function_name,
                                   "region": emulator.region,
                                   "version": emulator.remotion_version}


# ---------------------------------------------------------------- batch


def write_jobs(path: Path, count: int, **extra: Any) -> list[str]:
    keys = [f"job-{number}" for number in range(count)]
    lines = [json.dumps({"key": key, "composition": "Square", "inputProps": {"n": n}, **extra})
             for n, key in enumerate(keys)]
    path.write_text("\n".join(lines) + "\n")
    return keys


async def test_batch_renders_five_jobs_with_results_in_order(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    write_jobs(jobs, 4)
    with jobs.open("a") as file:  # a job without a key is known by its line number
        file.write('\n{"composition": "Square", "codec": "h264"}\n')
    code, out, err = await cli(capsys, "batch", str(jobs), "--local", "--synthetic",
                               "--concurrency", "3")
    assert code == 0, err
    results = json_lines((tmp_path / "results.jsonl").read_text())
    assert [r["key"] for r in results] == ["job-0", "job-1", "job-2", "job-3", None]
    assert [r["line"] for r in results] == [1, 2, 3, 4, 6]
    assert all(r["status"] == "done" and r["url"].startswith("http://127.0.0.1:")
               and r["size"] > 0 and r["renderId"] for r in results)
    assert len({r["renderId"] for r in results}) == 5
    assert "5 of 5 jobs done" in err and out == ""
    assert not (tmp_path / "results.jsonl.state.jsonl").exists()  # --local keeps no state


async def test_batch_refuses_invalid_lines_before_starting_anything(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"key": "a", "composition": "Square"}\n'
                    '{"key": "b", "composition": "Square", "framesPerLambda": 2}\n'
                    'not json\n'
                    '{"key": "a", "composition": "Square"}\n')
    code, _, err = await cli(capsys, "batch", str(jobs), "--local", "--synthetic")
    assert code == 2
    assert "line 3: is not valid JSON" in err
    assert "line 4: key: 'a' is also the key of line 1" in err
    jobs.write_text('{"key": "a", "composition": "Square"}\n'
                    '{"key": "b", "composition": "Square", "framesPerLambda": 2}\n'
                    '{"key": "c"}\n')
    code, _, err = await cli(capsys, "batch", str(jobs), "--local", "--synthetic")
    assert code == 2 and "line 2 (b): frames_per_lambda: must be at least" in err
    assert "line 3 (c): composition: is required: name it in the job, pass --composition" in err
    assert not (tmp_path / "results.jsonl").exists()


async def test_batch_json_and_failures(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    write_jobs(jobs, 2)
    async with exported_emulator(monkeypatch) as emulator:
        emulator.faults.fail_chunk(0, retryable=False, message="boom")
        code, out, err = await cli(capsys, "batch", str(jobs), "--concurrency", "1", "--json",
                                   "--out", "-")
        assert code == 1
        records = json_lines(out)
        events = [r for r in records if "type" in r]
        results = [r for r in records if "type" not in r]
        assert {e["key"] for e in events} == {"job-0", "job-1"}
        assert {e["type"] for e in events} >= {"started", "done", "error"}
        assert [(r["key"], r["status"]) for r in results] == [("job-0", "failed"),
                                                              ("job-1", "done")]
        assert results[0]["error"] == "boom"
        # a failed job is finished: a rerun keeps it, --retry-failed starts it again
        code, out, _ = await cli(capsys, "batch", str(jobs), "--out", "-")
        assert code == 1 and emulator.functions is not None
        assert emulator.functions.renders_started == 2
        code, out, _ = await cli(capsys, "batch", str(jobs), "--out", "-", "--retry-failed")
        assert code == 0 and emulator.functions.renders_started == 3
        assert [r["status"] for r in json_lines(out)] == ["done", "done"]
        # the state is per job: changed options are refused instead of being confused
        write_jobs(jobs, 2, codec="vp8")
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", "-")
        assert code == 2 and "its options differ" in err


def state_of(path: Path) -> dict[str, JobState]:
    """The state file as the batch reads it, by key (a line being written is skipped)."""
    return {ident.removeprefix("key:"): job for ident, job in load_state(path).jobs.items()}


def start_batch(jobs: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aioremotion", "batch", str(jobs), "--out", str(out),
         "--concurrency", "2", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop(process: subprocess.Popen[str]) -> bool:
    """SIGSTOP ``process`` and wait until it is stopped; False if it had ended."""
    process.send_signal(signal.SIGSTOP)
    if process.returncode is not None:
        return False
    _, status = os.waitpid(process.pid, os.WUNTRACED)
    if os.WIFSTOPPED(status):
        return True
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
    return False


async def interrupt_when(process: subprocess.Popen[str], state: Path, ready: Any,
                         sig: signal.Signals) -> None:
    """Send ``sig`` once the state file satisfies ``ready``: checked again with the process
    stopped, so the state it is interrupted in is the state the test saw."""
    try:
        with anyio.fail_after(30):
            while True:
                if ready(state_of(state)):
                    if await anyio.to_thread.run_sync(stop, process) and ready(state_of(state)):
                        break
                    process.send_signal(signal.SIGCONT)
                if process.poll() is not None:
                    pytest.fail(f"the batch ended before it was interrupted: "
                                f"{process.communicate()[1]}")
                await anyio.sleep(0.01)
    finally:
        process.send_signal(sig)
        process.send_signal(signal.SIGCONT)


async def test_batch_resumes_after_sigkill_without_starting_anything_twice(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    jobs, out = tmp_path / "jobs.jsonl", tmp_path / "results.jsonl"
    state = tmp_path / "results.jsonl.state.jsonl"
    keys = write_jobs(jobs, 5)
    async with exported_emulator(monkeypatch, frame_cost_ms=25) as emulator:
        assert emulator.functions is not None
        process = start_batch(jobs, out)

        def some_done_some_running(states: dict[str, JobState]) -> bool:
            return (any(s.result for s in states.values())
                    and any(s.handle and not s.result for s in states.values()))

        await interrupt_when(process, state, some_done_some_running, signal.SIGKILL)
        assert await anyio.to_thread.run_sync(process.wait) == -signal.SIGKILL
        process.communicate()
        with anyio.fail_after(30):  # a start call sent just before the kill still lands
            await emulator.server.wait_idle()
        states = state_of(state)
        finished = {key: s.result for key, s in states.items() if s.result}
        running = {key: s.handle for key, s in states.items() if s.handle and not s.result}
        # a kill during a start call leaves its outcome unknown: never started again
        unknown = {key for key, s in states.items() if s.starting}
        assert finished and running and not out.exists()
        before = emulator.functions.renders_started

        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out),
                                 "--concurrency", "2")
        results = json_lines(out.read_text())
        # a job killed inside its start call: its render is found by its tag and watched,
        # or (when the call never reached the function) reported, never started again
        found = sum(1 for r in results if r["key"] in unknown and r["status"] == "done")
        assert code == (1 if found < len(unknown) else 0), err
        assert (f"{len(finished) + len(unknown) - found} finished, "
                f"{len(running) + found} re-attached") in err
        # the rerun started exactly the jobs that had never been started
        assert emulator.functions.renders_started - before == 5 - len(states)
        if not unknown:
            assert emulator.functions.renders_started == 5
        assert [r["key"] for r in results] == keys
        by_key = {r["key"]: r for r in results}
        for key, result in finished.items():  # kept, not rendered again
            assert by_key[key] == {**result, "line": keys.index(key) + 1}
        for key, handle in running.items():  # re-attached: the same render, now done
            assert by_key[key]["renderId"] == handle.render_id
            assert by_key[key]["status"] == "done"
        for key in unknown:
            assert by_key[key]["status"] == "done" or "may be running" in by_key[key]["error"]
        assert all(r["status"] == "done" for r in results if r["key"] not in unknown)

        # once every job has an outcome, a rerun starts nothing and writes the same results
        started = emulator.functions.renders_started
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out))
        assert emulator.functions.renders_started == started
        assert json_lines(out.read_text()) == results


async def test_ctrl_c_exits_130_with_every_start_recorded(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    jobs, out = tmp_path / "jobs.jsonl", tmp_path / "results.jsonl"
    state = tmp_path / "results.jsonl.state.jsonl"
    write_jobs(jobs, 5)
    async with exported_emulator(monkeypatch, frame_cost_ms=25) as emulator:
        assert emulator.functions is not None
        process = start_batch(jobs, out)
        await interrupt_when(process, state, lambda states: len(states) >= 2, signal.SIGINT)
        with anyio.fail_after(60):  # (the emulator must keep serving meanwhile)
            _, err = await anyio.to_thread.run_sync(process.communicate)
        assert process.returncode == 130, err
        assert "interrupted; rerun the same command to resume" in err
        with anyio.fail_after(30):  # anything the batch sent has landed
            await emulator.server.wait_idle()
        states = state_of(state)
        # the start calls in flight were waited for: none is left unknown
        assert not any(s.starting for s in states.values())
        assert emulator.functions.renders_started == sum(
            1 for s in states.values() if s.handle is not None)
        assert not out.exists()


def test_an_unknown_start_is_reported_and_only_retried_when_asked(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    write_jobs(jobs, 2)
    [first, second] = load_jobs(str(jobs))
    path = tmp_path / "state.jsonl"
    log = StateLog(path)
    log.starting(first, "0123456789abcdef")  # ...and the process died inside the call
    log.starting(second, "fedcba9876543210")
    log.start_failed(second)  # a start that provably did not happen
    log.close()
    plan = plan_jobs([first, second], load_state(path), retry_failed=False, state_path=path)
    assert plan.fresh == [1] and not plan.reattach and not plan.skipped
    assert plan.unknown == {0: ("0123456789abcdef", pytest.approx(time.time(), abs=60))}
    plan = plan_jobs([first, second], load_state(path), retry_failed=True, state_path=path)
    assert plan.fresh == [0, 1] and not plan.skipped and not plan.unknown


async def test_a_cut_start_is_found_by_its_tag_or_reported(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    jobs_file = tmp_path / "jobs.jsonl"
    write_jobs(jobs_file, 2)
    jobs = load_jobs(str(jobs_file))
    path = tmp_path / "state.jsonl"
    log = StateLog(path)
    log.starting(jobs[0], "0123456789abcdef")  # this call reached the function ...
    log.starting(jobs[1], "fedcba9876543210")  # ... this one never did
    log.close()
    async with exported_emulator(monkeypatch) as emulator, emulator.client() as remotion:
        options = check_jobs(jobs, {"serve_url": emulator.serve_url, "codec": "h264"})
        landed = await remotion.render_media(tag_options(options[0], "0123456789abcdef"))
        await emulator.wait_for_renders()
        states = load_state(path)
        plan = plan_jobs(jobs, states, retry_failed=False, state_path=path)
        assert await reconcile(remotion, plan, jobs, options, states) == 1
    assert plan.reattach[0].render_id == landed.render_id
    assert plan.skipped[1]["status"] == "error" and "may be running" in plan.skipped[1]["error"]
    assert not plan.unknown and not plan.fresh


def test_state_file_survives_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    handle = RenderHandle(render_id="k1a2b3c4d5", bucket_name="remotionlambda-useast1-abcdefghij",
                          region="us-east-1",
                          function_name="remotion-render-4-0-527-mem2048mb-disk2048mb-120sec")
    record = {"v": 1, "event": "started", "job": "key:a", "key": "a", "line": 1,
              "digest": "d", "render": handle.model_dump(mode="json", by_alias=True)}
    path.write_text(json.dumps(record) + '\n{"v": 1, "event": "fini')
    saved = load_state(path)
    assert saved.jobs["key:a"].handle == handle and saved.jobs["key:a"].result is None
    assert saved.damaged_lines == [2]  # reported: it may hide lost records
    log = StateLog(path)  # appends on a fresh line after the torn one
    log.append({"event": "finished", "job": "key:a", "digest": "d",
                "result": {"status": "done"}})
    log.close()
    assert load_state(path).jobs["key:a"].result == {"status": "done"}


async def test_batch_never_starts_twice_a_start_reset_after_sending(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    """The start reached the function, then the connection was reset: the batch finds
    the render by its tag and watches it; a rerun starts nothing."""
    from aioremotion.testing import FaultyProxy

    jobs, out = tmp_path / "jobs.jsonl", tmp_path / "results.jsonl"
    write_jobs(jobs, 3)
    async with exported_emulator(monkeypatch) as emulator, \
            FaultyProxy(emulator.lambda_endpoint) as proxy:
        assert emulator.functions is not None
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", proxy.endpoint_url)
        proxy.reset_after_forward(times=2, body_match=b'"type":"start"')
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out))
        assert code == 0, err
        assert proxy.count(fault="reset-after-forward") == 2
        results = json_lines(out.read_text())
        assert [r["status"] for r in results] == ["done"] * 3
        started = {r.render_id for r in emulator.functions.started_renders}
        assert {r["renderId"] for r in results} == started and len(started) == 3
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out))
        assert code == 0, err
        assert emulator.functions.renders_started == 3


async def test_batch_retries_starts_that_stay_throttled(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    """Sustained throttling still finishes the job: the batch, being the library's Batch,
    sends a throttled start again (a throttled start never ran), within one attempt
    budget (the client makes one attempt per send)."""
    jobs, out = tmp_path / "jobs.jsonl", tmp_path / "results.jsonl"
    write_jobs(jobs, 1)
    async with exported_emulator(monkeypatch) as emulator:
        assert emulator.functions is not None
        emulator.faults.throttle_next(7, routines={"start"})  # 7 throttles in a row
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out))
        assert code == 0, err
        assert emulator.functions.throttled == 7
        assert emulator.functions.renders_started == 1
    assert [r["status"] for r in json_lines(out.read_text())] == ["done"]


async def test_batch_reports_a_state_file_with_bytes_that_are_not_utf8(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    jobs, out = tmp_path / "jobs.jsonl", tmp_path / "results.jsonl"
    state = tmp_path / "results.jsonl.state.jsonl"
    write_jobs(jobs, 2)
    async with exported_emulator(monkeypatch) as emulator:
        assert emulator.functions is not None
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out))
        assert code == 0, err
        first = json_lines(out.read_text())
        data = state.read_bytes()
        state.write_bytes(data[:10] + b"\xff" + data[11:])  # one byte of the first record
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out))
        assert code == 0, err
        assert "warning:" in err and "1 unreadable record(s) (line 1" in err
        assert emulator.functions.renders_started == 2  # nothing started again
        assert json_lines(out.read_text()) == first


async def test_batch_state_file_cut_mid_line_finds_the_lost_jobs_by_their_tag(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    """A truncated state file loses the records of whole jobs: they are looked up by the
    stable part of their tags before anything starts, and re-attached, not re-rendered."""
    jobs, out = tmp_path / "jobs.jsonl", tmp_path / "results.jsonl"
    state = tmp_path / "results.jsonl.state.jsonl"
    write_jobs(jobs, 4)
    async with exported_emulator(monkeypatch) as emulator:
        assert emulator.functions is not None
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out),
                                 "--concurrency", "1")
        assert code == 0, err
        first = {r["key"]: r["renderId"] for r in json_lines(out.read_text())}
        lines = state.read_bytes().split(b"\n")
        # keep job-0's records and half a line of job-1's: job-1..3 lose every record
        kept = [line for line in lines if b'"job-0"' in line]
        cut = next(line for line in lines if b'"job-1"' in line)
        state.write_bytes(b"\n".join(kept) + b"\n" + cut[: len(cut) // 2])
        out.unlink()
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out))
        assert code == 0, err
        assert "unreadable record(s)" in err
        assert "found 3 render(s)" in err
        assert emulator.functions.renders_started == 4  # none rendered twice
        assert {r["key"]: r["renderId"] for r in json_lines(out.read_text())} == first


async def test_batch_names_a_jobs_line_that_is_not_utf8(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_bytes(b'{"key": "a", "composition": "Square"}\n'
                     b'{"key": "b\xff", "composition": "Square"}\n')
    code, _, err = await cli(capsys, "batch", str(jobs), "--local", "--synthetic")
    assert code == 2, err
    assert "line 2: is not valid UTF-8 (byte 0xff at column 11)" in err
    assert "Traceback" not in err


async def test_batch_jobs_nested_deeply(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Props at the nesting limit render; deeper ones name their line, no traceback."""
    jobs = tmp_path / "jobs.jsonl"
    at_limit = '{"a":' * 499 + "1" + "}" * 499  # the props object is level 1
    jobs.write_text('{"key": "ok", "composition": "Square", "inputProps": ' + at_limit + "}\n")
    code, _, err = await cli(capsys, "batch", str(jobs), "--local", "--synthetic")
    assert code == 0, err
    jobs.write_text('{"key": "deep", "composition": "Square", "inputProps": '
                    + "[" * 1200 + "]" * 1200 + "}\n")
    code, _, err = await cli(capsys, "batch", str(jobs), "--local", "--synthetic")
    assert code == 2, err
    assert "line 1: is nested 1201 levels deep; at most 501 are supported" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------- serve


async def test_serve_local_answers_http(tmp_path: Path) -> None:
    pytest.importorskip("aioremotion.web")
    pytest.importorskip("uvicorn")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "aioremotion", "serve", "--local", "--synthetic", "--port",
         str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        import httpx

        async with httpx.AsyncClient() as http:
            with anyio.fail_after(20):
                while True:
                    assert process.poll() is None, process.communicate()[1]
                    try:
                        response = await http.get(f"http://127.0.0.1:{port}/")
                        break
                    except httpx.TransportError:
                        await anyio.sleep(0.1)
        assert response.status_code < 500
    finally:
        process.terminate()
        process.communicate(timeout=20)


# ---------------------------------------------------------------- deeply nested --props


def deep_props(levels: int) -> str:
    """Props ``levels`` deep as JSON text (the props object is the first level)."""
    return '{"a":' * (levels - 1) + "[]" + "}" * (levels - 1)


@pytest.mark.parametrize("levels", [501, 990, 100_000])
async def test_too_deep_props_exit_2_with_one_problem_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, levels: int) -> None:
    props_file = tmp_path / "props.json"
    props_file.write_text(deep_props(levels), encoding="utf-8")
    for command, source in ((["render", "HelloWorld", "--local", "--props", deep_props(levels)],
                             "--props"),
                            (["still", "Square", "--local", "--props-file", str(props_file)],
                             str(props_file))):
        code, out, err = await cli(capsys, *command)
        assert (code, out) == (2, "")
        assert "Traceback" not in err and "RecursionError" not in err
        assert err.splitlines() == [
            "error: Invalid options:",
            f"  input_props: {source} is nested {levels} levels deep; at most 500 are "
            "supported: flatten the props",
        ]


async def test_props_at_the_depth_limit_render(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await cli(capsys, "render", "Square", "--local", "--synthetic", "--json",
                               "--props", deep_props(500))
    assert code == 0, err
    assert json_lines(out)[-1]["status"] == "done"
