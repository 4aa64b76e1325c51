"""hooks/author_loop.py and hooks/_notebook_runs.py: what `make serve` rebuilds after an edit.

A notebook runs again only when what its run depends on changed (its code, the package
modules that code imports, its chapter's exercise specs, the pins); a prose edit keeps
its outputs; a page whose run is under way says so. The timings are `make bench`'s.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from mkdocs.livereload import LiveReloadServer
from nbformat import NotebookNode

from hooks import _cache, _notebook_runs, author_loop, chapters, figures, package_wheel
from hooks._notebook_runs import Runs, imported_files, run_key, with_outputs

from .conftest import ROOT

PACKAGE_FILES = {path for path in (ROOT / "attention_lab").rglob("*.py") if "__pycache__" not in path.parts}


def package(*names: str) -> set[Path]:
    return {ROOT / "attention_lab" / name for name in names}


def test_a_name_from_the_package_counts_as_the_module_that_defines_it() -> None:
    assert imported_files("from attention_lab import softmax") == package(
        "__init__.py", "simplified_attention.py", "_checks.py"
    )


def test_a_module_counts_with_the_package_modules_it_imports() -> None:
    files = imported_files("from attention_lab.generation import kv_cache_bytes")
    assert package("generation.py", "multihead_attention.py", "causal_attention.py", "simplified_attention.py") <= files
    assert not files & package("positions.py", "memory_efficient_attention.py", "plotting.py")


@pytest.mark.parametrize("code", ["import attention_lab", "x = (", "import attention_lab.plotting as p\nimport attention_lab"])
def test_code_that_can_reach_anything_depends_on_everything(code: str) -> None:
    assert imported_files(code) == PACKAGE_FILES


def test_the_exercise_specs_of_a_page_are_found_by_the_page_they_name() -> None:
    assert _notebook_runs.exercise_specs("memory-efficient-attention.md") == [
        "attention_lab.exercises.memory_efficient_attention"
    ]
    assert _notebook_runs.exercise_specs("reproducibility.md") == []


def notebook(*cells: tuple[str, str]) -> NotebookNode:
    made = nbformat.v4.new_notebook()
    made.cells = [
        nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        for kind, source in cells
    ]
    for number, cell in enumerate(made.cells):
        cell["id"] = f"cell-{number}"
    return made


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "attention_lab", tmp_path / "attention_lab", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("requirements.lock", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs" / "data", tmp_path / "docs" / "data")
    return tmp_path


def edit(path: Path) -> None:
    """Change what a file does (a line of code at its end)."""
    path.write_text(path.read_text(encoding="utf-8") + "\nEDITED = 1\n", encoding="utf-8")


def test_a_docstring_or_comment_edit_runs_nothing_again(project_copy: Path) -> None:
    before = run_key(CHAPTER_5, "memory-efficient-attention.md", project_copy)
    module = project_copy / "attention_lab" / "memory_efficient_attention.py"
    source = module.read_text(encoding="utf-8")
    assert source.count('"""') >= 4
    first, rest = source.split('"""', 1)
    module.write_text(first + '"""An edited sentence. ' + rest + "\n# a comment\n", encoding="utf-8")
    assert run_key(CHAPTER_5, "memory-efficient-attention.md", project_copy) == before
    edit(module)
    assert run_key(CHAPTER_5, "memory-efficient-attention.md", project_copy) != before


CHAPTER_5 = notebook(
    ("markdown", "# 5. Attention without the L×L matrix"),
    ("code", "%matplotlib inline\nfrom attention_lab import tiled_attention"),
    ("code", "from attention_lab.exercises import check"),
)


@pytest.mark.parametrize(
    ("edited", "runs_again"),
    [
        ("attention_lab/memory_efficient_attention.py", True),  # defines tiled_attention
        ("attention_lab/simplified_attention.py", True),  # imported by it
        ("attention_lab/exercises/memory_efficient_attention.py", True),  # the chapter's exercises
        ("requirements.lock", True),
        ("attention_lab/generation.py", False),  # chapter 7's module
        ("attention_lab/exercises/generation.py", False),  # chapter 7's exercises
    ],
)
def test_a_notebook_runs_again_only_when_what_it_runs_changed(project_copy: Path, edited: str, runs_again: bool) -> None:
    before = run_key(CHAPTER_5, "memory-efficient-attention.md", project_copy)
    edit(project_copy / edited)
    assert (run_key(CHAPTER_5, "memory-efficient-attention.md", project_copy) != before) is runs_again


