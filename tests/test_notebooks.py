"""hooks/notebooks.py: each chapter's notebook is generated from the page, and runs."""

from __future__ import annotations

import doctest
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from hooks import notebooks

from .conftest import ROOT, BuiltSite

DOCS = ROOT / "docs"
CHAPTERS = notebooks.chapter_pages(notebooks.read_nav(ROOT / "mkdocs.yml"))
SITE = "https://example.org/lab/"


def chapter_code(markdown: str) -> list[str]:
    """Every statement of the page's python blocks, prompts removed, in order."""
    statements: list[str] = []
    for body in re.findall(r"^```python\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL):
        if body.lstrip().startswith(">>>"):
            for example in doctest.DocTestParser().get_examples(body):
                source = example.source.rstrip("\n")
                if example.exc_msg is not None:  # the notebook prints the error and runs on
                    body_lines = "\n".join("    " + line for line in source.split("\n"))
                    source = f"try:\n{body_lines}\nexcept Exception as error:\n    print(f\"{{type(error).__name__}}: {{error}}\")"
                statements.append(source)
        else:
            statements.append(body.strip("\n"))
    return statements


def notebook_for(chapter: str) -> nbformat.NotebookNode:
    markdown = notebooks.strip_front_matter((DOCS / chapter).read_text(encoding="utf-8"))
    return notebooks.chapter_to_notebook(
        markdown, chapter_url=SITE + "x/", site_url=SITE, api_pages=notebooks.api_reference_pages(DOCS)
    )


def test_every_chapter_has_a_notebook_in_the_nav_of_the_built_site(built_site: BuiltSite) -> None:
    assert "simplified-attention.md" in CHAPTERS
    html = built_site.page("reproducibility")
    for number, chapter in enumerate(CHAPTERS, start=1):
        stem = Path(chapter).stem
        assert f'href="../notebooks/{stem}/"' in html, f"chapter {number} notebook is not in the nav"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebook_code_is_the_chapter_code_in_the_same_order(chapter: str) -> None:
    """One source of truth: the code cells hold exactly the page's code, nothing hand-copied."""
    cells = notebook_for(chapter).cells
    code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
    page = notebooks.blank_exercise_solutions((DOCS / chapter).read_text(encoding="utf-8"))  # exercises: blanks
    expected = "\n".join(["%matplotlib inline", *chapter_code(page)])
    assert code == expected


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebook_prose_has_no_site_only_syntax(chapter: str) -> None:
    notebook = notebook_for(chapter)
    assert notebook.cells[0].source.startswith("# ")
    prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "][attention_lab." not in prose  # autorefs became real links
    assert not re.search(r"\]\([\w./-]+\.md", prose)  # page links became site URLs
    assert "<figure" not in prose and "#only-dark" not in prose
    assert not re.search(r"^!!!", prose, re.MULTILINE)


def test_doctest_blocks_split_after_each_printed_output() -> None:
    cells = notebooks.split_chapter(
        "# T\n\nSome prose.\n\n```python\n>>> a = 1\n>>> b = a + 1\n>>> b\n2\n>>> for i in range(2):\n"
        "...     print(i)\n0\n1\n>>> c = 3\n\n```\n\nMore.\n\n```python\nplain = True\n```\n"
    )
    assert cells == [
        ("markdown", "# T\n\nSome prose."),
        ("code", "a = 1\nb = a + 1\nb"),
        ("code", "for i in range(2):\n    print(i)"),
        ("code", "c = 3"),
        ("markdown", "More."),
        ("code", "plain = True"),
    ]


def test_an_expected_exception_becomes_a_printed_error() -> None:
    cells = notebooks.split_chapter("```python\n>>> int('x')\nTraceback (most recent call last):\n  ...\nValueError: bad\n\n```\n")
    assert cells == [("code", "try:\n    int('x')\nexcept Exception as error:\n    print(f\"{type(error).__name__}: {error}\")")]


def test_links_admonitions_and_figures_become_plain_markdown() -> None:
    text = notebooks._plain_markdown(
        '## 1.1 A { #anchor }\n\nSee [`softmax`][attention_lab.softmax] and [the legend](index.md#the-shape-legend).\n\n'
        '!!! warning "Careful"\n\n    Body line.\n\nAfter.\n\n'
        '<figure markdown="span">\n  ![alt](figures/x.svg#only-light)\n  <figcaption>Look here.</figcaption>\n</figure>\n',
        site_url=SITE,
        api_pages={"attention_lab.softmax": "reference/simplified-attention"},
    )
    assert text == (
        "## 1.1 A\n\nSee [`softmax`](https://example.org/lab/reference/simplified-attention/#attention_lab.softmax)"
        " and [the legend](https://example.org/lab/#the-shape-legend).\n\n"
        "> **Careful**\n>\n>\n> Body line.\n>\nAfter.\n\n*Figure: Look here.* (the code below draws it)\n"
    )


def test_built_site_has_each_notebook_executed_with_a_download(built_site: BuiltSite) -> None:
    for chapter in CHAPTERS:
        stem = Path(chapter).stem
        html = built_site.page(f"notebooks/{stem}")
        assert "jp-OutputArea-output" in html  # executed: outputs are rendered
        assert (built_site.directory / "notebooks" / stem / f"{stem}.ipynb").is_file()
        assert f'href="/attention-lab/notebooks/{stem}/{stem}.ipynb"' in html  # the download button
        chapter_html = built_site.page(stem)
        assert f'href="../notebooks/{stem}/{stem}.ipynb" download' in chapter_html
    assert "tensor([0.4431, 0.6496, 0.5671])" in built_site.page("notebooks/simplified-attention")


def test_notebook_pages_stay_out_of_the_search_index(built_site: BuiltSite) -> None:
    index = json.loads((built_site.directory / "search" / "search_index.json").read_text(encoding="utf-8"))
    locations = [document["location"] for document in index["docs"]]
    assert any(location.startswith("simplified-attention/") for location in locations)
    assert not [location for location in locations if location.startswith("notebooks/")]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_downloaded_notebook_runs_top_to_bottom_in_a_fresh_kernel(
    chapter: str, built_site: BuiltSite, tmp_path: Path
) -> None:
    stem = Path(chapter).stem
    downloaded = nbformat.read(built_site.directory / "notebooks" / stem / f"{stem}.ipynb", as_version=4)
    assert not any(cell.get("outputs") for cell in downloaded.cells if cell.cell_type == "code")
    NotebookClient(downloaded, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [
        output
        for cell in downloaded.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
