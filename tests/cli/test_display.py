"""The command line's own terminal display: a live region redrawn in place on a fake TTY
(a StringIO that says it is a terminal), on an injected clock and width.

``Screen`` replays what was written (``\\r``, ``\\n``, cursor up, erase down) to get the
lines a person would see, so the tests assert on the screen, not on escape codes alone.
"""

from __future__ import annotations

import doctest
import io
import re

import pytest

from aioremotion.cli._display import BatchReporter, RenderReporter, bar_line, choose_mode
from aioremotion.cli._terminal import LiveRegion, terminal_size
from aioremotion.events import Done, Failed, Progress
from aioremotion.handles import RenderHandle

HANDLE = RenderHandle(render_id="k1a2b3c4d5", bucket_name="remotionlambda-useast1-abcdefghij",
                      region="us-east-1",
                      function_name="remotion-render-4-0-527-mem2048mb-disk2048mb-120sec")


class Tty(io.StringIO):
    """stderr as a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def screen(text: str) -> list[str]:
    """The lines on the screen after ``text`` was written to a terminal."""
    lines, row, col = [""], 0, 0
    for token in re.findall(r"\x1b\[\d*[AJ]|\r|\n|[^\x1b\r\n]+", text):
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif token.endswith("A"):
            row = max(0, row - int(token[2:-1] or 1))
        elif token.endswith("J"):
            lines[row] = lines[row][:col]
            del lines[row + 1:]
        else:
            line = lines[row]
            lines[row] = line[:col] + token + line[col + len(token):]
            col += len(token)
    return [line for line in lines if line] if lines[-1] == "" else lines


def progress(value: float, **extra: object) -> Progress:
    fields: dict[str, object] = {"frames_rendered": int(value * 150), "chunks": 2,
                                 "total_chunks": 8, "stage": "frames",
                                 "cost_display": "<$0.001", **extra}
    return Progress(progress=value, **fields)  # type: ignore[arg-type]


def test_the_examples_in_the_docstrings_hold() -> None:
    import aioremotion.cli
    import aioremotion.watching
    from aioremotion.cli import _display, _errors, _outputs, _terminal

    for module in (aioremotion.cli, _display, _errors, _outputs, _terminal,
                   aioremotion.watching):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__


# ---------------------------------------------------------------- the live region


def test_one_line_is_redrawn_in_place_with_notes_above() -> None:
    out, clock = Tty(), Clock()
    with LiveRegion(out, clock=clock, width=lambda: 80) as region:
        region.update(["first"])
        clock.now += 1
        region.update(["second"])
        region.note("a note")
        clock.now += 1
        region.update(["third"])
    written = out.getvalue()
    assert "\x1b[" + "0A" not in written and re.search(r"\x1b\[\d+A", written) is None
    assert written.count("\r\x1b[J") == 3  # each redraw erases the line first
    assert screen(written) == ["a note", "third"]
    assert written.endswith("third\n")  # the last state stays, the cursor below it


def test_a_block_is_redrawn_by_moving_up_over_it() -> None:
    out, clock = Tty(), Clock()
    with LiveRegion(out, clock=clock, width=lambda: 80) as region:
        region.update(["a", "b", "c"])
        clock.now += 1
        region.update(["a2", "c2"])  # a shorter block: the third line is erased
        region.note("note")
    written = out.getvalue()
    assert "\r\x1b[2A\x1b[J" in written  # up over three lines
    assert "\r\x1b[1A\x1b[J" in written  # then over two
    assert screen(written) == ["note", "a2", "c2"]


def test_redraws_are_limited_and_the_last_state_is_drawn_at_close() -> None:
    out, clock = Tty(), Clock()
    with LiveRegion(out, clock=clock, width=lambda: 80, max_redraws_s=10) as region:
        for step in range(100):  # 100 updates in 0.5 s
            region.update([f"step {step}"])
            clock.now += 0.005
    written = out.getvalue()
    assert 5 <= written.count("step") <= 8  # ~10 a second, plus the last one at close
    assert screen(written) == ["step 99"]


def test_lines_are_cut_to_the_terminal_width_and_height() -> None:
    out = Tty()
    with LiveRegion(out, clock=Clock(), width=lambda: 20, height=lambda: 4) as region:
        region.update(["x" * 50, "y", "z", "more", "hidden"])
    seen = screen(out.getvalue())
    assert seen == ["x" * 18 + "…", "y", "z"]  # 19 columns, 3 lines of 4
    assert all(len(line) < 20 for line in seen)


def test_the_terminal_size_comes_from_columns_and_lines_else_a_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "132")
    monkeypatch.setenv("LINES", "50")
    assert terminal_size(Tty()) == (132, 50)
    monkeypatch.delenv("COLUMNS")
    monkeypatch.delenv("LINES")
    monkeypatch.setattr("sys.__stdout__", None)  # stdout redirected; no fd to ask either
    assert terminal_size(Tty()) == (80, 24)


def test_a_terminal_that_cannot_encode_blocks_gets_ascii() -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    region = LiveRegion(out, clock=Clock(), width=lambda: 40)
    assert not region.unicode
    assert bar_line("job", 0.5, [], 40, unicode=region.unicode).startswith("job  ####")


# ---------------------------------------------------------------- one render


def test_the_render_line_shows_percent_stage_frames_chunks_eta_and_cost() -> None:
    out, clock = Tty(), Clock()
    with RenderReporter("bar", "HelloWorld", stream=out, clock=clock,
                        width=lambda: 120) as reporter:
        reporter.started(HANDLE)
        clock.now += 1
        reporter.event(progress(0.5, eta_seconds=72))
        [line] = screen(out.getvalue())[-1:]
        for part in ("HelloWorld", "█", " 50%", "rendering", "75 frames", "2/8 chunks",
                     "ETA 1:12", "<$0.001"):
            assert part in line, (part, line)
        clock.now += 10  # a heartbeat 10 s later: the watch recomputed the ETA
        reporter.event(progress(0.5, eta_seconds=62, heartbeat=True))
        assert "ETA 1:02" in screen(out.getvalue())[-1]
        reporter.event(Done(url="https://x/out.mp4", size=2_000_000, frames_rendered=150,
                            chunks=8, cost_display="$0.002"))
    lines = screen(out.getvalue())
    assert lines[0].startswith("HelloWorld: started render k1a2b3c4d5")
    assert lines[1] == "HelloWorld: done https://x/out.mp4 (2.0 MB, $0.002)"
    final = lines[-1]  # the bar ends full, with the cost
    assert "100%" in final and "done" in final and "8/8 chunks" in final
    assert final.endswith("$0.002")


def test_a_narrow_terminal_keeps_the_percent_and_eta_first() -> None:
    out = Tty()
    with RenderReporter("bar", "HelloWorld", stream=out, clock=Clock(),
                        width=lambda: 48) as reporter:
        reporter.event(progress(0.25, eta_seconds=30))
    [line] = screen(out.getvalue())
    assert len(line) <= 47
    assert " 25%" in line and "ETA 0:30" in line and "rendering" not in line


def test_a_full_bar_means_done() -> None:
    """Remotion's progress reaches 1 while the output is still being checked."""
    out, clock = Tty(), Clock()
    with RenderReporter("bar", "X", stream=out, clock=clock, width=lambda: 100) as r:
        clock.now += 1
        r.event(progress(1.0, stage="combine"))
        assert " 99%" in screen(out.getvalue())[-1]
        r.event(Done(url="https://x/o.mp4", size=1))
    assert "100%" in screen(out.getvalue())[-1]


