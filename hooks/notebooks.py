"""MkDocs hook: each chapter page also becomes an executed, downloadable notebook.

One source of truth: the chapter's Markdown. For each chapter of the registry
(`hooks/chapters.py`: the `Chapters` section of the nav), at every build, this
hook converts the page into `notebooks/<chapter>.ipynb` in a temporary folder of
the build process:

- prose becomes Markdown cells (site links made absolute, Material-only syntax
  turned into plain Markdown); a figure becomes its caption where a code cell
  draws it, or an SVG image attached to the cell, then its caption, where no
  code does (a diagram drawn in the page, a plot only the build draws);
- a plain ```` ```python ```` block becomes one code cell;
- a doctest block becomes code cells with the `>>>`/`...` prompts removed and
  the expected output dropped (Jupyter prints it); a cell ends after each
  statement that prints something, so every output of the page shows up;
- an exercise's `??? success "Solution"` block becomes an empty `answer = ...`
  cell and the solution's `check(...)` cell (`blank_exercise_solutions`).

mkdocs-jupyter then executes the notebooks (`allow_errors: false`, so a failing
cell fails the build) and renders them as pages, with a download button;
`hooks/notebook_pages.py` makes those pages look like the rest of the site.
"""

from __future__ import annotations

import base64
import doctest
import html
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

try:  # `python -m mkdocs` from the repository root, and the tests
    from hooks import _cache, _notebook_runs, figures, package_wheel
    from hooks.chapters import (
        NOTEBOOK_DIR,
        chapter_pages,
        notebook_name,
        strip_front_matter,
    )
except ImportError:  # the `mkdocs` script: MkDocs puts hooks/ itself on sys.path while loading a hook
    import _cache  # type: ignore[no-redef]
    import _notebook_runs  # type: ignore[no-redef]
    import figures  # type: ignore[no-redef]
    import package_wheel  # type: ignore[no-redef]
    from chapters import NOTEBOOK_DIR, chapter_pages, notebook_name, strip_front_matter  # type: ignore[no-redef]

# Where this process writes the generated notebooks: its own temporary folder, so that
# two builds at once (a test run beside `mkdocs serve`) never read each other's files.
_output_root: Path | None = None

_FENCE_OPEN = re.compile(r"^(?P<indent>[ ]*)(?P<ticks>`{3,})python[ \t]*$")
_FIGURE = re.compile(r"<figure\b.*?</figure>", re.DOTALL)
_FIGCAPTION = re.compile(r"<figcaption>(.*?)</figcaption>", re.DOTALL)
_FIGURE_FILE = re.compile(r"!\[(?P<alt>[^\]]*)\]\(figures/(?P<name>[^)#]+?)\.svg")  # a figure's first image: the light one
_DIAGRAM = re.compile(r'<svg class="al-diagram"[^>]*>.*?</svg>', re.DOTALL)  # a diagram drawn in the page
_DIAGRAM_TEXT = re.compile(r'<title id="(?P<name>[\w-]+)-title">(?P<title>.*?)</title>\s*<desc\b[^>]*>(?P<desc>.*?)</desc>', re.DOTALL)
_AUTOREF = re.compile(r"\[([^\]]+)\]\[(attention_lab(?:\.\w+)+)\]")
_PAGE_LINK = re.compile(r"\]\((?!https?:|#)([\w./-]+?)\.md(#[\w-]+)?\)")
_HEADING_ID = re.compile(r"[ \t]*\{[ \t]*#[\w-]+[ \t]*\}[ \t]*$", re.MULTILINE)
_ADMONITION = re.compile(r'^(?P<marker>!!!|\?\?\?\+?)[ \t]+(?P<kind>[\w-]+)(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$')
_SOLUTION = re.compile(r'^(?P<indent>[ \t]*)\?\?\?\+?[ \t]+success[ \t]+"Solution"[ \t]*$')
_CHECK_CALL = re.compile(r"^[ \t]*(?:>>> )?(check\(.*\))[ \t]*$")
ANSWER_CELL = "answer = ...  # your answer here"
# Site-only prose that would be false in a notebook (its outputs are not compared there).
_SITE_ONLY_PARAGRAPH = re.compile(r"^Every code block on this page runs in the test suite\b")
_SITE_ONLY_SENTENCE = re.compile(r"Every\s+code\s+block\s+(?:on\s+this\s+page\s+)?runs\s+in\s+the\s+test\s+suite[^.]*\.[ \t]*\n?")
# Where each notebook cell came from, in its metadata (read back when the page is rendered).
METADATA_KEY = "attention_lab"


