"""MkDocs hook: the chapter registry. A chapter is registered in one place, the nav.

The chapters are the pages of the `Chapters` section of the nav in `mkdocs.yml`,
in reading order: that list is the only place a chapter is registered. From it,
at every build, this hook

- adds each chapter's API page (`reference/<chapter>.md`, which must exist) to
  the `API reference` section and its notebook (`notebooks/<chapter>.ipynb`,
  made by `hooks/notebooks.py`) to the `Notebooks` section of the nav, labelled
  `Chapter <n> API` and `Chapter <n> notebook`, n from the chapter's title;
- writes what lists every chapter: the home page's table of chapters
  (`<!-- chapter-table -->`, from each chapter's front matter `summary`) and
  notebook links (`<!-- chapter-notebooks -->`), the API reference index's
  rows (`<!-- chapter-api-pages -->`) and the exercises API page's entries of
  the chapters' spec modules (`<!-- chapter-exercise-modules -->`);
- puts a "run this chapter as a notebook" note under each chapter's title.

A chapter's page, its module and its test file share one name (`generation.md`,
`attention_lab/generation.py`, `tests/test_generation.py`: `chapter_module`).
The other hooks and the tests read the registry through the functions here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

CHAPTER_SECTION = "Chapters"  # the nav section that lists the chapters, in reading order
API_SECTION = "API reference"  # chapter API pages are added to it, after its index page
NOTEBOOK_SECTION = "Notebooks"  # filled with one notebook per chapter
NOTEBOOK_DIR = "notebooks"
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
# The chapters of the build in progress, read from the nav by `on_config`.
_chapters: tuple[str, ...] = ()

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


def chapter_module(chapter: str) -> str:
    """`causal-attention.md` -> `causal_attention`: the chapter's module in `attention_lab/`, and
    the name of its test file, `tests/test_causal_attention.py`."""
    return Path(chapter).stem.replace("-", "_")


def notebook_page(chapter: str) -> str:
    """`causal-attention.md` -> `notebooks/causal-attention.ipynb`."""
    return f"{NOTEBOOK_DIR}/{notebook_name(chapter)}"


def chapter_number(docs_dir: Path, chapter: str, position: int) -> int:
    """The number in a chapter's title (`# 5. ...`), else its position in the nav.

    Chapters may be written out of order (chapter 5 before chapters 3 and 4 exist):
    the title's number, not the nav position, names its API page and notebook.
    """
    match = re.match(r"(\d+)\. ", chapter_title(docs_dir, chapter))
    return int(match.group(1)) if match else position


def chapter_title(docs_dir: Path, chapter: str) -> str:
    """A chapter page's title, its `# ` heading (`7. Generating one token at a time`); the
    page's name while the page does not exist."""
    path = docs_dir / chapter
    text = strip_front_matter(path.read_text(encoding="utf-8")) if path.is_file() else ""
    return next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), chapter)


def numbered_chapters(chapters: Sequence[str], docs_dir: Path) -> list[tuple[int, str]]:
    """Each chapter with its number (from its title, else its place in the nav), in nav order."""
    return [(chapter_number(docs_dir, chapter, position), chapter) for position, chapter in enumerate(chapters, 1)]


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
    problems += [
        f"chapter '{chapter}' has no summary: add '{SUMMARY_KEY}:' to the front matter of docs/{chapter}, "
        f"what the reader computes in it (the home page's table of chapters)"
        for chapter in chapters
        if (docs_dir / chapter).is_file() and not front_matter(docs_dir / chapter).get(SUMMARY_KEY)
    ]
    api, notebooks = _section(nav, API_SECTION), _section(nav, NOTEBOOK_SECTION)
    problems += [f"the nav needs a '{title}' section" for title, found in ((API_SECTION, api), (NOTEBOOK_SECTION, notebooks)) if found is None]
    if problems:
        raise ValueError("mkdocs.yml nav: " + "; ".join(problems))
    assert api is not None and notebooks is not None
    listed = {_target(item) for item in api}
    index_position = next((i + 1 for i, item in enumerate(api) if _target(item) == "reference/index.md"), 0)
    numbered = numbered_chapters(chapters, docs_dir)
    new_api = [{f"Chapter {n} API": api_page(c)} for n, c in numbered if api_page(c) not in listed]
    api[index_position:index_position] = new_api
    listed_notebooks = {_target(item) for item in notebooks}
    notebooks.extend(
        {f"Chapter {n} notebook": notebook_page(c)}
        for n, c in numbered
        if notebook_page(c) not in listed_notebooks
    )
    return nav


# The home page's list of chapter notebooks is written here, from the registry, so that it
# can never stop short of the last chapter (docs/index.md holds the marker).
CHAPTER_NOTEBOOKS_MARKER = "<!-- chapter-notebooks -->"


