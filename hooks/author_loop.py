"""MkDocs hook: what `make serve` does so that an edit shows in a couple of seconds.

`make serve` runs `mkdocs serve --dirty` with `ATTENTION_LAB_CACHE=true`. The first build
is whole; after an edit MkDocs renders again only the pages whose source changed. This
hook makes that partial rebuild right for this site:

- chapter notebooks are never run inside a build: mkdocs-jupyter only renders them,
  with the outputs of an earlier run of the same code, and a notebook whose code or
  package modules changed runs again in the background (hooks/_notebook_runs.py); a
  finished run rebuilds the site;
- a figure drawn from an edited module is drawn again in the background too, the
  pages showing its last drawing meanwhile (hooks/figures.py);
- an API reference page is rendered again when a module it documents changed (its
  Markdown did not, so MkDocs would skip it);
- links to the API reference from a page rendered again resolve to the anchors found
  when the reference pages were last rendered (mkdocs-autorefs forgets them between
  builds and only sees the pages rendered in this one).

`make test`, `make site` and CI run `mkdocs build`: none of this applies there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.livereload import LiveReloadServer
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

try:  # `python -m mkdocs` from the repository root, and the tests
    from hooks import _cache, _notebook_runs, chapters, figures
except ImportError:  # the `mkdocs` script: MkDocs puts hooks/ itself on sys.path while loading a hook
    import _cache  # type: ignore[no-redef]
    import _notebook_runs  # type: ignore[no-redef]
    import chapters  # type: ignore[no-redef]
    import figures  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
_DOCUMENTED = re.compile(r"^:::[ \t]+(attention_lab(?:\.\w+)*)", re.MULTILINE)
# At most this many notebooks run at once (each a kernel and torch), never more than the cores.
MAX_RUNS = 4

# Anchors of the API reference, as mkdocs-autorefs found them in the last build that rendered them.
_anchors: dict[str, dict[str, Any]] = {}


def on_startup(command: str, dirty: bool, **_: Any) -> None:
    if command == "serve" and _cache.enabled():  # `make serve`; from here on `_notebook_runs.active()`
        _notebook_runs.start(workers=max(1, min(MAX_RUNS, os.cpu_count() or 1)))


def on_shutdown(**_: Any) -> None:
    _notebook_runs.stop()


def on_pre_build(**_: Any) -> None:
    runs = _notebook_runs.active()
    if runs is not None:
        runs.build_started()


def keep_rendered_notebooks(plugin: Any, notebooks: list[str]) -> None:
    """Keep mkdocs-jupyter's rendering of every notebook of the site in its cache.

    At the end of a build it deletes the renderings that build did not use, and a partial
    build renders only the notebooks that changed: without this, a restart of `make serve`
    would render them all again. Uses mkdocs-jupyter's own cache key (pinned version).
    """
    from mkdocs_jupyter.plugin import _compute_cache_key, _get_cache_path

    if not plugin.config["cache"]:
        return
    for notebook in notebooks:
        key = _compute_cache_key(notebook, plugin.config, plugin.config["execute"])
        plugin._used_cache_paths.add(_get_cache_path(plugin.config["cache_dir"], key))


_notebooks: list[str] = []  # this build's notebook files (on_files)


@event_priority(100)  # before mkdocs-jupyter's end of build
def on_post_build(config: MkDocsConfig, **_: Any) -> None:
    runs = _notebook_runs.active()
    if runs is not None:
        keep_rendered_notebooks(config.plugins["mkdocs-jupyter"], _notebooks)
        runs.build_ended()


def on_build_error(**_: Any) -> None:
    runs = _notebook_runs.active()
    if runs is not None:
        runs.build_ended()


def on_config(config: MkDocsConfig, **_: Any) -> MkDocsConfig:
    runs = _notebook_runs.active()
    if runs is not None:
        # Under `make serve` the notebooks come with their outputs (hooks/_notebook_runs.py),
        # run chapter by chapter in reading order, each chapter's figures first.
        config.plugins["mkdocs-jupyter"].config["execute"] = False
        runs.page_order = [Path(page).stem for page in chapters.chapter_pages(config.nav or [])]
    return config


def request_rebuild(server: LiveReloadServer) -> None:
    """Ask `mkdocs serve` for a rebuild, as a change in a watched file does: the rebuild
    starts now, or right after the one under way (MkDocs 1.6's LiveReloadServer)."""
    with server._rebuild_cond:
        server._want_rebuild = True
        server._rebuild_cond.notify_all()


def on_serve(server: LiveReloadServer, **_: Any) -> LiveReloadServer:
    runs = _notebook_runs.active()
    if runs is not None:  # a finished run rebuilds the site, which then shows its outputs
        runs.notify(lambda: request_rebuild(server))
        runs.warm_up()  # kernels for the runs, now that the first build is served
    return server


def documented_files(markdown: str, root: Path = ROOT) -> set[Path]:
    """The package source files that define what a page documents (its `::: attention_lab.x` lines)."""
    found = (_notebook_runs.defining_file(identifier, root) for identifier in _DOCUMENTED.findall(markdown))
    return {path for path in found if path is not None}


def written_from(markdown: str, chapter_pages: Sequence[str], docs_dir: Path, root: Path = ROOT) -> set[Path]:
    """The files a page is written from besides itself: the modules it documents (its own `:::`
    lines and those its markers write), and the chapter pages when it holds a list of the chapters
    (their titles, summaries, notebooks)."""
    documented = documented_files(chapters.write_chapter_lists(markdown, chapter_pages, docs_dir), root)
    return documented | ({docs_dir / page for page in chapter_pages} if chapters.lists_chapters(markdown) else set())


def _newer_than_output(file: File, sources: set[Path]) -> bool:
    output = Path(file.abs_dest_path)
    return not output.is_file() or any(source.stat().st_mtime > output.stat().st_mtime for source in sources)


@event_priority(-100)  # after every other hook has added its files
def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    runs = _notebook_runs.active()
    if runs is None:
        return files
    figures.draw_in_background(runs)  # the figures the notebooks and figures hooks found out of date
    _notebooks[:] = [file.abs_src_path for file in files if file.src_uri.endswith(".ipynb") and file.abs_src_path]
    chapter_pages = chapters.chapter_pages(config.nav or [])
    for file in files.documentation_pages():
        if file.abs_src_path is None:
            continue
        sources = written_from(Path(file.abs_src_path).read_text(encoding="utf-8"), chapter_pages, Path(config.docs_dir))
        if sources and _newer_than_output(file, sources):
            file.is_modified = lambda: True  # type: ignore[method-assign]
    return files


_AUTOREFS_MAPS = ("_primary_url_map", "_secondary_url_map", "_title_map")


@event_priority(0)  # before mkdocs-autorefs resolves the links (-50)
def on_env(env: Any, config: MkDocsConfig, **_: Any) -> Any:
    autorefs = config.plugins.get("autorefs")
    if _notebook_runs.active() is None or autorefs is None:
        return env
    for name in _AUTOREFS_MAPS:
        current = getattr(autorefs, name)
        for identifier, value in _anchors.get(name, {}).items():
            current.setdefault(identifier, value)  # an anchor found in this build wins
        _anchors[name] = dict(current)
    return env