@dataclass(frozen=True)
class Box:
    """A Material admonition (`!!! kind "title"`) or collapsible block (`??? kind "title"`)."""

    number: int  # its position among the chapter's boxes, so two neighbouring boxes stay apart
    kind: str  # note, warning, tip, ...
    title: str
    collapsible: bool  # `???` or `???+`
    open: bool  # `???+` (or any `!!!`)

    def as_metadata(self) -> dict[str, object]:
        return {"number": self.number, "kind": self.kind, "title": self.title,
                "collapsible": self.collapsible, "open": self.open}  # fmt: skip


class ChapterCell(NamedTuple):
    """One cell cut from a chapter: its kind, its source and the box it sits in, if any."""

    kind: str  # "markdown" or "code"
    source: str
    box: Box | None = None
    figure_alt: str | None = None  # for a code cell that displays a figure: the page's alt text


def chapter_markdown(path: Path) -> str:
    """A chapter page's Markdown as the notebook is made from it: no front matter, and what the
    build writes into the page written in (chapter 5's benchmark tables)."""
    return figures.with_benchmark_table(strip_front_matter(path.read_text(encoding="utf-8")))


def _site_link(site_url: str, page: str, anchor: str | None) -> str:
    """The absolute URL of a page of the site (`reference/index` -> `<site>/reference/`)."""
    page = re.sub(r"(^|/)index$", r"\1", page)
    path = f"{page}/" if page and not page.endswith("/") else page
    return f"{site_url}{path}{anchor or ''}"


def _figure_caption(match: re.Match[str]) -> str:
    """A page's `<figure>` block -> its caption, in italics."""
    caption = _FIGCAPTION.search(match.group(0))
    return f"*Figure: {caption.group(1).strip()}*" if caption else ""


def _plain_markdown(
    text: str, *, site_url: str, api_pages: dict[str, str], figure: Callable[[re.Match[str]], str] = _figure_caption
) -> str:
    """Rewrite MkDocs/Material-only Markdown into Markdown that Jupyter renders (`figure`
    rewrites each `<figure>` block)."""

    def autoref(match: re.Match[str]) -> str:
        title, identifier = match.groups()
        page = api_pages.get(identifier)
        return f"[{title}]({_site_link(site_url, page, '#' + identifier)})" if page else title

    text = _FIGURE.sub(figure, text)
    text = _AUTOREF.sub(autoref, text)
    text = _PAGE_LINK.sub(lambda m: "](" + _site_link(site_url, m.group(1), m.group(2)) + ")", text)
    text = _HEADING_ID.sub("", text)
    return _admonitions_as_quotes(text)


def diagram_alt(svg: str) -> str:
    """The text a diagram drawn in a page reads as (its `<title>` and `<desc>`), as one line."""
    text = _DIAGRAM_TEXT.search(svg)
    if text is None:
        raise ValueError(f"a diagram needs a <title id=\"<name>-title\"> then a <desc>; got {svg[:120]!r}")
    return " ".join(html.unescape(f"{text['title'].strip()}. {text['desc'].strip()}").split())