def chapter_notebook_links(chapters: Sequence[str], docs_dir: Path) -> str:
    """`[chapter 1](notebooks/simplified-attention.ipynb), ...`: every chapter's notebook, in order."""
    return ", ".join(f"[chapter {n}]({notebook_page(c)})" for n, c in numbered_chapters(chapters, docs_dir))


CHAPTER_API_MARKER = "<!-- chapter-api-pages -->"


def chapter_api_rows(chapters: Sequence[str], docs_dir: Path) -> str:
    """The API reference index's rows, one per chapter in nav order: its API page, its module
    and its title, written from the registry at build time (docs/reference/index.md's marker)."""
    return "\n".join(
        f"| [Chapter {number} API]({chapter}) | `attention_lab.{chapter_module(chapter)}` | [{chapter_title(docs_dir, chapter)}](../{chapter}) |"
        for number, chapter in numbered_chapters(chapters, docs_dir)
    )


# The home page's table of chapters: each chapter's title, what the reader computes in it (the
# `summary` of its front matter) and its module, in reading order (docs/index.md's marker).
CHAPTER_TABLE_MARKER = "<!-- chapter-table -->"
SUMMARY_KEY = "summary"


def chapter_table(chapters: Sequence[str], docs_dir: Path) -> str:
    """The home page's table of chapters, one row per chapter in nav order."""
    rows = ["| Chapter | What you compute | Package module |", "| --- | --- | --- |"]
    for chapter in chapters:
        summary = " ".join(str(front_matter(docs_dir / chapter).get(SUMMARY_KEY, "")).split())
        module = f"[`attention_lab.{chapter_module(chapter)}`]({api_page(chapter)})"
        rows.append(f"| [{chapter_title(docs_dir, chapter)}]({chapter}) | {summary} | {module} |")
    return "\n".join(rows)


# The exercises API page documents each chapter's spec module, in reading order: written here from
# the registry, for every chapter that has one (docs/reference/exercises.md holds the marker).
CHAPTER_EXERCISES_MARKER = "<!-- chapter-exercise-modules -->"
EXERCISES_PACKAGE = Path(__file__).resolve().parent.parent / "attention_lab" / "exercises"


def chapter_exercise_modules(chapters: Sequence[str], docs_dir: Path) -> str:
    """`::: attention_lab.exercises.<module>` for each chapter with a spec module, in nav order."""
    modules = [chapter_module(chapter) for chapter in chapters]
    return "\n\n".join(f"::: attention_lab.exercises.{m}" for m in modules if (EXERCISES_PACKAGE / f"{m}.py").is_file())


def lists_chapters(markdown: str) -> bool:
    """Whether a page holds a list written from the chapter pages (a marker): it changes with them."""
    return any(marker in markdown for marker in (CHAPTER_NOTEBOOKS_MARKER, CHAPTER_API_MARKER, CHAPTER_TABLE_MARKER))


def write_chapter_lists(markdown: str, chapters: Sequence[str], docs_dir: Path) -> str:
    """A page with each marker replaced by the list it stands for, written from the registry."""
    for marker, written in ((CHAPTER_TABLE_MARKER, chapter_table), (CHAPTER_NOTEBOOKS_MARKER, chapter_notebook_links),
                            (CHAPTER_API_MARKER, chapter_api_rows), (CHAPTER_EXERCISES_MARKER, chapter_exercise_modules)):  # fmt: skip
        if marker in markdown:
            markdown = markdown.replace(marker, written(chapters, docs_dir))
    return markdown


def strip_front_matter(markdown: str) -> str:
    """A page without its YAML front matter (`---` ... `---`), which is build metadata."""
    return FRONT_MATTER.sub("", markdown, count=1)


def front_matter(path: Path) -> dict[str, Any]:
    """A page's YAML front matter as a dict (empty without one)."""
    match = FRONT_MATTER.match(path.read_text(encoding="utf-8"))
    meta = yaml.safe_load(match.group(0).strip("-\n")) if match else None
    return meta if isinstance(meta, dict) else {}


def notebook_name(chapter: str) -> str:
    """`simplified-attention.md` -> `simplified-attention.ipynb`."""
    return Path(chapter).with_suffix(".ipynb").name


def on_config(config: MkDocsConfig, **_: Any) -> MkDocsConfig:
    """Read the chapters from the nav; add their API pages and notebooks to it."""
    global _chapters
    try:
        config.nav = register_chapters(config.nav or [], Path(config.docs_dir))
        _chapters = tuple(chapter_pages(config.nav))
    except ValueError as error:
        raise PluginError(str(error)) from error
    return config


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files, **_: Any) -> str:
    """Under a chapter's title, link its executed notebook and the download; on a page that
    asks for them (the home page, the API reference index), write the lists of every chapter."""
    markdown = write_chapter_lists(markdown, _chapters, Path(config.docs_dir))
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
