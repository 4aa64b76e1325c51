"""MkDocs hook: each chapter page also becomes an executed, downloadable notebook.

One source of truth: the chapter's Markdown. The chapters are the pages of the
`Chapters` section of the nav in `mkdocs.yml`, in reading order: that list is the
only place a chapter is registered. From it, at every build, this hook

- adds each chapter's API page (`reference/<chapter>.md`, which must exist) to
  the `API reference` section and its notebook to the `Notebooks` section of the
  nav, labelled `Chapter <n> API` and `Chapter <n> notebook`;
- converts each chapter into `notebooks/<chapter>.ipynb` in a temporary folder
  of the build process:

- prose becomes Markdown cells (site links made absolute, Material-only syntax
  turned into plain Markdown, figures replaced by their captions);
- a plain ```` ```python ```` block becomes one code cell;
- a doctest block becomes code cells with the `>>>`/`...` prompts removed and
  the expected output dropped (Jupyter prints it); a cell ends after each
  statement that prints something, so every output of the page shows up;
- an exercise's `??? success "Solution"` block becomes an empty `answer = ...`
  cell and the solution's `check(...)` cell (`blank_exercise_solutions`).

mkdocs-jupyter then executes the notebooks (`allow_errors: false`, so a failing
cell fails the build) and renders them as pages, with a download button. The
hook also puts a "run this chapter as a notebook" note under each chapter's title.
"""

from __future__ import annotations

import doctest
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import nbformat
import yaml
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

try:  # `python -m mkdocs` from the repository root, and the tests
    from hooks import _cache
except ImportError:  # the `mkdocs` script: MkDocs puts hooks/ itself on sys.path while loading a hook
    import _cache  # type: ignore[no-redef]

CHAPTER_SECTION = "Chapters"  # the nav section that lists the chapters, in reading order
API_SECTION = "API reference"  # chapter API pages are added to it, after its index page
NOTEBOOK_SECTION = "Notebooks"  # filled with one notebook per chapter
NOTEBOOK_DIR = "notebooks"
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
# The chapters of the build in progress, read from the nav by `on_config`.
_chapters: tuple[str, ...] = ()
# Where this process writes the generated notebooks: its own temporary folder, so that
# two builds at once (a test run beside `mkdocs serve`) never read each other's files.
_output_root: Path | None = None

_FENCE_OPEN = re.compile(r"^(`{3,})python[ \t]*$")
_FIGURE = re.compile(r"<figure\b.*?</figure>", re.DOTALL)
_FIGCAPTION = re.compile(r"<figcaption>(.*?)</figcaption>", re.DOTALL)
_AUTOREF = re.compile(r"\[([^\]]+)\]\[(attention_lab(?:\.\w+)+)\]")
_PAGE_LINK = re.compile(r"\]\((?!https?:|#)([\w./-]+?)\.md(#[\w-]+)?\)")
_HEADING_ID = re.compile(r"[ \t]*\{[ \t]*#[\w-]+[ \t]*\}[ \t]*$", re.MULTILINE)
_ADMONITION = re.compile(r'^(!!!|\?\?\?\+?)[ \t]+(\w+)(?:[ \t]+"([^"]*)")?[ \t]*$')
_SOLUTION = re.compile(r'^(?P<indent>[ \t]*)\?\?\?\+?[ \t]+success[ \t]+"Solution"[ \t]*$')
_CHECK_CALL = re.compile(r"^[ \t]*(?:>>> )?(check\(.*\))[ \t]*$")
ANSWER_CELL = "answer = ...  # your answer here"