# Outside the site a diagram is an image with no stylesheet of the site: it takes the rules
# docs/stylesheets/extra.css gives it, with the light scheme's values of the theme colours
# those rules use (Material's defaults, and ours for the link colour).
_EXTRA_CSS = Path(__file__).resolve().parent.parent / "docs" / "stylesheets" / "extra.css"
_LIGHT_THEME = {
    "--md-default-fg-color": "#000000de",
    "--md-default-fg-color--light": "#0000008a",
    "--md-default-bg-color": "#ffffff",
    "--md-code-bg-color": "#f5f5f5",
    "--md-typeset-a-color": "#3949ab",
}
_TEXT_FONT = "-apple-system, BlinkMacSystemFont, Helvetica, Arial, sans-serif"  # Material's, with `font: false`
NOTEBOOK_ONLY = "al-diagram__notebook-only"  # marks what `standalone_diagram` adds
_SVG_NAMESPACE = ' xmlns="http://www.w3.org/2000/svg"'
_CSS_VARIABLE = re.compile(r"var\((--[\w-]+)\)")


def diagram_light_css(css: str) -> str:
    """The rules of a stylesheet that style diagrams, for an SVG file of its own: the page's
    `.md-typeset` scope dropped, each theme colour replaced by its light-scheme value."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        if ".al-diagram" not in selectors:
            continue
        selector = ", ".join(part.strip().removeprefix(".md-typeset ") for part in selectors.split(","))

        def light(match: re.Match[str]) -> str:
            if match.group(1) not in _LIGHT_THEME:
                raise ValueError(f"a diagram rule uses var({match.group(1)}), which has no light value in _LIGHT_THEME")
            return _LIGHT_THEME[match.group(1)]

        declarations = " ".join(_CSS_VARIABLE.sub(light, body).split())
        rules.append(f"{selector} {{ {declarations} }}")
    return " ".join(rules)


def standalone_diagram(svg: str) -> str:
    """A diagram drawn in a page as an SVG file of its own: the SVG namespace, its colours as
    the light scheme draws them, on a white background. `page_diagram` undoes it."""
    css = f"svg {{ font-family: {_TEXT_FONT}; }} {diagram_light_css(_EXTRA_CSS.read_text(encoding='utf-8'))}"
    added = (f'<style class="{NOTEBOOK_ONLY}">{css}</style>'
             f'<rect class="{NOTEBOOK_ONLY}" width="100%" height="100%" fill="#ffffff"/>')  # fmt: skip
    opening = re.match(r"<svg\b[^>]*>", svg)
    if opening is None:
        raise ValueError(f"expected an inline <svg> diagram, got {svg[:60]!r}")
    return f"<svg{_SVG_NAMESPACE}{opening.group(0)[4:]}{added}{svg[opening.end():]}"


def page_diagram(svg: str) -> str:
    """`standalone_diagram` undone: the diagram as its page draws it, styled by the site."""
    svg = re.sub(rf'<style class="{NOTEBOOK_ONLY}">.*?</style><rect class="{NOTEBOOK_ONLY}"[^>]*/>', "", svg,
                 count=1, flags=re.DOTALL)  # fmt: skip
    return svg.replace(f"<svg{_SVG_NAMESPACE}", "<svg", 1)


def build_figure_svg(name: str) -> str:
    """A figure the build draws (`figures/<name>.svg`, hooks/figures.py), light and on white."""
    draw = figures.FIGURES.get(name)
    if draw is None:
        raise ValueError(f"a chapter shows figures/{name}.svg, which hooks/figures.py does not draw (expected one of "
                         f"{', '.join(sorted(figures.FIGURES))})")  # fmt: skip
    if _cache.enabled():  # `make serve`
        return figures.cached_svg(name, "", figures.figure_inputs(name), opaque=True).decode("utf-8")
    return figures.render_svg(draw, "default", opaque=True).decode("utf-8")


@dataclass
class _FigureImages:
    """Rewrites a chapter's `<figure>` blocks for Jupyter, for one markdown cell.

    A figure that a code cell of the notebook draws becomes its caption (the
    figure follows, under that code). One that no code draws (a diagram drawn in
    the page, a figure only the build draws) becomes an image attached to the
    cell, as an SVG of its own, with the page's alt text, then the caption.
    """

    drawn_by_code: Collection[str]  # alt texts of the figures that code cells draw
    figure_svg: Callable[[str], str]  # figure name -> SVG, for figures only the build draws
    attachments: dict[str, dict[str, str]] = field(default_factory=dict)

    def __call__(self, match: re.Match[str]) -> str:
        block, caption = match.group(0), _figure_caption(match)
        diagram, image = _DIAGRAM.search(block), _FIGURE_FILE.search(block)
        if diagram is not None:
            alt, svg = diagram_alt(diagram.group(0)), standalone_diagram(diagram.group(0))  # alt: or ValueError
            name = _DIAGRAM_TEXT.search(diagram.group(0))["name"]  # type: ignore[index]  # found by diagram_alt
        elif image is not None and image["alt"] not in self.drawn_by_code:
            name, alt, svg = image["name"].rsplit("/", 1)[-1], image["alt"], self.figure_svg(image["name"])
        else:
            return caption
        self.attachments[f"{name}.svg"] = {"image/svg+xml": base64.b64encode(svg.encode("utf-8")).decode("ascii")}
        alt = alt.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
        return f"![{alt}](attachment:{name}.svg)\n\n{caption}".rstrip()


def _admonitions_as_quotes(text: str) -> str:
    """`!!! note "Title"` plus its indented body -> a block quote with a bold title."""
    out: list[str] = []
    inside = False
    for line in text.split("\n"):
        match = _ADMONITION.match(line)
        if match:
            inside = True
            out.append(f"> **{match.group('title') or match.group('kind').capitalize()}**")
            out.append(">")
        elif inside and (line.startswith("    ") or not line.strip()):
            out.append(("> " + line[4:]).rstrip())
        else:
            inside = False
            out.append(line)
    return "\n".join(out)


def _as_quote(text: str, title: str | None) -> str:
    """Prose inside a box, for Jupyter: a block quote, headed by the box's bold title."""
    lines = ([f"**{title}**", ""] if title is not None else []) + text.split("\n")
    return "\n".join(("> " + line).rstrip() for line in lines)


