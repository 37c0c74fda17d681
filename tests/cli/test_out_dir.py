"""``batch --out-dir``: each done output downloaded, named by its job; ``batch --local``
keeps its outputs in ./renders, as the emulator's URLs end with the command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aioremotion.cli._common import EXIT_IO, EXIT_OK

from .test_cli import cli, exported_emulator, json_lines, write_jobs


async def test_batch_local_keeps_its_outputs_in_renders(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    write_jobs(jobs, 2)
    with jobs.open("a") as file:
        file.write('{"composition": "Square"}\n{"key": "a/b c", "composition": "Square"}\n')
    code, _, err = await cli(capsys, "batch", str(jobs), "--local", "--synthetic")
    assert code == EXIT_OK, err
    folder = tmp_path / "renders"
    assert f"outputs are downloaded into {folder}" in err
    assert f"outputs in {folder}" in err.splitlines()[-1]
    results = json_lines((tmp_path / "results.jsonl").read_text())
    files = [Path(r["file"]) for r in results]
    assert files == [folder / "job-0.mp4", folder / "job-1.mp4", folder / "line-3.mp4",
                     folder / "a_b_c.mp4"]
    assert all(path.stat().st_size == r["size"] > 0 for path, r in zip(files, results))
    assert f"done {folder / 'job-0.mp4'}" in err  # the finished line says where


async def test_batch_out_dir_downloads_and_a_rerun_fetches_only_what_is_missing(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    jobs, out, folder = tmp_path / "jobs.jsonl", tmp_path / "results.jsonl", tmp_path / "o"
    write_jobs(jobs, 2)
    async with exported_emulator(monkeypatch) as emulator:
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out),
                                 "--out-dir", str(folder))
        assert code == EXIT_OK, err
        first = json_lines(out.read_text())
        assert [r["file"] for r in first] == [str(folder / "job-0.mp4"),
                                              str(folder / "job-1.mp4")]
        kept = folder / "job-0.mp4"
        os.utime(kept, (1, 1))  # marked: a download would rewrite it
        (folder / "job-1.mp4").unlink()
        code, _, err = await cli(capsys, "batch", str(jobs), "--out", str(out),
                                 "--out-dir", str(folder))
        assert code == EXIT_OK, err
        assert emulator.functions is not None and emulator.functions.renders_started == 2
    assert kept.stat().st_mtime == 1  # present with its size: not downloaded again
    assert (folder / "job-1.mp4").stat().st_size == first[1]["size"]
    assert json_lines(out.read_text()) == first


async def test_a_failed_download_is_recorded_and_exits_3(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    jobs, folder = tmp_path / "jobs.jsonl", tmp_path / "o"
    write_jobs(jobs, 1)
    folder.mkdir()
    (folder / "job-0.mp4").mkdir()  # the file cannot be written: a folder is in the way
    code, out, err = await cli(capsys, "batch", str(jobs), "--local", "--synthetic",
                               "--out-dir", str(folder), "--out", "-")
    assert code == EXIT_IO, err
    [record] = json_lines(out)
    assert record["status"] == "done" and "file" not in record
    assert "downloadError" in record and "1 download(s) failed" in err
    assert sorted(path.name for path in folder.iterdir()) == ["job-0.mp4"]  # no .part left