def test_eta_is_a_dash_until_there_is_one() -> None:
    out = Tty()
    with RenderReporter("bar", "X", stream=out, clock=Clock(), width=lambda: 120) as r:
        r.event(progress(0.0, stage="starting"))
    assert "ETA -" in screen(out.getvalue())[-1] and "starting" in screen(out.getvalue())[-1]


def test_a_failed_render_stops_the_bar_where_it_was() -> None:
    out = Tty()
    with RenderReporter("bar", "X", stream=out, clock=Clock(), width=lambda: 100) as r:
        r.event(progress(0.4))
        r.event(Failed(message="boom"))
    line = screen(out.getvalue())[-1]
    assert " 40%" in line and "failed" in line  # the command prints the message itself


def test_plain_lines_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_mode(False, Tty()) == "bar"
    assert choose_mode(False, io.StringIO()) == "plain"
    assert choose_mode(True, Tty()) == "json"
    monkeypatch.setenv("TERM", "dumb")
    assert choose_mode(False, Tty()) == "plain"
    out, clock = io.StringIO(), Clock()
    with RenderReporter("plain", "X", stream=out, clock=clock) as reporter:
        for step in range(1, 21):
            reporter.event(progress(step / 20, eta_seconds=40 - step))
    lines = out.getvalue().splitlines()
    assert "\x1b[" not in out.getvalue()
    assert 8 <= len(lines) <= 11  # one per 10% of progress
    assert all("rendering" in line and "ETA 0:" in line for line in lines)


# ---------------------------------------------------------------- a batch


def test_a_batch_shows_a_line_per_active_render_and_a_total() -> None:
    out, clock = Tty(), Clock()
    with BatchReporter("bar", total=3, stream=out, clock=clock,
                       width=lambda: 100) as reporter:
        for index, key in enumerate(("intro", "outro")):
            reporter.started(index, key, {"key": key}, HANDLE, resumed=False)
        clock.now += 1
        reporter.event(0, {}, progress(0.5, eta_seconds=10))
        clock.now += 1
        reporter.event(1, {}, progress(0.25))
        lines = screen(out.getvalue())
        assert len(lines) == 3
        assert lines[0].startswith("intro") and " 50%" in lines[0]
        assert "ETA 0:09" in lines[0]  # its ETA counted down on this clock since it came
        assert lines[1].startswith("outro") and " 25%" in lines[1]
        assert lines[2].startswith("total") and "0/3 jobs" in lines[2]
        assert " 25%" in lines[2]  # (0.5 + 0.25) of 3 jobs
        clock.now += 1
        reporter.finished_job(0, "intro", {"status": "done", "url": "https://x/a.mp4",
                                           "size": 1000}, cost="<$0.001")
        reporter.finished_job(1, "outro", {"status": "failed", "error": "boom"})
    lines = screen(out.getvalue())
    assert lines[0] == "[1/3] intro: done https://x/a.mp4 (1.0 kB, <$0.001)"
    assert lines[1] == "[2/3] outro: failed: boom"
    assert lines[2].startswith("total") and "2/3 jobs" in lines[2] and "1 failed" in lines[2]
    assert len(lines) == 3  # the finished renders' lines are gone


def test_a_batch_wider_than_the_terminal_is_tall_says_how_many_more() -> None:
    out = Tty()
    with BatchReporter("bar", total=30, stream=out, clock=Clock(), width=lambda: 80,
                       height=lambda: 8) as reporter:
        for index in range(30):
            reporter.started(index, f"job-{index}", {}, HANDLE, resumed=False)
    lines = screen(out.getvalue())
    assert len(lines) <= 7
    assert "... and 25 more running" in lines and lines[-1].startswith("total")