def _without_site_only_prose(text: str) -> str:
    """Drop prose that is only true on the site (that its outputs are compared), paragraph or sentence."""
    paragraphs = re.split(r"\n[ \t]*\n", text)
    kept = [_SITE_ONLY_SENTENCE.sub("", p) for p in paragraphs if not _SITE_ONLY_PARAGRAPH.match(p.strip())]
    return "\n\n".join(p for p in kept if p.strip())


def _doctest_cells(body: str) -> list[tuple[str, bool]]:
    """Code cells from a doctest block: prompts removed, expected output dropped.

    Each cell comes with whether its last output is a matplotlib figure. An
    example whose expected output is an exception becomes a `try`/`except`
    that prints the error, so the notebook shows it and still runs on.
    """
    cells: list[tuple[str, bool]] = []
    pending: list[str] = []
    for example in doctest.DocTestParser().get_examples(body):
        source = example.source.rstrip("\n")
        if example.exc_msg is not None:
            indented = "\n".join("    " + line for line in source.split("\n"))
            source = f"try:\n{indented}\nexcept Exception as error:\n    print(f\"{{type(error).__name__}}: {{error}}\")"
        pending.append(source)
        if example.want or example.exc_msg is not None:
            cells.append(("\n".join(pending), example.want.startswith("<Figure ")))
            pending = []
    if pending:
        cells.append(("\n".join(pending), False))
    return cells