def test_prose_does_not_change_the_run_key_and_code_does() -> None:
    key = run_key(CHAPTER_5, "memory-efficient-attention.md")
    prose = nbformat.from_dict(CHAPTER_5)
    prose.cells[0].source += "\n\nA new sentence."
    assert run_key(prose, "memory-efficient-attention.md") == key
    code = nbformat.from_dict(CHAPTER_5)
    code.cells[2].source += "\nprint(1)"
    assert run_key(code, "memory-efficient-attention.md") != key


def ran(source: NotebookNode) -> NotebookNode:
    """`source` as if run: each code cell prints its number."""
    executed = nbformat.from_dict(source)
    for number, cell in enumerate((c for c in executed.cells if c.cell_type == "code"), start=1):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{number}\n")]
        cell.execution_count = number
    return executed


def printed(cell: NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


def test_outputs_go_to_the_cells_with_the_same_code() -> None:
    executed = ran(notebook(("code", "a"), ("code", "b"), ("code", "c")))
    edited = notebook(("markdown", "prose"), ("code", "a"), ("code", "inserted"), ("code", "b"), ("code", "c"))
    assert not with_outputs(edited, executed)
    assert [printed(cell) for cell in edited.cells] == ["", "1\n", "", "2\n", "3\n"]
    same = notebook(("code", "a"), ("markdown", "new prose"), ("code", "b"), ("code", "c"))
    assert with_outputs(same, executed)
    assert [printed(cell) for cell in same.cells] == ["1\n", "", "2\n", "3\n"]


class RecordedRuns(Runs):
    """Runs that record what is submitted instead of starting a kernel."""

    def __init__(self, runs_dir: Path) -> None:
        super().__init__(workers=1, runs_dir=runs_dir)
        self.submitted: list[str] = []
        self.commands: list[list[str]] = []
        self.ranks: list[tuple[int, int] | None] = []

    def submit(self, key: str, name: str, notebook: NotebookNode) -> None:
        self.submitted.append(key)

    def submit_command(
        self, key: str, what: str, command: list[str], *, rank: tuple[int, int] | None = None, makes: Iterable[str] = ()
    ) -> None:
        self.commands.append(command)
        self.ranks.append(rank)

    def finish(self, key: str, name: str, executed: NotebookNode) -> None:
        self._store(key, name, nbformat.writes(executed))


def test_a_served_notebook_shows_its_run_or_says_it_is_running(tmp_path: Path) -> None:
    runs = RecordedRuns(tmp_path)
    chapter = notebook(("markdown", "# 5. Title"), ("code", "from attention_lab import tiled_attention"))
    page = "memory-efficient-attention.md"
    key = run_key(chapter, page)

    def build(inputs: str, built: NotebookNode) -> str:
        """One build's part: the notebook's text, then the end of the build's on_files."""
        text = _notebook_runs.served_text("chapter.ipynb", page, inputs, lambda: built, runs)
        runs.forget_unwanted()
        return text

    first = build("v1", chapter)
    assert runs.submitted == [key]
    assert _notebook_runs.served_status("chapter.ipynb") == _notebook_runs.RUNNING

    runs.finish(key, "chapter.ipynb", ran(chapter))
    done = build("v1", chapter)
    assert _notebook_runs.served_status("chapter.ipynb") is None
    assert printed(nbformat.reads(done, as_version=4).cells[1]) == "1\n"

    prose = nbformat.from_dict(chapter)
    prose.cells[0].source += "\n\nA new sentence."
    edited = build("v2", prose)
    assert "A new sentence." in edited and _notebook_runs.served_status("chapter.ipynb") is None
    assert printed(nbformat.reads(edited, as_version=4).cells[1]) == "1\n"
    assert runs.submitted == [key]  # a prose edit runs nothing
    assert runs.done(key) is not None

    code = nbformat.from_dict(chapter)
    code.cells.append(nbformat.v4.new_code_cell("print(2)"))
    again = build("v3", code)
    assert runs.submitted == [key, run_key(code, page)]
    assert _notebook_runs.served_status("chapter.ipynb") == _notebook_runs.RUNNING_AGAIN
    assert len(nbformat.reads(again, as_version=4).cells) == 3  # the note is the page's, not the notebook's
    assert printed(nbformat.reads(again, as_version=4).cells[1]) == "1\n"  # the last run's, meanwhile
    assert runs.done(key) is None and runs.last("chapter.ipynb") is not None  # no notebook has the old key
    runs.close()


@pytest.mark.kernels
def test_a_background_run_stores_the_outputs_and_asks_for_a_rebuild(tmp_path: Path) -> None:
    runs = Runs(workers=1, runs_dir=tmp_path)
    rebuilds: list[int] = []
    runs.notify(lambda: rebuilds.append(1))
    runs.build_ended()
    chapter = notebook(("code", "print(6 * 7)"), ("code", "1 / 0"))
    runs.submit("key", "chapter.ipynb", chapter)
    runs._pending["key"].result(timeout=120)
    executed = runs.done("key")
    assert executed is not None and rebuilds == [1]
    assert printed(executed.cells[0]) == "42\n"
    assert _notebook_runs.run_errors(executed) == ["code cell 2: ZeroDivisionError: division by zero"]
    assert runs.last("chapter.ipynb") == executed
    runs.close()


@pytest.mark.parametrize(
    ("page", "modules"),
    [
        ("memory-efficient-attention.md", {"memory_efficient_attention.py"}),  # `::: attention_lab.tiled_attention`
        ("exercises.md", {str(path.relative_to(ROOT / "attention_lab")) for path in (ROOT / "attention_lab" / "exercises").glob("*.py")}),
        ("plotting.md", {"plotting.py"}),
    ],
)
def test_an_api_page_is_rebuilt_with_the_modules_that_define_what_it_documents(page: str, modules: set[str]) -> None:
    """Its `:::` lines and those its markers write (the exercises page's spec modules)."""
    markdown = (ROOT / "docs" / "reference" / page).read_text(encoding="utf-8")
    chapter_pages = chapters.chapter_pages(chapters.read_nav(ROOT / "mkdocs.yml"))
    assert author_loop.written_from(markdown, chapter_pages, ROOT / "docs") == package(*modules)


def test_a_page_listing_the_chapters_is_rebuilt_when_a_chapter_page_changes() -> None:
    """The home page (table of chapters, notebook list) and the API index are written from the
    chapter pages' titles and summaries: `make serve` rebuilds them when one changes."""
    chapter_pages = ["positions.md", "generation.md"]
    chapter_files = {ROOT / "docs" / page for page in chapter_pages}
    for page in ("index.md", "reference/index.md"):
        markdown = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert chapter_files <= author_loop.written_from(markdown, chapter_pages, ROOT / "docs"), page
    for page in ("explore.md", "reference/positions.md"):
        markdown = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert not chapter_files & author_loop.written_from(markdown, chapter_pages, ROOT / "docs"), page
    # The exercises page lists the chapters' spec modules (a marker), not anything from their pages.
    exercises = (ROOT / "docs" / "reference" / "exercises.md").read_text(encoding="utf-8")
    sources = author_loop.written_from(exercises, chapter_pages, ROOT / "docs")
    assert not chapter_files & sources
    assert {ROOT / "attention_lab" / "exercises" / "positions.py", ROOT / "attention_lab" / "exercises" / "generation.py"} <= sources
    assert author_loop.documented_files(exercises) < sources


def test_a_finished_run_asks_mkdocs_serve_for_a_rebuild() -> None:
    """`request_rebuild` uses LiveReloadServer's own rebuild request (MkDocs 1.6): fails loudly if it changes."""
    server = LiveReloadServer(builder=lambda: None, host="127.0.0.1", port=0, root=str(ROOT))
    assert not server._want_rebuild
    author_loop.request_rebuild(server)
    assert server._want_rebuild
    server.server_close()


@pytest.mark.parametrize(
    ("edited", "redrawn", "kept"),
    [
        ("attention_lab/generation.py", "generation/cache-size", "simplified-attention/query-2-weights"),
        ("attention_lab/memory_efficient_attention.py", "memory-efficient-attention/causal-blocks", "positions/rope-angles"),
        ("attention_lab/multihead_attention.py", "multihead-attention/heads", "positions/rope-angles"),
    ],
)
def test_a_package_edit_redraws_only_the_figures_drawn_from_it(project_copy: Path, edited: str, redrawn: str, kept: str) -> None:
    before = {name: figures.figure_inputs(name, project_copy) for name in (redrawn, kept)}
    edit(project_copy / edited)
    assert figures.figure_inputs(redrawn, project_copy) != before[redrawn]
    assert figures.figure_inputs(kept, project_copy) == before[kept]


def test_a_figure_out_of_date_shows_its_last_drawing_until_redrawn_in_the_background(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_cache, "CACHE_DIR", tmp_path)
    runs = RecordedRuns(tmp_path / "runs")
    monkeypatch.setattr(_notebook_runs, "_runs", runs)
    name = "memory-efficient-attention/cost"
    assert figures.cached_svg(name, "-dark", "inputs-a") == figures.DRAWING  # never drawn: said so, drawn later
    figures.draw_in_background(runs)
    figures.main(runs.commands.pop()[3:])  # what the background process does
    first = figures.cached_svg(name, "-dark", "inputs-a")
    assert first.startswith(b"<?xml") and runs.figures_to_draw == []

    assert figures.cached_svg(name, "-dark", "inputs-b") == first  # the last drawing, meanwhile
    assert runs.figures_to_draw == [{"name": name, "suffix": "-dark", "fingerprint": "inputs-b", "opaque": False}]
    figures.draw_in_background(runs)
    assert runs.figures_to_draw == [] and len(runs.commands) == 1
    command = runs.commands[0]
    assert command[:3] == [sys.executable, "-m", "hooks.figures"]

    figures.main(command[3:])  # what the background process does
    (tmp_path / "figures" / "last").rename(tmp_path / "moved")  # the drawing now comes from its key
    assert figures.cached_svg(name, "-dark", "inputs-b") == first and runs.figures_to_draw == []
    runs.close()


def test_jobs_run_chapter_by_chapter_each_chapters_figures_before_its_notebook(tmp_path: Path) -> None:
    runs = Runs(workers=1, runs_dir=tmp_path)
    runs.page_order = ["simplified-attention", "self-attention", "causal-attention"]
    ran: list[str] = []
    runs.build_started()  # nothing starts while a build is under way: all of these queue
    with runs._lock:
        for page, step in [("causal-attention", 1), ("self-attention", 1), ("reproducibility", 0), ("causal-attention", 0),
                           ("self-attention", 2), ("simplified-attention", 1), ("self-attention", 0)]:  # fmt: skip
            runs._enqueue(f"{page}-{step}", runs.rank(page, step), lambda name=f"{page}-{step}": ran.append(name))
    runs.build_ended()
    runs._pool.shutdown(wait=True)
    assert ran == ["simplified-attention-1", "self-attention-0", "self-attention-1", "self-attention-2",
                   "causal-attention-0", "causal-attention-1", "reproducibility-0"]  # fmt: skip


def test_the_edited_chapters_figures_are_drawn_first_and_the_rest_after_its_notebook(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_cache, "CACHE_DIR", tmp_path)
    runs = RecordedRuns(tmp_path / "runs")
    runs.page_order = ["simplified-attention", "self-attention", "causal-attention"]
    monkeypatch.setattr(_notebook_runs, "_runs", runs)
    for name in ("causal-attention/weights", "self-attention/weights", "self-attention/flow"):
        figures.cached_svg(name, "", "inputs")
    figures.draw_in_background(runs)
    drawn = [sorted(entry["name"] for entry in json.loads(command[3])) for command in runs.commands]
    assert drawn == [["self-attention/flow", "self-attention/weights"], ["causal-attention/weights"]]
    assert runs.ranks == [(1, 0), (1, 2)]  # before self-attention's notebook (1, 1), and after it
    assert runs.figures_to_draw == []
    runs.close()


def test_a_figure_being_drawn_is_not_asked_for_again_by_the_next_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_cache, "CACHE_DIR", tmp_path)
    runs = Runs(workers=1, runs_dir=tmp_path / "runs")
    runs.page_order = ["simplified-attention", "self-attention"]
    monkeypatch.setattr(_notebook_runs, "_runs", runs)
    runs.build_started()  # the jobs queue and wait, as while a build is under way
    for name in ("simplified-attention/query-2-weights", "self-attention/weight-heatmap"):
        figures.cached_svg(name, "", "inputs")
    figures.draw_in_background(runs)
    assert len(runs._pending) == 2 and len(runs.making()) == 2
    # the next build finds the same figures missing (their drawing not done) and one more
    for name in ("simplified-attention/query-2-weights", "self-attention/weight-heatmap", "self-attention/flow"):
        figures.cached_svg(name, "", "inputs")
    figures.draw_in_background(runs)
    assert len(runs._pending) == 3  # one job more, for the new figure alone
    assert sorted(json.loads(text)["name"] for text in runs.making()) == [
        "self-attention/flow", "self-attention/weight-heatmap", "simplified-attention/query-2-weights"]  # fmt: skip
    runs.close()


