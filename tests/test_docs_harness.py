"""The doc examples are really collected: nothing is skipped silently.

Sybil collects only fences whose info string is exactly ``python``. A fence
written ``py``, ``pycon`` or ``python title="x"`` would render on the site and
never run, so any such fence fails here, and every ``python`` fence must yield
at least one collected example. The per-page counts are pinned as well, beside
each page, in its front matter (``examples: N``): when a page gains or loses
examples, update that number on purpose.

The chapters are registered in one place, the ``Chapters`` section of the nav
in ``mkdocs.yml``; a chapter missing its page, its API page or its module fails
here with a message that says what to add, and so does any other file that
lists every chapter by hand. Each chapter's public names are exported, linked
from its prose, documented once on its API page and link back to where they
are taught; every argument of the public API is documented under its name.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from collections.abc import Callable
from pathlib import Path

import griffe
import pytest
from markdown.extensions.toc import slugify

import attention_lab
import conftest
from hooks import chapters

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "attention_lab"

CHAPTERS = chapters.chapter_pages(chapters.read_nav(ROOT / "mkdocs.yml"))

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


def pinned_examples(page: Path) -> int | None:
    """The `examples: N` of a page's front matter (None without one)."""
    return chapters.front_matter(page).get("examples")


@pytest.mark.parametrize("page", markdown_pages(), ids=relative)
def test_example_counts_are_pinned_in_each_pages_front_matter(page: Path) -> None:
    collected, pinned = len(collected_lines(page)), pinned_examples(page)
    if pinned is None:
        assert collected == 0, (
            f"{relative(page)} yields {collected} doc examples: pin the count in its front matter, "
            f"a first line '---', then 'examples: {collected}', then '---'"
        )
    else:
        assert collected == pinned, (
            f"{relative(page)} yields {collected} doc examples, its front matter pins {pinned}: "
            f"update 'examples:' on purpose if the change is intended"
        )


def test_chapters_are_registered_once_and_completely() -> None:
    """A chapter is its nav entry, its page, its API page and the module that page documents."""
    assert CHAPTERS[:2] == ["simplified-attention.md", "self-attention.md"]
    problems = []
    previous = 0
    for chapter in CHAPTERS:
        page, reference = DOCS / chapter, DOCS / chapters.api_page(chapter)
        if not page.is_file():
            problems.append(f"nav lists {chapter}, but docs/{chapter} does not exist")
            continue
        title = next((line for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("# ")), "")
        numbered_title = re.match(r"# (\d+)\. ", title)
        if not numbered_title:
            problems.append(f"docs/{chapter} is a chapter: its title must start '# <n>. ', got {title!r}")
        elif int(numbered_title.group(1)) <= previous:
            problems.append(f"docs/{chapter} is numbered {numbered_title.group(1)} but follows chapter {previous} in the nav")
        else:
            previous = int(numbered_title.group(1))
        module = PACKAGE / f"{chapters.chapter_module(chapter)}.py"
        if not module.is_file():
            problems.append(f"chapter {chapter} needs its module attention_lab/{module.name}")
        if not reference.is_file():
            problems.append(f"chapter {chapter} needs its API page docs/{chapters.api_page(chapter)}")
        elif f"attention_lab.{module.stem}" not in reference.read_text(encoding="utf-8"):
            problems.append(f"docs/{chapters.api_page(chapter)} must document module attention_lab.{module.stem}")
    numbered = [p for p in DOCS.glob("*.md") if re.match(r"# \d+\. ", chapters.strip_front_matter(p.read_text(encoding="utf-8")))]
    problems += [f"docs/{p.name} is a numbered chapter but not in the nav's Chapters section" for p in numbered if p.name not in CHAPTERS]
    assert not problems, "half-registered chapters:\n" + "\n".join(problems)


def test_the_pages_draw_their_weights_with_the_seeds_the_exercises_explorer_and_figures_use() -> None:
    """attention_lab/_chapter_seeds.py holds the seeds once for the code that recomputes the chapters'
    numbers; the pages write them out, as a reader types them."""
    from attention_lab._chapter_seeds import CHAPTER_2_HIDDEN_DIM, CHAPTER_2_SEED, CHAPTER_4_SEED

    assert f"init_projection_weights(3, {CHAPTER_2_HIDDEN_DIM}, seed={CHAPTER_2_SEED})" in (DOCS / "self-attention.md").read_text(encoding="utf-8")
    assert f"MultiHeadAttention(3, 3, seed={CHAPTER_4_SEED})" in (DOCS / "multihead-attention.md").read_text(encoding="utf-8")