def blank_exercise_solutions(markdown: str) -> str:
    """Exercises in a notebook: each solution becomes an empty answer cell and its check.

    A block titled `??? success "Solution"` (and everything indented under it:
    prose and code) is left out of the notebook. In its place come two python
    blocks: `answer = ...`, for the learner to fill in, and the solution's own
    `check(...)` call, which then says whether the answer is right. The site
    page keeps the solution, folded.

    Raises:
        ValueError: If a solution block holds no `check(...)` call.
    """
    lines = markdown.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        title = _SOLUTION.match(lines[index])
        if not title:
            out.append(lines[index])
            index += 1
            continue
        indent = title.group("indent")
        end = index + 1
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > len(indent)):
            end += 1
        calls = [match.group(1) for line in lines[index + 1 : end] if (match := _CHECK_CALL.match(line))]
        if not calls:
            raise ValueError(f"line {index + 1}: a ??? success \"Solution\" block must contain its check(...) call")
        blocks = ["```python", ANSWER_CELL, "```", "", "```python", *calls, "```", ""]
        out.extend(f"{indent}{line}" if line else line for line in blocks)
        index = end
    return "\n".join(out)


def _dedent(line: str, indent: int) -> str:
    return line[indent:] if line[:indent].strip() == "" else line.lstrip(" ")


def split_chapter(markdown: str) -> list[ChapterCell]:
    """Split a chapter into markdown and code cells, in page order.

    A python fence may sit at the margin or be indented inside a box
    (`??? note "Checked on every build"` with a 4-space body), as sybil
    collects it either way: it becomes code cells, dedented, marked with its box.
    """
    cells: list[ChapterCell] = []
    prose: list[str] = []
    box: Box | None = None
    boxes = 0
    pending_alt: str | None = None

    def flush_prose() -> None:
        text = "\n".join(_dedent(line, 4) if box is not None else line for line in prose).strip()
        if text:
            cells.append(ChapterCell("markdown", text, box))
        prose.clear()

    lines = markdown.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        admonition = _ADMONITION.match(line)
        if admonition:
            flush_prose()
            boxes += 1
            marker = admonition.group("marker")
            box = Box(boxes, admonition.group("kind"), admonition.group("title") or admonition.group("kind").capitalize(),
                      collapsible=marker.startswith("???"), open=marker != "???")  # fmt: skip
            index += 1
            continue
        if box is not None and line.strip() and not line.startswith("    "):
            flush_prose()  # the box ends at the first line back at the margin
            box = None
        if image := _FIGURE_FILE.search(line):
            pending_alt = image["alt"]  # the newest figure: one drawn only by the hook (a diagram) has no cell
        opening = _FENCE_OPEN.match(line)
        if not opening:
            prose.append(line)
            index += 1
            continue
        indent, ticks = len(opening.group("indent")), opening.group("ticks")
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == ticks)
        body = "\n".join(_dedent(body_line, indent) for body_line in lines[index + 1 : end])
        flush_prose()
        if body.lstrip().startswith(">>>"):
            for source, shows_figure in _doctest_cells(body):
                alt = pending_alt if shows_figure else None
                pending_alt = None if shows_figure else pending_alt
                cells.append(ChapterCell("code", source, box, alt))
        else:
            cells.append(ChapterCell("code", body.strip("\n"), box))
        index = end + 1
    flush_prose()
    # A figure shown in a folded box ("Checked on every build") would be hidden in the notebook:
    # such a box opens there, so the reader sees every figure the chapter's code draws.
    with_figures = {cell.box for cell in cells if cell.box is not None and cell.figure_alt}
    return [cell._replace(box=replace(cell.box, open=True)) if cell.box is not None and cell.box in with_figures
            else cell for cell in cells]  # fmt: skip


