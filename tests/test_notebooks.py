"""hooks/notebooks.py: each chapter's notebook is generated from the page, and runs."""

from __future__ import annotations

import base64
import doctest
import html as html_module
import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
from nbclient import NotebookClient

from hooks import chapters, figures, notebook_pages, notebooks, package_wheel

from . import reader_env
from .conftest import ROOT, SITE_URL, BuiltSite
from .site_server import serve
from .test_exercises import check_cells, fill_in_solutions, shown

DOCS = ROOT / "docs"
CHAPTERS = chapters.chapter_pages(chapters.read_nav(ROOT / "mkdocs.yml"))
SITE = "https://example.org/lab/"


def chapter_code(markdown: str) -> list[str]:
    """Every statement of the page's python blocks (indented ones too), prompts removed, in order."""
    statements: list[str] = []
    for indent, body in re.findall(r"^( *)```python\n(.*?)^\1```$", markdown, re.MULTILINE | re.DOTALL):
        body = textwrap.dedent(body) if indent else body
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
    markdown = notebooks.chapter_markdown(DOCS / chapter)
    return notebooks.chapter_to_notebook(
        markdown, chapter_url=SITE + "x/", site_url=SITE, api_pages=notebooks.api_reference_pages(DOCS)
    )


def test_what_the_build_writes_into_a_chapter_is_in_its_notebook_too() -> None:
    """Chapter 5's benchmark tables and the figures its prose quotes are written into the page at
    build time: the notebook has them."""
    sources = {chapter: "\n".join(cell.source for cell in notebook_for(chapter).cells) for chapter in CHAPTERS}
    assert not {chapter: re.findall(r"<!-- [\w-]+ -->", text) for chapter, text in sources.items() if "<!-- " in text}
    assert sources["memory-efficient-attention.md"].count("| 16,384 |") == 3  # memory, time, time ÷ naive


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
    code = "\n".join(cell.source for cell in cells[2:] if cell.cell_type == "code")
    page = notebooks.blank_exercise_solutions((DOCS / chapter).read_text(encoding="utf-8"))  # exercises: blanks
    expected = "\n".join(chapter_code(page))
    assert code == expected
    assert cells[1].cell_type == "code" and cells[1].metadata["attention_lab"] == {"role": "setup"}


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
    assert [(cell.kind, cell.source) for cell in cells] == [
        ("markdown", "# T\n\nSome prose."),
        ("code", "a = 1\nb = a + 1\nb"),
        ("code", "for i in range(2):\n    print(i)"),
        ("code", "c = 3"),
        ("markdown", "More."),
        ("code", "plain = True"),
    ]
    assert all(cell.box is None for cell in cells)


def test_an_expected_exception_becomes_a_printed_error() -> None:
    cells = notebooks.split_chapter("```python\n>>> int('x')\nTraceback (most recent call last):\n  ...\nValueError: bad\n\n```\n")
    assert [(cell.kind, cell.source) for cell in cells] == [("code", "try:\n    int('x')\nexcept Exception as error:\n    print(f\"{type(error).__name__}: {error}\")")]


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
        "> **Careful**\n>\n>\n> Body line.\n>\nAfter.\n\n*Figure: Look here.*\n"
    )


def test_built_site_has_each_notebook_executed_with_a_download(built_site: BuiltSite) -> None:
    for chapter in CHAPTERS:
        stem = Path(chapter).stem
        html = built_site.page(f"notebooks/{stem}")
        assert "nb-output" in html and "tensor(" in html  # executed: outputs are rendered
        assert (built_site.directory / "notebooks" / stem / f"{stem}.ipynb").is_file()
        assert f'href="/attention-lab/notebooks/{stem}/{stem}.ipynb"' in html  # the download button
        chapter_html = built_site.page(stem)
        assert f'href="../notebooks/{stem}/{stem}.ipynb" download' in chapter_html
    assert "tensor([0.4431, 0.6496, 0.5671])" in built_site.page("notebooks/simplified-attention")


