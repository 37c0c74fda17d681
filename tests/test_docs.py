"""The repository's documents exist where the code, tests and docs say they are.

Every ``….md`` path mentioned in the package, the tests, the benchmarks, the examples and
the docs must be a file of the repository (with its ``#anchor``, if any, a heading of that
file), and every "docs/PROTOCOL.md section N" must name a numbered heading of
docs/PROTOCOL.md. Nothing may point outside the repository (the shared folder the protocol
notes once lived in).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "docs" / "PROTOCOL.md"
#: This file quotes citations as examples: it is not scanned.
THIS_FILE = Path(__file__).resolve()

#: Where citations live, and which files there are text worth reading.
SCANNED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aioremotion", ("*.py", "*.html")),
    ("tests", ("*.py", "*.md")),
    ("benchmarks", ("*.py", "*.md")),
    ("examples", ("*.py", "*.md")),
    ("docs", ("*.md",)),
    (".", ("README.md", "pyproject.toml", "conftest.py")),
)

#: A path to a Markdown file, optionally with an anchor: ``docs/ERRORS.md#the-tree``.
MD_PATH = re.compile(r"(?<![\w./-])((?:\.{1,2}/)*(?:[\w.-]+/)*[\w.-]+\.md)(?!\w)(#[\w-]+)?")
#: A Markdown link's target (resolved against the linking file's folder, as GitHub does).
MD_LINK = re.compile(r"\]\(([^)\s]+\.md)(#[\w-]+)?\)")
#: Section numbers after a mention of PROTOCOL.md: "PROTOCOL.md sections 8, 9 and 13.3",
#: "[docs/PROTOCOL.md](…) section 7.3", "PROTOCOL.md §4.1-4.3".
NUMBER = r"\d+(?:\.\d+)*"
NUMBERS = rf"{NUMBER}(?:\s*(?:,\s*(?:and\s+)?|and\s+|[-–]\s*){NUMBER})*"
PROTOCOL_CITATION = re.compile(
    rf"PROTOCOL\.md`{{0,2}}(?:\]\([^)]*\))?,?\s+(?:sections?\s+|§\s*)?({NUMBERS})"
)
#: Inside docs/PROTOCOL.md: "section 9.4", "sections 2.8, 9.3-9.5".
INTERNAL_CITATION = re.compile(rf"\bsections?\s+({NUMBERS})")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$", re.MULTILINE)
NUMBERED_HEADING = re.compile(rf"^#{{2,3}}\s+({NUMBER})\.?\s+\S", re.MULTILINE)


def scanned_files() -> Iterator[Path]:
    for folder, patterns in SCANNED:
        base = ROOT / folder
        for pattern in patterns:
            paths = [base / pattern] if folder == "." else sorted(base.rglob(pattern))
            for path in paths:
                if path.is_file() and path != THIS_FILE and "__pycache__" not in path.parts:
                    yield path


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def inside(path: Path) -> bool:
    """Whether ``path`` is in the repository (``..`` may not climb out of it)."""
    return path.resolve().is_relative_to(ROOT)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(title) for _, title in HEADING.findall(path.read_text(encoding="utf-8"))}


def numbers_in(refs: str) -> list[str]:
    return re.findall(NUMBER, refs)


def protocol_sections() -> set[str]:
    return set(NUMBERED_HEADING.findall(PROTOCOL.read_text(encoding="utf-8")))


def test_the_protocol_document_is_numbered_once_per_section() -> None:
    numbers = NUMBERED_HEADING.findall(PROTOCOL.read_text(encoding="utf-8"))
    assert len(numbers) == len(set(numbers)), "a section number is used twice"
    tops = [int(n) for n in numbers if "." not in n]
    assert tops == list(range(1, len(tops) + 1)), tops
    for number in numbers:
        if "." in number:
            assert number.rsplit(".", 1)[0] in numbers, f"{number} has no parent section"


def test_every_markdown_path_mentioned_exists() -> None:
    missing: list[str] = []
    for path in scanned_files():
        text = path.read_text(encoding="utf-8")
        for match in MD_PATH.finditer(text):
            target, anchor = match.group(1), match.group(2)
            candidates = [path.parent / target, ROOT / target]
            found = next((c for c in candidates if inside(c) and c.is_file()), None)
            where = f"{rel(path)}:{text.count(chr(10), 0, match.start()) + 1}"
            if found is None:
                missing.append(f"{where}: {target} does not exist")
            elif anchor and anchor[1:] not in anchors(found):
                missing.append(f"{where}: {target} has no heading for {anchor}")
        if path.suffix == ".md":
            for match in MD_LINK.finditer(text):
                target = match.group(1)
                linked = path.parent / target
                if "://" not in target and not (inside(linked) and linked.is_file()):
                    missing.append(f"{rel(path)}: the link to {target} is broken")
    assert not missing, "\n".join(missing)


def test_every_protocol_section_cited_exists() -> None:
    sections = protocol_sections()
    checked = 0
    wrong: list[str] = []
    for path in scanned_files():
        text = path.read_text(encoding="utf-8")
        citations = list(PROTOCOL_CITATION.finditer(text))
        if path == PROTOCOL:
            citations += list(INTERNAL_CITATION.finditer(text))
        for match in citations:
            for number in numbers_in(match.group(1)):
                checked += 1
                if number not in sections:
                    line = text.count("\n", 0, match.start()) + 1
                    wrong.append(f"{rel(path)}:{line}: docs/PROTOCOL.md has no section {number}")
    assert not wrong, "\n".join(wrong)
    assert checked > 20  # the code does cite it; a broken pattern would find nothing


def test_protocol_citations_name_the_file_in_the_repository() -> None:
    """Outside docs/, the protocol is cited by its repository path, docs/PROTOCOL.md."""
    bare = re.compile(r"(?<![\w/.-])PROTOCOL\.md")
    offenders = [
        f"{rel(path)}:{line}"
        for path in scanned_files()
        if path.parent != PROTOCOL.parent
        for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(text) and "docs/PROTOCOL.md" not in text
    ]
    assert not offenders, offenders


def test_nothing_points_outside_the_repository() -> None:
    # an absolute path into our machines' shared folder, spelt in pieces so that this file
    # does not name a machine path itself
    machine_shared = "/work" + "/shared"
    outside = re.compile(re.escape(machine_shared)
                         + r"|\.\./shared/|\bshared/(?:PROTOCOL|DESIGN)\.md")
    offenders = [
        f"{rel(path)}:{line}"
        for path in scanned_files()
        for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(text)
    ]
    assert not offenders, offenders


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("(PROTOCOL.md sections 8, 9 and 13.3)", ["8", "9", "13.3"]),
        ("[docs/PROTOCOL.md](../docs/PROTOCOL.md) sections 5 and 9 for", ["5", "9"]),
        ("``docs/PROTOCOL.md`` section 7.3.", ["7.3"]),
        ("PROTOCOL.md 4.3", ["4.3"]),
        ("PROTOCOL.md §9.3-9.5", ["9.3", "9.5"]),
    ],
)
def test_the_citation_pattern(text: str, numbers: list[str]) -> None:
    match = PROTOCOL_CITATION.search(text)
    assert match is not None and numbers_in(match.group(1)) == numbers