def setup_source(wheel_url: str) -> str:
    """The notebook's first code cell: install the package from the site if it is missing, and
    when that fails, say in one line what failed and what to do instead."""
    return (
        "# Set-up: install attention_lab (with matplotlib) from the site if it is missing,\n"
        "# and draw figures inline as SVG.\n"
        "import importlib\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        f'WHEEL = "{wheel_url}"\n'
        'if importlib.util.find_spec("attention_lab") is None:\n'
        '    pip = [sys.executable, "-m", "pip", "install", "--quiet", f"attention-lab[plot] @ {WHEEL}"]\n'
        "    installed = subprocess.run(pip, capture_output=True, text=True)\n"
        "    if installed.returncode != 0:\n"
        '        said = (installed.stderr.strip().splitlines() or ["no message"])[-1]\n'
        "        raise RuntimeError(\n"
        '            f"could not install attention_lab from {WHEEL} (pip: {said}). Run '
        '`pip install \\"attention-lab[plot] @ {WHEEL}\\"` "\n'
        '            "where that address can be reached, or `pip install -e .` in a clone of the "\n'
        '            "repository, then run this cell again."\n'
        "        )\n"
        "    importlib.invalidate_caches()\n"
        "import matplotlib\n"
        "\n"
        'matplotlib.rcParams["svg.fonttype"] = "none"  # text in figures stays text: small and sharp\n'
        "%matplotlib inline\n"
        '%config InlineBackend.figure_formats = ["svg"]\n'
        '%config InlineBackend.print_figure_kwargs = {"bbox_inches": None}  # each figure at its own size'
    )


def chapter_to_notebook(
    markdown: str,
    *,
    chapter_url: str,
    site_url: str,
    api_pages: dict[str, str],
    wheel_url: str | None = None,
    figure_svg: Callable[[str], str] = build_figure_svg,
) -> nbformat.NotebookNode:
    """Build the notebook of one chapter (see the module docstring for the rules)."""
    markdown = blank_exercise_solutions(markdown)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    chapter = split_chapter(markdown)
    title = ""
    if chapter and chapter[0].kind == "markdown" and chapter[0].source.startswith("# ") and chapter[0].box is None:
        title, _, rest = chapter[0].source.partition("\n")
        chapter[0] = chapter[0]._replace(source=rest.strip())
    preamble = nbformat.v4.new_markdown_cell(
        (f"{title}\n\n" if title else "")
        + f"*This notebook is generated from [the chapter's page on the Attention Lab site]({chapter_url}), "
        "where every printed output is checked on every build. Run all cells from the top: the first one "
        "installs the `attention_lab` package from the site if your environment does not have it.*"
    )
    setup = nbformat.v4.new_code_cell(setup_source(wheel_url or packaged_wheel_url(site_url)))
    setup.metadata[METADATA_KEY] = {"role": "setup"}
    cells = [preamble, setup]
    opened: set[int] = set()
    drawn_by_code = {cell.figure_alt for cell in chapter if cell.figure_alt}
    for cell in chapter:
        if cell.kind == "markdown":
            images = _FigureImages(drawn_by_code, figure_svg)
            source = _plain_markdown(cell.source, site_url=site_url, api_pages=api_pages, figure=images)
            source = _without_site_only_prose(source)
            if not source.strip():
                continue
            if cell.box is not None:
                source = _as_quote(source, None if cell.box.number in opened else cell.box.title)
            new = nbformat.v4.new_markdown_cell(source)
            if images.attachments:
                new.attachments = images.attachments
        else:
            new = nbformat.v4.new_code_cell(cell.source)
            if cell.box is not None and cell.box.number not in opened:  # a box that opens with code
                cells.append(nbformat.v4.new_markdown_cell(f"> **{cell.box.title}**"))
                cells[-1].metadata[METADATA_KEY] = {"box": cell.box.as_metadata(), "role": "box-title"}
            if cell.box is not None and cell.box.collapsible and not cell.box.open:
                new.metadata["jupyter"] = {"source_hidden": True}  # collapsed, as on the page
            if cell.figure_alt:
                new.metadata[METADATA_KEY] = {"figure_alt": cell.figure_alt}
        if cell.box is not None:
            new.metadata.setdefault(METADATA_KEY, {})["box"] = cell.box.as_metadata()
            opened.add(cell.box.number)
        cells.append(new)
    notebook.cells = cells
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{number}"
    nbformat.validate(notebook)
    return notebook


def packaged_wheel_url(site_url: str) -> str:
    """The URL of the package's wheel on the site (see `hooks/package_wheel.py`)."""
    return package_wheel.wheel_url(site_url)