def test_links_into_the_api_reference_survive_a_partial_rebuild(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """mkdocs-autorefs (private maps, pinned version) forgets anchors between builds; a partial
    build renders no API page, so its links resolve to the anchors of the last full one."""
    from mkdocs_autorefs import AutorefsPlugin

    monkeypatch.setattr(_notebook_runs, "_runs", RecordedRuns(tmp_path))
    monkeypatch.setattr(author_loop, "_anchors", {})
    anchor = ["reference/simplified-attention/#attention_lab.softmax"]
    full = AutorefsPlugin()
    full._primary_url_map["attention_lab.softmax"] = anchor
    author_loop.on_env(None, SimpleNamespace(plugins={"autorefs": full}))
    partial = AutorefsPlugin()
    partial._primary_url_map["attention_lab.new_name"] = ["reference/x/#attention_lab.new_name"]
    author_loop.on_env(None, SimpleNamespace(plugins={"autorefs": partial}))
    assert partial._primary_url_map["attention_lab.softmax"] == anchor
    assert partial.get_item_url("attention_lab.softmax", from_url="self-attention/")[0] == "../" + anchor[0]


def test_after_a_package_edit_the_last_wheel_is_served_until_the_new_one_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_cache, "CACHE_DIR", tmp_path)
    monkeypatch.setenv("ATTENTION_LAB_CACHE", "true")
    runs = RecordedRuns(tmp_path / "runs")
    monkeypatch.setattr(_notebook_runs, "_runs", runs)
    built = iter([b"wheel 1", b"wheel 2"])
    monkeypatch.setattr(package_wheel, "_wheel_bytes", lambda: next(built))
    monkeypatch.setattr(_cache, "fingerprint", lambda: "package-a")
    assert package_wheel.site_wheel() == b"wheel 1"  # none built yet: built now
    assert package_wheel.site_wheel() == b"wheel 1" and runs.commands == []  # unchanged: from the cache

    monkeypatch.setattr(_cache, "fingerprint", lambda: "package-b")
    assert package_wheel.site_wheel() == b"wheel 1"  # the last one, meanwhile
    [command] = runs.commands
    assert command[:3] == [sys.executable, "-m", "hooks.package_wheel"]
    package_wheel._store(Path(command[3]), package_wheel._wheel_bytes())  # what the background job does
    assert package_wheel.site_wheel() == b"wheel 2"
    runs.close()