def section_anchors(page: Path) -> set[str]:
    """The anchors of a page's headings: an explicit `{#id}`, else the slug MkDocs makes."""
    headings = re.findall(r"^#{1,6} (.+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
    explicit = [re.search(r"\{\s*#([\w-]+)\s*\}\s*$", heading) for heading in headings]
    return {match.group(1) if match else slugify(heading, "-") for heading, match in zip(headings, explicit, strict=True)}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_package_exports_every_public_name_of_the_chapters_module(chapter: str) -> None:
    module = importlib.import_module(f"attention_lab.{chapters.chapter_module(chapter)}")
    package = importlib.import_module("attention_lab")
    assert [name for name in module.__all__ if name not in package.__all__] == []
    assert [name for name in module.__all__ if getattr(package, name) is not getattr(module, name)] == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_chapter_links_every_public_object_of_its_module_from_its_prose(chapter: str) -> None:
    """Each public name is introduced in the chapter's text by a link to its API entry
    ("[`cache_causal_mask`][attention_lab.cache_causal_mask]"), not only used in code."""
    module = importlib.import_module(f"attention_lab.{chapters.chapter_module(chapter)}")
    text = (DOCS / chapter).read_text(encoding="utf-8")
    unlinked = [
        name
        for name in module.__all__
        if f"][attention_lab.{name}]" not in text and f"][{module.__name__}.{name}]" not in text
    ]
    assert unlinked == [], f"docs/{chapter} never links these from its prose"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_api_page_documents_every_public_object_of_the_chapters_module_once(chapter: str) -> None:
    module = importlib.import_module(f"attention_lab.{chapters.chapter_module(chapter)}")
    text = (DOCS / chapters.api_page(chapter)).read_text(encoding="utf-8")
    assert [name for name in module.__all__ if text.count(f"::: attention_lab.{name}\n") != 1] == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_docstring_links_back_to_an_existing_section_of_its_chapter(chapter: str) -> None:
    """Each public function and class of a chapter's module says where the chapter teaches it
    ("Taught in [7.5](../generation.md#75-...)"), and that section exists."""
    module = importlib.import_module(f"attention_lab.{chapters.chapter_module(chapter)}")
    anchors = section_anchors(DOCS / chapter)
    pattern = re.compile(rf"Taught in .*?\]\(\.\./{re.escape(chapter)}#([\w-]+)\)", re.DOTALL)
    for name in module.__all__:
        documented = getattr(module, name)
        if not callable(documented):  # a constant (TOKENS, ROPE_BASE) has no docstring of its own
            continue
        links = pattern.findall(documented.__doc__ or "")
        assert links, f"{name} does not say where it is taught"
        assert set(links) <= anchors, f"{name} links to a missing section: {set(links) - anchors}"


def public_callables() -> dict[str, Callable[..., object]]:
    """Every public function, module class (its constructor) and public method, by qualified name.
    Dataclasses and named tuples are left out: their fields are documented one by one as attributes."""
    import attention_lab.exercises
    import attention_lab.plotting

    found: dict[str, Callable[..., object]] = {}
    for package in (attention_lab, attention_lab.plotting, attention_lab.exercises):
        for name in package.__all__:
            obj = getattr(package, name)
            if inspect.isfunction(obj):
                found[f"{package.__name__}.{name}"] = obj
            elif inspect.isclass(obj) and not (dataclasses.is_dataclass(obj) or hasattr(obj, "_fields") or issubclass(obj, Exception)):
                found[f"{package.__name__}.{name}"] = obj
                found.update({f"{package.__name__}.{name}.{method}": member for method, member in vars(obj).items()
                              if inspect.isfunction(member) and not method.startswith("_")})  # fmt: skip
    return found


def documented_arguments(function: Callable[..., object]) -> dict[str, list[list[str]]]:
    """The rows of the Args and Other Parameters sections of a Google-style docstring, each row the
    names it documents: `a, b: As for ...` is one row of two."""
    rows: dict[str, list[list[str]]] = {"parameters": [], "other parameters": []}
    for section in griffe.Docstring(inspect.cleandoc(function.__doc__ or "")).parse("google", warn_unknown_params=False):
        if section.kind.value in rows:
            rows[section.kind.value] += [[name.strip().lstrip("*") for name in item.name.split(",")] for item in section.value]
    return rows


@pytest.mark.parametrize(("name", "function"), public_callables().items(), ids=public_callables().keys())
def test_every_argument_of_the_public_api_is_documented_and_nothing_else(name: str, function: Callable[..., object]) -> None:
    """The API pages list every argument, by its name in the signature. Siblings may share a row
    (`seed, generator, dtype: As for ...`); griffe's own check of names is off for that (mkdocs.yml).
    A shared row of Args holds only required arguments: the table shows one default for the row,
    "required"; arguments with defaults share a row under Other Parameters, which shows none."""
    signature = inspect.signature(function.__init__ if inspect.isclass(function) else function)  # type: ignore[misc]
    parameters = {key: value for key, value in signature.parameters.items() if key not in ("self", "cls")}
    rows = documented_arguments(function)
    documented = [entry for section in rows.values() for row in section for entry in row]
    assert [argument for argument in parameters if argument not in documented] == [], f"{name}: undocumented"
    assert [entry for entry in documented if entry not in parameters] == [], f"{name}: documents what it does not take"
    assert len(documented) == len(set(documented)), f"{name}: documents an argument twice"
    shared_with_defaults = [
        row for row in rows["parameters"]
        if len(row) > 1 and any(parameters[entry].default is not inspect.Parameter.empty for entry in row)
    ]  # fmt: skip
    assert shared_with_defaults == [], f"{name}: a shared Args row would show these as required"


def test_the_hook_adds_api_pages_and_notebooks_to_the_nav(tmp_path: Path) -> None:
    nav = chapters.register_chapters(chapters.read_nav(ROOT / "mkdocs.yml"), DOCS)
    api = next(entry["API reference"] for entry in nav if isinstance(entry, dict) and "API reference" in entry)
    books = next(entry["Notebooks"] for entry in nav if isinstance(entry, dict) and "Notebooks" in entry)
    assert {"Chapter 1 API": "reference/simplified-attention.md"} in api
    numbers = [chapters.chapter_number(DOCS, chapter, position) for position, chapter in enumerate(CHAPTERS, 1)]
    assert numbers[:2] == [1, 2] and numbers == sorted(set(numbers))  # from the titles, in order
    assert [next(iter(item)) for item in books] == [f"Chapter {n} notebook" for n in numbers]
    assert chapters.register_chapters(nav, DOCS) == nav  # a second call adds nothing
    (tmp_path / "new-chapter.md").write_text("# 9. New\n", encoding="utf-8")
    half = [{"Chapters": ["new-chapter.md"]}, {"API reference": ["reference/index.md"]}, {"Notebooks": []}]
    with pytest.raises(ValueError, match=r"no API page: write docs/reference/new-chapter.md"):
        chapters.register_chapters(half, tmp_path)
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "new-chapter.md").write_text("::: attention_lab.new_chapter\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"new-chapter.md' has no summary: add 'summary:' to the front matter"):
        chapters.register_chapters(half, tmp_path)
    (tmp_path / "new-chapter.md").write_text("---\nsummary: >-\n  what it computes\n---\n\n# 9. New\n", encoding="utf-8")
    assert chapters.register_chapters(half, tmp_path)[2] == {"Notebooks": [{"Chapter 9 notebook": "notebooks/new-chapter.ipynb"}]}
    # With its page, its API page and its nav line, every list of the chapters the site shows has it.
    lists = chapters.write_chapter_lists(
        "\n".join(marker for marker in (chapters.CHAPTER_TABLE_MARKER, chapters.CHAPTER_API_MARKER, chapters.CHAPTER_NOTEBOOKS_MARKER)),
        ["new-chapter.md"], tmp_path,
    )  # fmt: skip
    assert lists.splitlines()[2:] == [
        "| [9. New](new-chapter.md) | what it computes | [`attention_lab.new_chapter`](reference/new-chapter.md) |",
        "| [Chapter 9 API](new-chapter.md) | `attention_lab.new_chapter` | [9. New](../new-chapter.md) |",
        "[chapter 9](notebooks/new-chapter.ipynb)",
    ]


# Registration points: the files that name every chapter. Adding a chapter may touch only these
# (besides the chapter's own files: page, API page, module, exercises, tests, figures): the nav
# line in mkdocs.yml and the import line in attention_lab/__init__.py. docs/explore.md names every
# chapter because the explorer teaches with all of them; a new chapter need not appear there.
REGISTRATION_FILES = {"mkdocs.yml", "attention_lab/__init__.py"}
NAMES_EVERY_CHAPTER_AS_CONTENT = {"docs/explore.md"}


def names_chapter(chapter: str) -> re.Pattern[str]:
    """How a file names a chapter: its module (`attention_lab.generation`, `generation.py`) or its page."""
    module, stem = chapters.chapter_module(chapter), re.escape(Path(chapter).stem)
    return re.compile(rf"attention_lab\.(?:exercises\.)?{module}\b|\b{module}\.py\b|\b{stem}\.(?:md|ipynb)\b")


def test_only_the_registry_and_the_package_import_name_every_chapter() -> None:
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    patterns = [names_chapter(chapter) for chapter in CHAPTERS]
    texts = {
        name: (ROOT / name).read_text(encoding="utf-8", errors="replace")
        for name in tracked
        if Path(name).suffix in {".py", ".md", ".yml", ".yaml", ".toml", ".html", ".js", ".css", ".cfg", ".txt", ""}
        and not name.startswith(("docs/assets/", "docs/figures/")) and (ROOT / name).is_file()
    }  # fmt: skip
    every = {name for name, text in texts.items() if all(pattern.search(text) for pattern in patterns)}
    assert every == REGISTRATION_FILES | NAMES_EVERY_CHAPTER_AS_CONTENT, (
        "these files list every chapter: write such a list from the registry (hooks/chapters.py) instead"
    )


def test_the_api_reference_index_has_a_row_for_every_chapter_written_from_the_registry() -> None:
    """docs/reference/index.md's chapter rows are written at build time (the marker), in nav order:
    the API page, the module and the chapter's own title, so none can go stale."""
    index = (DOCS / "reference" / "index.md").read_text(encoding="utf-8")
    assert index.count(chapters.CHAPTER_API_MARKER) == 1 and "| [Chapter" not in index
    rows = chapters.chapter_api_rows(CHAPTERS, DOCS).splitlines()
    assert [re.match(r"\| \[Chapter (\d+) API\]\(([\w-]+\.md)\)", row).groups() for row in rows] == [  # type: ignore[union-attr]
        (str(n), chapter) for n, chapter in enumerate(CHAPTERS, 1)
    ]
    assert "| [Chapter 6 API](positions.md) | `attention_lab.positions` | [6. Where the words are: positions](../positions.md) |" in rows


def test_the_home_page_lists_every_chapter_and_its_notebook() -> None:
    """The home page cannot go stale: its table of chapters and its notebook list are written
    from the registry at build time (the markers), each chapter's row with its own summary."""
    home = (DOCS / "index.md").read_text(encoding="utf-8")
    assert home.count(chapters.CHAPTER_NOTEBOOKS_MARKER) == 1 and home.count(chapters.CHAPTER_TABLE_MARKER) == 1
    assert not re.search(r"^\| \[\d\. ", home, re.MULTILINE), "no chapter row written by hand"
    links = chapters.chapter_notebook_links(CHAPTERS, DOCS)
    assert [f"[chapter {n}]" for n in range(1, len(CHAPTERS) + 1)] == re.findall(r"\[chapter \d+\]", links)
    assert all(f"({chapters.notebook_page(chapter)})" in links for chapter in CHAPTERS)
    table_rows = chapters.chapter_table(CHAPTERS, DOCS).splitlines()[2:]
    assert [re.search(r"\]\(([\w-]+\.md)\)", row).group(1) for row in table_rows] == CHAPTERS  # type: ignore[union-attr]
    assert table_rows[6] == (
        "| [7. Generating one token at a time](generation.md) | the KV cache: prefill, decode, chunked prefill (7.1); "
        "the bottom-right mask a cache needs (7.2); RoPE offsets (7.3); growing and preallocated caches (7.4); "
        "multi-query and grouped-query attention (7.5); sliding windows and a rolling cache (7.6); the cache's size "
        "for published models, and its speed-up measured (7.7); latent attention, expanded and absorbed (7.8); "
        "checked against PyTorch's SDPA and Hugging Face's Llama cache | [`attention_lab.generation`](reference/generation.md) |"
    )  # the summary's lines joined with single spaces
    nav = chapters.read_nav(ROOT / "mkdocs.yml")
    assert chapters.chapter_notebook_links(chapters.chapter_pages(nav)[:2], DOCS).count("[chapter") == 2


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
    failures = conftest.failing_examples(broken)
    assert len(failures) == 1
    line, message = failures[0]
    assert broken.read_text(encoding="utf-8").splitlines()[line - 1] == ">>> context_vector_2"
    assert "0.5672" in message and "0.5671" in message