class _IgnoreTags(yaml.SafeLoader):
    """Reads mkdocs.yml without resolving its `!ENV` / `!!python/name` tags (they become None)."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)
_IgnoreTags.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def read_nav(mkdocs_yml: Path) -> list[Any]:
    """The `nav` of an mkdocs.yml file, as written (before this hook adds to it)."""
    config = yaml.load(mkdocs_yml.read_text(encoding="utf-8"), Loader=_IgnoreTags)  # noqa: S506
    return list(config.get("nav") or [])


def _section(nav: list[Any], title: str) -> list[Any] | None:
    """The entries of the top-level nav section called `title`, or None."""
    for entry in nav:
        if isinstance(entry, dict) and title in entry:
            items = entry[title]
            return items if isinstance(items, list) else None
    return None


def _target(item: Any) -> str:
    """The page of a nav item: `page.md` or `{label: page.md}`."""
    return str(next(iter(item.values())) if isinstance(item, dict) else item)


def chapter_pages(nav: list[Any]) -> list[str]:
    """The chapter pages (`simplified-attention.md`, ...), in reading order, from the nav."""
    section = _section(nav, CHAPTER_SECTION)
    if section is None:
        raise ValueError(f"mkdocs.yml: the nav needs a '{CHAPTER_SECTION}' section listing the chapter pages")
    return [_target(item) for item in section]


def api_page(chapter: str) -> str:
    """`causal-attention.md` -> `reference/causal-attention.md`."""
    return f"reference/{chapter}"


def notebook_page(chapter: str) -> str:
    """`causal-attention.md` -> `notebooks/causal-attention.ipynb`."""
    return f"{NOTEBOOK_DIR}/{notebook_name(chapter)}"


_CHAPTER_TITLE = re.compile(r"^# (\d+)\. ", re.MULTILINE)


def chapter_number(docs_dir: Path, chapter: str, position: int) -> int:
    """The number in a chapter's title (`# 5. ...`), else its position in the nav.

    Chapters may be written out of order (chapter 5 before chapters 3 and 4 exist):
    the title's number, not the nav position, names its API page and notebook.
    """
    path = docs_dir / chapter
    match = _CHAPTER_TITLE.search(strip_front_matter(path.read_text(encoding="utf-8"))) if path.is_file() else None
    return int(match.group(1)) if match else position


def register_chapters(nav: list[Any], docs_dir: Path) -> list[Any]:
    """The nav with every chapter's API page and notebook added (idempotent).

    Raises `ValueError`, saying what to add, when a chapter is half-registered:
    its page or its API page is missing, or the nav lacks a section to add to.
    """
    chapters = chapter_pages(nav)
    problems = [f"the chapter page docs/{chapter} does not exist" for chapter in chapters if not (docs_dir / chapter).is_file()]
    problems += [
        f"chapter '{chapter}' has no API page: write docs/{api_page(chapter)} (see README, 'Writing a chapter')"
        for chapter in chapters
        if not (docs_dir / api_page(chapter)).is_file()
    ]
    api, notebooks = _section(nav, API_SECTION), _section(nav, NOTEBOOK_SECTION)
    problems += [f"the nav needs a '{title}' section" for title, found in ((API_SECTION, api), (NOTEBOOK_SECTION, notebooks)) if found is None]
    if problems:
        raise ValueError("mkdocs.yml nav: " + "; ".join(problems))
    assert api is not None and notebooks is not None
    listed = {_target(item) for item in api}
    index_position = next((i + 1 for i, item in enumerate(api) if _target(item) == "reference/index.md"), 0)
    numbered = [(chapter_number(docs_dir, c, position), c) for position, c in enumerate(chapters, 1)]
    new_api = [{f"Chapter {n} API": api_page(c)} for n, c in numbered if api_page(c) not in listed]
    api[index_position:index_position] = new_api
    listed_notebooks = {_target(item) for item in notebooks}
    notebooks.extend(
        {f"Chapter {n} notebook": notebook_page(c)}
        for n, c in numbered
        if notebook_page(c) not in listed_notebooks
    )
    return nav


def strip_front_matter(markdown: str) -> str:
    """A page without its YAML front matter (`---` ... `---`), which is build metadata."""
    return FRONT_MATTER.sub("", markdown, count=1)


def notebook_name(chapter: str) -> str:
    """`simplified-attention.md` -> `simplified-attention.ipynb`."""
    return Path(chapter).with_suffix(".ipynb").name


def _site_link(site_url: str, page: str, anchor: str | None) -> str:
    """The absolute URL of a page of the site (`reference/index` -> `<site>/reference/`)."""
    page = re.sub(r"(^|/)index$", r"\1", page)
    path = f"{page}/" if page and not page.endswith("/") else page
    return f"{site_url}{path}{anchor or ''}"


def _plain_markdown(text: str, *, site_url: str, api_pages: dict[str, str]) -> str:
    """Rewrite MkDocs/Material-only Markdown into Markdown that Jupyter renders."""

    def figure_caption(match: re.Match[str]) -> str:
        caption = _FIGCAPTION.search(match.group(0))
        return f"*Figure: {caption.group(1).strip()}* (the code below draws it)" if caption else ""

    def autoref(match: re.Match[str]) -> str:
        title, identifier = match.groups()
        page = api_pages.get(identifier)
        return f"[{title}]({_site_link(site_url, page, '#' + identifier)})" if page else title

    text = _FIGURE.sub(figure_caption, text)
    text = _AUTOREF.sub(autoref, text)
    text = _PAGE_LINK.sub(lambda m: "](" + _site_link(site_url, m.group(1), m.group(2)) + ")", text)
    text = _HEADING_ID.sub("", text)
    return _admonitions_as_quotes(text)


def _admonitions_as_quotes(text: str) -> str:
    """`!!! note "Title"` plus its indented body -> a block quote with a bold title."""
    out: list[str] = []
    inside = False
    for line in text.split("\n"):
        match = _ADMONITION.match(line)
        if match:
            inside = True
            out.append(f"> **{match.group(3) or match.group(2).capitalize()}**")
            out.append(">")
        elif inside and (line.startswith("    ") or not line.strip()):
            out.append(("> " + line[4:]).rstrip())
        else:
            inside = False
            out.append(line)
    return "\n".join(out)


def _doctest_cells(body: str) -> list[str]:
    """Code cells from a doctest block: prompts removed, expected output dropped.

    An example whose expected output is an exception becomes a `try`/`except`
    that prints the error, so the notebook shows it and still runs on.
    """
    cells: list[str] = []
    pending: list[str] = []
    for example in doctest.DocTestParser().get_examples(body):
        source = example.source.rstrip("\n")
        if example.exc_msg is not None:
            indented = "\n".join("    " + line for line in source.split("\n"))
            source = f"try:\n{indented}\nexcept Exception as error:\n    print(f\"{{type(error).__name__}}: {{error}}\")"
        pending.append(source)
        if example.want or example.exc_msg is not None:
            cells.append("\n".join(pending))
            pending = []
    if pending:
        cells.append("\n".join(pending))
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


def split_chapter(markdown: str) -> list[tuple[str, str]]:
    """Split a chapter into `("markdown" | "code", source)` cells, in page order."""
    cells: list[tuple[str, str]] = []
    prose: list[str] = []
    lines = markdown.split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        if not opening:
            prose.append(lines[index])
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == opening.group(1))
        body = "\n".join(lines[index + 1 : end])
        if "\n".join(prose).strip():
            cells.append(("markdown", "\n".join(prose).strip()))
        prose = []
        if body.lstrip().startswith(">>>"):
            cells.extend(("code", source) for source in _doctest_cells(body))
        else:
            cells.append(("code", body.strip("\n")))
        index = end + 1
    if "\n".join(prose).strip():
        cells.append(("markdown", "\n".join(prose).strip()))
    return cells


def chapter_to_notebook(
    markdown: str, *, chapter_url: str, site_url: str, api_pages: dict[str, str]
) -> nbformat.NotebookNode:
    """Build the notebook of one chapter (see the module docstring for the rules)."""
    markdown = blank_exercise_solutions(markdown)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    cells = [
        nbformat.v4.new_markdown_cell(
            f"*Generated from the chapter page [{chapter_url}]({chapter_url}); every output shown "
            "there is checked by the test suite. Run it with the `attention_lab` package installed "
            "(`make serve` in a clone of the repository sets up `.venv`, a kernel with it).*"
        ),
        nbformat.v4.new_code_cell("%matplotlib inline"),
    ]
    for kind, source in split_chapter(markdown):
        if kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(_plain_markdown(source, site_url=site_url, api_pages=api_pages)))
        else:
            cells.append(nbformat.v4.new_code_cell(source))
    # Markdown holds the title as the first heading: put it first, above the generated-from note.
    title_cell = cells[2] if len(cells) > 2 and cells[2].cell_type == "markdown" else None
    if title_cell is not None and title_cell.source.startswith("# "):
        title, _, rest = title_cell.source.partition("\n")
        cells[0].source = f"{title}\n\n{cells[0].source}"
        title_cell.source = rest.strip()
        if not title_cell.source:
            del cells[2]
    notebook.cells = cells
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{number}"
    nbformat.validate(notebook)
    return notebook


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


def on_config(config: MkDocsConfig, **_: Any) -> MkDocsConfig:
    """Read the chapters from the nav; add their API pages and notebooks to it."""
    global _chapters
    try:
        config.nav = register_chapters(config.nav or [], Path(config.docs_dir))
        _chapters = tuple(chapter_pages(config.nav))
    except ValueError as error:
        raise PluginError(str(error)) from error
    return config


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
    # Under `make serve` mkdocs-jupyter caches executed notebooks by their bytes: this makes
    # the bytes, and so the cache key, change whenever the package, hooks or pins change.
    fingerprint = _cache.fingerprint() if _cache.enabled() else None
    for chapter in _chapters:
        source = docs_dir / chapter
        notebook = chapter_to_notebook(
            strip_front_matter(source.read_text(encoding="utf-8")),
            chapter_url=_site_link(site_url, Path(chapter).with_suffix("").as_posix(), None),
            site_url=site_url,
            api_pages=api_pages,
        )
        if fingerprint is not None:
            notebook.metadata["attention_lab"] = {"build_fingerprint": fingerprint}
        target = out_dir / notebook_name(chapter)
        text = nbformat.writes(notebook) + "\n"
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        # A real File with its own src_dir (not File.generated): mkdocs-jupyter's wrapper
        # finds the source only through src_dir.
        files.append(
            File(
                f"{NOTEBOOK_DIR}/{target.name}",
                src_dir=str(_output_root),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return files


@event_priority(50)  # before Material's search plugin indexes the page
def on_page_context(context: dict[str, Any], page: Page, **_: Any) -> dict[str, Any]:
    """Keep notebook pages out of the search index: they repeat their chapter word for word.

    Every page downloads the index, so the duplicates would cost each reader about 100 KB.
    """
    if page.file.src_uri.startswith(f"{NOTEBOOK_DIR}/"):
        page.meta["search"] = {**(page.meta.get("search") or {}), "exclude": True}
    return context


def on_shutdown(**_: Any) -> None:
    """Remove this process's generated notebooks (the site keeps its copies)."""
    global _output_root
    if _output_root is not None:
        shutil.rmtree(_output_root, ignore_errors=True)
        _output_root = None


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files, **_: Any) -> str:
    """Under a chapter's title, link its executed notebook and the download."""
    chapter = page.file.src_uri
    if chapter not in _chapters:
        return markdown
    name = notebook_name(chapter)
    note = (
        f'!!! tip "Run this chapter yourself"\n\n'
        f"    Every block below is also in a Jupyter notebook generated from this page: "
        f"[read it executed]({NOTEBOOK_DIR}/{name}) or "
        f'<a href="../{NOTEBOOK_DIR}/{Path(name).stem}/{name}" download>download {name}</a>.\n'
    )
    title, newline, rest = markdown.partition("\n")
    return f"{title}{newline}\n{note}{rest}" if title.startswith("# ") else f"{note}\n{markdown}"