def test_notebook_pages_show_the_figures_no_code_draws_as_their_chapter_pages_do(built_site: BuiltSite) -> None:
    """A diagram is drawn inline again (the site's colours, both schemes); a plot the build draws
    is a file for each scheme, like every figure of a notebook page: no image stays a data URI."""
    for chapter in CHAPTERS:
        stem = Path(chapter).stem
        html = built_site.page(f"notebooks/{stem}")
        assert "data:image/svg+xml" not in html, chapter
        diagrams = re.findall(r'<svg class="al-diagram".*?</svg>', built_site.page(stem), re.DOTALL)
        assert re.findall(r'<div class="nb-diagram">(<svg class="al-diagram".*?</svg>)', html, re.DOTALL) == diagrams
    alt = html_module.escape(page_figures((DOCS / "memory-efficient-attention.md").read_text(encoding="utf-8"))[-1])
    page = built_site.page("notebooks/memory-efficient-attention")
    light, dark = re.findall(rf'<img src="(cell-\d+-0(?:-dark)?\.svg)#only-(?:light|dark)" alt="{re.escape(alt)}"', page)
    assert (built_site.directory / "notebooks" / "memory-efficient-attention" / dark).is_file()
    assert dark == light.replace(".svg", "-dark.svg")


def test_notebook_pages_stay_out_of_the_search_index(built_site: BuiltSite) -> None:
    index = json.loads((built_site.directory / "search" / "search_index.json").read_text(encoding="utf-8"))
    locations = [document["location"] for document in index["docs"]]
    assert any(location.startswith("simplified-attention/") for location in locations)
    assert not [location for location in locations if location.startswith("notebooks/")]


COLLAPSED = """# T

Visible.

```python
>>> x = 1
>>> x
1

```

??? note "Checked on every build"

    A check that does not teach.

    ```python
    >>> y = x + 1
    >>> y
    2
    >>> def f():
    ...     return y
    >>> f()
    2

    ```

    And a plain block:

    ```python
    z = [
        1,
    ]
    ```

After the box.

```python
>>> z
[1]

```
"""


def test_fences_indented_in_a_box_become_cells_in_order_and_dedented() -> None:
    cells = notebooks.split_chapter(COLLAPSED)
    assert [(cell.kind, cell.source) for cell in cells] == [
        ("markdown", "# T\n\nVisible."),
        ("code", "x = 1\nx"),
        ("markdown", "A check that does not teach."),
        ("code", "y = x + 1\ny"),
        ("code", "def f():\n    return y\nf()"),
        ("markdown", "And a plain block:"),
        ("code", "z = [\n    1,\n]"),
        ("markdown", "After the box."),
        ("code", "z"),
    ]
    box = cells[2].box
    assert box is not None and (box.kind, box.title, box.collapsible, box.open) == ("note", "Checked on every build", True, False)
    assert [cell.box for cell in cells] == [None, None, box, box, box, box, box, None, None]


def test_a_collapsed_box_in_the_notebook_runs_and_reads_as_a_titled_quote(tmp_path: Path) -> None:
    notebook = notebooks.chapter_to_notebook(COLLAPSED, chapter_url=SITE + "t/", site_url=SITE, api_pages={},
                                             wheel_url="http://127.0.0.1:1/x.whl")  # fmt: skip
    sources = [(cell.cell_type, cell.source) for cell in notebook.cells]
    assert ("markdown", "> **Checked on every build**\n>\n> A check that does not teach.") in sources
    assert ("markdown", "> And a plain block:") in sources
    hidden = [cell.source for cell in notebook.cells if cell.metadata.get("jupyter", {}).get("source_hidden")]
    assert hidden == ["y = x + 1\ny", "def f():\n    return y\nf()", "z = [\n    1,\n]"]
    notebook.cells = [cell for cell in notebook.cells if cell.metadata.get("attention_lab", {}).get("role") != "setup"]
    NotebookClient(notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output.get("data", {}).get("text/plain") for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]  # fmt: skip
    assert outputs == ["1", "2", "2", "[1]"]


def test_the_first_code_cell_installs_the_sites_wheel_when_the_package_is_missing() -> None:
    notebook = notebook_for("simplified-attention.md")
    setup = notebook.cells[1]
    wheel = f"{SITE}downloads/attention_lab-{package_wheel.project_version()}-py3-none-any.whl"
    assert f'WHEEL = "{wheel}"' in setup.source
    assert '"pip", "install", "--quiet", f"attention-lab[plot] @ {WHEEL}"' in setup.source
    assert 'importlib.util.find_spec("attention_lab") is None' in setup.source
    preamble = notebook.cells[0].source
    assert preamble.startswith("# 1. ") and "[the chapter's page on the Attention Lab site](" in preamble
    prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "Every code block on this page runs in the test suite" not in prose


