"""The doc examples are really collected: nothing is skipped silently.

Sybil collects only fences whose info string is exactly ``python``. A fence
written ``py``, ``pycon`` or ``python title="x"`` would render on the site and
never run, so any such fence fails here, and every ``python`` fence must yield
at least one collected example. The per-page counts are pinned as well: when a
page gains or loses examples, update ``EXPECTED_EXAMPLES`` on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import conftest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "attention_lab"

# Examples sybil collects per page (one per plain block, one per `>>>` statement).
EXPECTED_EXAMPLES = {
    "index.md": 2,
    "reference/index.md": 3,
    "reference/self-attention.md": 2,
    "reproducibility.md": 5,
    "self-attention.md": 186,
    "simplified-attention.md": 78,
    "source-notebook.md": 9,
}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_PYTHON_LIKE = re.compile(r"^\{?\.?(python3?|py3?|pycon|ipython3?|pytb)\b", re.IGNORECASE)


def markdown_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def fences(path: Path) -> list[tuple[int, str]]:
    """Return (1-based line, info string) of every opening fence of a page."""
    opened: str | None = None
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _FENCE.match(line)
        if not match:
            continue
        if opened is None:
            opened = match["fence"]
            found.append((number, match["info"].strip()))
        elif match["fence"].startswith(opened) and not match["info"].strip():
            opened = None
    return found


def relative(path: Path) -> str:
    return path.relative_to(DOCS).as_posix()


def collected_lines(path: Path) -> list[int]:
    """1-based line numbers of the examples sybil collects from a page."""
    document = conftest.MARKDOWN_EXAMPLES.parse(path)
    return [example.line for example in document]


@pytest.mark.parametrize("page", markdown_pages(), ids=relative)
def test_python_fences_use_the_collected_info_string(page: Path) -> None:
    odd = [
        f"{relative(page)}:{line}: ```{info}"
        for line, info in fences(page)
        if _PYTHON_LIKE.match(info) and info != "python"
    ]
    assert not odd, "sybil skips these fences silently; write exactly ```python:\n" + "\n".join(odd)


@pytest.mark.parametrize("page", markdown_pages(), ids=relative)
def test_every_python_fence_yields_examples(page: Path) -> None:
    example_lines = collected_lines(page)
    lines = page.read_text(encoding="utf-8").splitlines()
    for line, info in fences(page):
        if info != "python":
            continue
        end = next(i for i in range(line, len(lines)) if lines[i].strip().startswith("```"))
        inside = [n for n in example_lines if line <= n <= end + 1]
        assert inside, f"{relative(page)}:{line}: this python fence yields no example"


def test_example_counts_per_page_are_pinned() -> None:
    counts = {relative(page): len(collected_lines(page)) for page in markdown_pages()}
    counts = {page: count for page, count in counts.items() if count}
    assert counts == EXPECTED_EXAMPLES


def test_docstring_examples_are_collected_from_every_public_module() -> None:
    modules = [p for p in sorted(PACKAGE.glob("*.py")) if not p.name.startswith("_")]
    for module in modules:
        document = conftest.DOCSTRING_EXAMPLES.parse(module)
        assert len(list(document)) > 0, f"{module.name} has no docstring examples"


def test_a_wrong_expected_output_fails_and_names_the_page_line(tmp_path: Path) -> None:
    """Changing one printed number in a page makes its example fail, at that line."""
    source = (DOCS / "simplified-attention.md").read_text(encoding="utf-8")
    assert "tensor([0.4431, 0.6496, 0.5671])" in source
    broken = tmp_path / "broken.md"
    broken.write_text(source.replace("[0.4431, 0.6496, 0.5671]", "[0.4431, 0.6496, 0.5672]", 1))
    document = conftest.MARKDOWN_EXAMPLES.parse(broken)
    failures = []
    for example in document:
        try:
            example.evaluate()
        except Exception as error:  # sybil raises SybilFailure for a mismatch
            failures.append((example.line, str(error)))
    assert len(failures) == 1
    line, message = failures[0]
    assert broken.read_text(encoding="utf-8").splitlines()[line - 1] == ">>> context_vector_2"
    assert "0.5672" in message and "0.5671" in message