def test_a_partial_build_keeps_the_rendering_of_the_notebooks_it_did_not_render(tmp_path: Path) -> None:
    """mkdocs-jupyter (pinned) evicts what a build did not use; `make serve` keeps every notebook's."""
    from mkdocs_jupyter.plugin import Plugin, _compute_cache_key

    plugin = Plugin()
    plugin.load_config({"cache": True, "cache_dir": str(tmp_path / "cache"), "execute": False})
    plugin.on_pre_build(None)
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook(("code", "1 + 1")), path)
    rendered = tmp_path / "cache" / f"{_compute_cache_key(str(path), plugin.config, False)}.json"
    rendered.parent.mkdir()
    rendered.write_text("{}", encoding="utf-8")
    unused = tmp_path / "cache" / "an-older-version.json"
    unused.write_text("{}", encoding="utf-8")
    author_loop.keep_rendered_notebooks(plugin, [str(path)])
    plugin.on_post_build(None)
    assert rendered.is_file() and not unused.is_file()


def test_a_notebook_page_shows_the_running_note_under_its_first_cell(tmp_path: Path) -> None:
    """Under make serve the note is the page's: the notebook (and its rendering, cached by its
    bytes) stays the same while only the note changes."""
    from hooks.notebook_pages import notebook_page_html

    cells = [nbformat.v4.new_markdown_cell("# 5. Title"), nbformat.v4.new_markdown_cell("Prose.")]
    for number, cell in enumerate(cells):
        cell["id"] = f"c{number}"
    content = "".join(
        f'<div id="cell-id=c{number}" class="jp-Cell jp-MarkdownCell"><div class="jp-RenderedMarkdown"><p>{text}</p></div></div>'
        for number, text in enumerate(("Title", "Prose."))
    )
    notebook = nbformat.v4.new_notebook(cells=cells)
    plain = notebook_page_html(content, notebook, tmp_path)
    noted = notebook_page_html(content, notebook, tmp_path, status=_notebook_runs.RUNNING_AGAIN)
    assert "admonition" not in plain
    assert noted.index("Title") < noted.index('<p class="admonition-title">Running</p>') < noted.index("Prose.")
    assert _notebook_runs.RUNNING_AGAIN in noted