def test_the_set_up_cell_says_what_failed_and_what_to_do_when_the_wheel_cannot_be_fetched() -> None:
    """A reader offline, or with the site moved: one line names the address, pip's reason, and
    the two ways out, instead of pip's log and then a ModuleNotFoundError further down."""
    wheel = "http://127.0.0.1:1/attention_lab-0.0.0-py3-none-any.whl"  # port 1: nothing listens
    install = notebooks.setup_source(wheel).split("import matplotlib")[0]
    pretend_missing = (
        "import importlib.util\n"
        "found = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *rest: None if name == 'attention_lab' else found(name, *rest)\n"
    )
    env = {**os.environ, "PIP_RETRIES": "0", "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull}
    completed = subprocess.run([sys.executable, "-c", pretend_missing + install], env=env, capture_output=True,
                               text=True, timeout=120, check=False)  # fmt: skip
    assert completed.returncode != 0
    said = completed.stderr.strip().splitlines()[-1]
    assert said.startswith(f"RuntimeError: could not install attention_lab from {wheel} (pip: "), said
    assert f'Run `pip install "attention-lab[plot] @ {wheel}"` where that address can be reached' in said
    assert "or `pip install -e .` in a clone of the repository, then run this cell again." in said


# A chapter's figures, in page order: an image of `figures/` (the light and the dark one carry
# the same alt text) or a diagram drawn in the page as inline SVG (read by its title and desc).
PAGE_FIGURE = re.compile(r'!\[(?P<alt>[^\]]*)\]\(figures/|(?P<diagram><svg class="al-diagram".*?</svg>)', re.DOTALL)
ATTACHED_IMAGE = re.compile(r"!\[((?:[^\]\\]|\\.)*)\]\(attachment:([^)]+)\)")


def page_figures(markdown: str) -> list[str]:
    """The figures' alt texts as the built page has them (chapter 5's benchmark figures filled in)."""
    markdown = figures.with_benchmark_table(markdown)
    alts = [notebooks.diagram_alt(m["diagram"]) if m["diagram"] else m["alt"] for m in PAGE_FIGURE.finditer(markdown)]
    return list(dict.fromkeys(alts))  # each once: a page has a light and a dark image of a figure


def notebook_figures(notebook: nbformat.NotebookNode) -> list[str]:
    """The figures a reader of the notebook sees: drawn by a code cell, or attached to a markdown cell."""
    alts: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.metadata.get("attention_lab", {}).get("figure_alt"):
            alts.append(cell.metadata["attention_lab"]["figure_alt"])
        for alt, name in ATTACHED_IMAGE.findall(cell.source) if cell.cell_type == "markdown" else []:
            assert "image/svg+xml" in cell.attachments[name], name
            alts.append(re.sub(r"\\(.)", r"\1", alt))
    return alts


def test_every_figure_of_a_chapter_is_a_figure_of_its_notebook_with_the_same_alt_text() -> None:
    """Drawn by the chapter's code (a code cell shows it), or not (a diagram drawn in the page,
    chapter 5's benchmark plot drawn by the build): attached to the markdown cell as an SVG."""
    shown = {}
    for chapter in CHAPTERS:
        shown[chapter] = notebook_figures(notebook_for(chapter))
        assert shown[chapter] == page_figures((DOCS / chapter).read_text(encoding="utf-8")), chapter
    assert all(shown.values()) and sum(len(alts) for alts in shown.values()) >= 17  # 5, 4, 3, 2, 3 today


def test_a_figure_no_code_draws_is_attached_as_an_svg_image_readable_on_any_notebook_background() -> None:
    cells = [cell for cell in notebook_for("simplified-attention.md").cells if cell.get("attachments")]
    assert [list(cell.attachments) for cell in cells] == [["dot-product.svg"]]
    svg = base64.b64decode(cells[0].attachments["dot-product.svg"]["image/svg+xml"]).decode()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" class="al-diagram"')
    assert '<rect class="al-diagram__notebook-only" width="100%" height="100%" fill="#ffffff"/>' in svg
    assert ".al-diagram__text { fill: #000000de; }" in svg and "var(" not in svg
    benchmark = next(cell for cell in notebook_for("memory-efficient-attention.md").cells
                     if "benchmark.svg" in cell.get("attachments", {}))  # fmt: skip
    plot = base64.b64decode(benchmark.attachments["benchmark.svg"]["image/svg+xml"]).decode()
    assert re.search(r'<g id="patch_1">\s*<path d="[^"]*" style="fill: #ffffff', plot)  # opaque, as the kernel draws


def test_a_diagram_leaves_its_page_with_the_light_schemes_colours_and_comes_back_unchanged() -> None:
    css = (DOCS / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    light = notebooks.diagram_light_css(css)
    assert set(re.findall(r"\.al-diagram[\w-]*", css)) == set(re.findall(r"\.al-diagram[\w-]*", light))
    assert "var(" not in light and ".md-typeset" not in light
    assert notebooks.diagram_light_css(".md-typeset .al-diagram__x, .md-typeset .al-diagram__y { fill: #000; }") == (
        ".al-diagram__x, .al-diagram__y { fill: #000; }")
    with pytest.raises(ValueError, match=r"var\(--md-accent-fg-color\), which has no light value"):
        notebooks.diagram_light_css(".al-diagram__x { fill: var(--md-accent-fg-color); }")
    for chapter in CHAPTERS:
        for diagram in re.findall(r'<svg class="al-diagram".*?</svg>', (DOCS / chapter).read_text(encoding="utf-8"), re.DOTALL):
            assert notebooks.page_diagram(notebooks.standalone_diagram(diagram)) == diagram
    with pytest.raises(ValueError, match=r'a diagram needs a <title id="<name>-title"> then a <desc>; got'):
        notebooks.diagram_alt('<svg class="al-diagram"><title>No id</title></svg>')
    with pytest.raises(ValueError, match=r"a chapter shows figures/nope\.svg, which hooks/figures\.py does not draw \(expected one of "):
        notebooks.build_figure_svg("nope")


def test_dark_figures_keep_heatmap_label_colours() -> None:
    svg = ('<svg viewBox="0 0 10 10"><path style="fill: #ffffff; stroke: #000000"/>'
           '<g id="heatmap-cell-label"><text style="fill: #ffffff">1</text></g></svg>')
    dark = notebook_pages.dark_svg(svg)
    assert '<path style="fill: none; stroke: #e6e6e6"/>' in dark
    assert '<text style="fill: #ffffff">1</text>' in dark  # white labels stay white
    assert 'g[id^="heatmap-cell-label"] { fill: #000000; }' in dark  # black ones stay black


def test_built_wheel_is_on_the_site_and_installs_the_package(built_site: BuiltSite) -> None:
    wheel = built_site.directory / package_wheel.DOWNLOAD_DIR / package_wheel.wheel_filename()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"attention_lab-{package_wheel.project_version()}.dist-info/METADATA").decode()
    package = {f"attention_lab/{p.relative_to(ROOT / 'attention_lab').as_posix()}"
               for p in (ROOT / "attention_lab").rglob("*") if p.is_file() and "__pycache__" not in p.parts}  # fmt: skip
    assert package <= names
    assert "Provides-Extra: plot" in metadata and "Requires-Dist: torch" in metadata


def test_notebook_pages_are_rendered_in_the_sites_style(built_site: BuiltSite) -> None:
    for chapter in CHAPTERS:
        html = built_site.page(f"notebooks/{Path(chapter).stem}")
        assert "jp-Notebook-cell" not in html and ".jupyter-wrapper" not in html  # no JupyterLab CSS
        assert "%matplotlib" not in html and "%pip" not in html  # the set-up cell is left out
        assert 'stylesheets/notebook.css"' in html
        assert '<div class="language-python highlight"><pre><span></span><code>' in html
        assert "No description has been provided" not in html


# --- a downloaded notebook runs anywhere -------------------------------------------------------

# Runs inside the reader's environment: execute one notebook, print its errors as JSON.
_RUN_NOTEBOOK = """
import json, sys
import nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": sys.argv[2]}}).execute()
errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
installed = [o.get("text", "") for o in notebook.cells[1].outputs]
nbformat.write(notebook, sys.argv[1])  # executed, outputs included: the test reads the checks' outputs
print(json.dumps({"errors": [f"{e.ename}: {e.evalue}" for e in errors], "setup_output": installed}))
"""


def _reader_environment(tmp_path: Path) -> Path:
    """A virtual environment with only torch and Jupyter, as a reader would have
    (tests/reader_env.py): the one `ATTENTION_LAB_READER_VENV` names (`make test` makes it as
    set-up), else a fresh one; attention_lab is uninstalled from it first either way."""
    given = os.environ.get("ATTENTION_LAB_READER_VENV")
    python = Path(given) / "bin" / "python" if given else reader_env.create(tmp_path / "reader-venv")
    assert python.is_file(), f"ATTENTION_LAB_READER_VENV={given} has no bin/python: make it with `python -m tests.reader_env {given}`"
    subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "attention-lab"], check=True, timeout=120)
    return python