def api_reference_pages(docs_dir: Path) -> dict[str, str]:
    """Map `attention_lab.<name>` to the reference page (without `.md`) that documents it."""
    pages: dict[str, str] = {}
    for page in sorted((docs_dir / "reference").glob("*.md")):
        for name in re.findall(r"^::: (attention_lab\.[\w.]+)\s*$", page.read_text(encoding="utf-8"), re.MULTILINE):
            pages[name] = page.relative_to(docs_dir).with_suffix("").as_posix()
    return pages


def _site_url(config: MkDocsConfig) -> str:
    url = config.site_url or "/"
    return url if url.endswith("/") else url + "/"


@event_priority(50)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    docs_dir = Path(config.docs_dir)
    site_url = _site_url(config)
    api_pages = api_reference_pages(docs_dir)
    global _output_root
    if _output_root is None:
        _output_root = Path(tempfile.mkdtemp(prefix="attention-lab-notebooks-"))
    out_dir = _output_root / NOTEBOOK_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    # Under `make serve` each notebook comes with the outputs of a run of its code, run in the
    # background (hooks/_notebook_runs.py); mkdocs-jupyter only renders it. In a `mkdocs build`
    # with the cache on, mkdocs-jupyter runs the notebooks and caches them by their bytes: the
    # fingerprint makes the bytes change whenever the package, hooks or pins change.
    runs = _notebook_runs.active()
    fingerprint = _cache.fingerprint() if _cache.enabled() and runs is None else None
    deferred = False
    for chapter in chapter_pages(config.nav or []):  # hooks/chapters.py has added the API pages and notebooks
        source = docs_dir / chapter
        target = out_dir / notebook_name(chapter)

        def build(source: Path = source, chapter: str = chapter) -> nbformat.NotebookNode:
            return chapter_to_notebook(
                chapter_markdown(source),
                chapter_url=_site_link(site_url, Path(chapter).with_suffix("").as_posix(), None),
                site_url=site_url,
                api_pages=api_pages,
                wheel_url=packaged_wheel_url(site_url),
            )

        if runs is None:
            notebook = build()
            if fingerprint is not None:
                notebook.metadata["attention_lab"] = {"build_fingerprint": fingerprint}
            text = nbformat.writes(notebook) + "\n"
        else:
            # What the notebook is built from: the page, the links it makes, the figures it shows.
            shown = [figures.notebook_figure_state(name) for name in figures.FIGURES if name.startswith(f"{Path(chapter).stem}/")]
            inputs = "\0".join([source.read_text(encoding="utf-8"), site_url, repr(sorted(api_pages.items())), *shown])
            text = _notebook_runs.served_text(target.name, chapter, inputs, build, runs)
        waits = False
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            page = files.get_file_from_path(chapter)
            if runs is not None and target.is_file() and page is not None and page.is_modified():
                # The author is looking at the chapter's page: it is rebuilt now, alone; its
                # notebook's page follows in the next rebuild (rendering it takes a few seconds).
                deferred = waits = True
            else:
                target.write_text(text, encoding="utf-8")
        # A real File with its own src_dir (not File.generated): mkdocs-jupyter's wrapper
        # finds the source only through src_dir.
        file = File(
            f"{NOTEBOOK_DIR}/{target.name}",
            src_dir=str(_output_root),
            dest_dir=config.site_dir,
            use_directory_urls=config.use_directory_urls,
        )
        if runs is not None and not waits and _notebook_runs.status_changed(target.name):
            # Its page's note changed (make serve): a newer file renders the page again (mkdocs-jupyter
            # wraps the File, so only its time counts), the notebook from mkdocs-jupyter's cache (by bytes).
            os.utime(target)
        files.append(file)
    if runs is not None:
        runs.forget_unwanted()
        if deferred:
            runs.rebuild_later()
    return files


def on_shutdown(**_: Any) -> None:
    """Remove this process's generated notebooks (the site keeps its copies)."""
    global _output_root
    if _output_root is not None:
        shutil.rmtree(_output_root, ignore_errors=True)
        _output_root = None