def test_downloaded_notebooks_install_the_wheel_from_the_site_and_run(built_site: BuiltSite, tmp_path: Path) -> None:
    """Served on 127.0.0.1, each downloaded notebook, with the exercises' solutions typed into
    its answer cells as a reader would, runs top to bottom in a fresh kernel of an environment
    without the package, and every exercise's check says right. (The build ran the site's copies,
    answers blank: tests/test_exercises.py reads those outputs.)

    Its first cell installs the wheel from the served site. pip in the kernel gets no index
    and no configuration (`PIP_NO_INDEX`, `PIP_CONFIG_FILE`): the only place it may fetch
    from is the local server.
    """
    python = _reader_environment(tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}
    env |= {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    missing = subprocess.run([str(python), "-c", "import attention_lab"], check=False, cwd=tmp_path, env=env, capture_output=True)
    assert missing.returncode != 0, "the reader's environment must not have attention_lab before the notebook runs"
    script = tmp_path / "run_notebook.py"
    script.write_text(_RUN_NOTEBOOK, encoding="utf-8")
    wheel_path = f"{package_wheel.DOWNLOAD_DIR}/{package_wheel.wheel_filename()}"
    with serve(built_site.directory, urlsplit(SITE_URL).path) as base_url:
        for chapter in CHAPTERS:
            stem = Path(chapter).stem
            notebook = nbformat.read(built_site.directory / "notebooks" / stem / f"{stem}.ipynb", as_version=4)
            assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), chapter  # as downloaded
            setup = notebook.cells[1].source
            assert f"{SITE_URL}{wheel_path}" in setup  # the site's own URL, as published
            # The test's server listens on a free port: point the cell at it, nothing else changes.
            notebook.cells[1].source = setup.replace(f"{SITE_URL}{wheel_path}", f"{base_url}{wheel_path}")
            # A reader types in the answers: the exercises' solutions from the chapter page.
            exercises = fill_in_solutions(notebook, (DOCS / chapter).read_text(encoding="utf-8"))
            copy = tmp_path / f"{stem}.ipynb"
            nbformat.write(notebook, copy)
            workdir = tmp_path / f"run-{stem}"
            workdir.mkdir()
            completed = subprocess.run([str(python), str(script), str(copy), str(workdir)], cwd=workdir, env=env,
                                       capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
            assert completed.returncode == 0, completed.stderr[-3000:]
            result = json.loads(completed.stdout.strip().splitlines()[-1])
            assert result["errors"] == [], (chapter, result)
            said = [(exercise, shown(cell).strip()) for exercise, cell in check_cells(nbformat.read(copy, as_version=4))]
            assert [exercise for exercise, _ in said] == exercises
            assert all(text.startswith(f"✓ {exercise} is right.") for exercise, text in said), said
    version = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('attention-lab'))"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, check=True)  # fmt: skip
    assert version.stdout.strip() == package_wheel.project_version()


def test_the_wheel_is_rebuilt_under_make_serve_only_when_its_inputs_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Path] = []

    def fake_build(out_dir: Path) -> Path:
        built.append(out_dir)
        wheel = out_dir / package_wheel.wheel_filename()
        wheel.write_bytes(f"wheel {len(built)}".encode())
        return wheel

    monkeypatch.setattr(package_wheel, "build_wheel", fake_build)
    monkeypatch.setattr(package_wheel._cache, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.delenv("ATTENTION_LAB_CACHE", raising=False)
    assert [package_wheel.site_wheel(), package_wheel.site_wheel()] == [b"wheel 1", b"wheel 2"]  # cold: every build
    monkeypatch.setenv("ATTENTION_LAB_CACHE", "true")
    assert [package_wheel.site_wheel(), package_wheel.site_wheel()] == [b"wheel 3", b"wheel 3"]  # make serve: once
    monkeypatch.setattr(package_wheel._cache, "fingerprint", lambda: "changed")
    assert package_wheel.site_wheel() == b"wheel 4"  # the package changed: built again
