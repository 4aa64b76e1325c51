"""Print wall-clock figures for the author loop, the site build and the test suite.

Run with `make bench` (after set-up). It prints figures and asserts nothing, so a
slow or busy machine cannot make the test suite flaky. Targets on a 2-core machine:

- under `make serve`: the first page served within 30 s of starting it with nothing
  cached (the notebooks run after, in the background); a prose edit in the served
  page within 2 s; a docstring edit in the API page within 15 s (no notebook runs
  again); a code edit: the edited module's chapter, its notebook run again and its
  figures redrawn, served within 15 s (chapter 5's module, then chapter 1's), the
  later chapters that import the module after it (reported: for chapter 1's, all
  seven notebooks and every figure);
- `mkdocs build --strict`, cold, notebooks executing: under 20 s (before the
  chapters 3-5 and the explorer were added);
- the test suite without the site build and browser (`-m "not site"`): under 30 s;
- the whole suite (`make test`'s pytest): builds the site, runs it in Chromium,
  checks links; reported, no target;
- then chapter 5's `benchmarks/memory.py`: time and peak extra memory of naive,
  tiled (T = 512 and 128) and fused attention up to L = 16,384, in interleaved
  rounds (target: tiled at most a tenth of naive's memory at 16,384); on a quiet
  machine it rewrites `docs/data/memory-benchmark.json`, the
  file the chapter's table and plot are drawn from.

It first runs `benchmarks/speed.py`: each one-call attention function of the
package next to the same formula inline in torch at L = 6, 256 and 2048, and
full_attention's peak memory next to the naive form's, each beside its target.

The author-loop figures come from a real `mkdocs serve` on a copy of the
project in a temporary folder, so this checkout's files are never edited.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import memory  # noqa: E402  (benchmarks/memory.py, beside this script)

COPIED = ("attention_lab", "docs", "hooks", "overrides", "mkdocs.yml", "pyproject.toml", "requirements.lock")
SERVE_TIMEOUT_S = 300


def timed(label: str, command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    status = "ok" if completed.returncode == 0 else f"FAILED (exit {completed.returncode})"
    print(f"{label:56} {seconds:7.2f} s  {status}", flush=True)
    if completed.returncode != 0:
        print((completed.stdout + completed.stderr)[-3000:])
    return seconds


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _page(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1 only)
            return str(response.read().decode("utf-8"))
    except OSError:
        return ""


def _wait_for(url: str, marker: str, started: float) -> float:
    """Seconds from `started` until the page at `url` contains `marker`."""
    return _wait_until(lambda: marker in _page(url), started, f"{url} showing {marker!r}")


STATUS_NOTE = "This notebook is running"  # the note on a notebook page whose run is under way
RUNNING_AGAIN = "This notebook is running again"  # ... after an edit
# Targets of the author loop (issue "an edit visible in 2 seconds"), on a 2-core machine.
FIRST_PAGE_TARGET_S = 30.0
PROSE_TARGET_S = 2.0
PACKAGE_TARGET_S = 15.0


def _report(label: str, seconds: float, target: float | None = None) -> None:
    beside = f"  (target <= {target:g} s: {'met' if seconds <= target else 'MISSED'})" if target is not None else ""
    print(f"{label:56} {seconds:7.2f} s{beside}", flush=True)


DRAWING = "Drawing this figure"  # in the SVG served for a figure whose drawing is under way
_FIGURE_SRC = re.compile(r'src="(?:\.\./)*(figures/[^"#]+\.svg)')


def _notebooks_current(base: str, chapters: list[str]) -> bool:
    """Whether every chapter's notebook page is served with its outputs current (no run under
    way) and every figure of the chapter pages drawn."""
    pages = [_page(f"{base}notebooks/{chapter}/") for chapter in chapters]
    if not all(page and STATUS_NOTE not in page for page in pages):
        return False
    figures = {src for chapter in chapters for src in _FIGURE_SRC.findall(_page(f"{base}{chapter}/"))}
    return bool(figures) and all(DRAWING not in _page(base + src) for src in sorted(figures))


def _bytes(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1 only)
            return bytes(response.read())
    except OSError:
        return b""


def _drawings(base: str, chapter: str, project: Path) -> dict[str, Path]:
    """For each figure served on a chapter page (`figures/<name><suffix>.svg`), where the copy's
    `.cache/figures/` keeps its drawing from the code as it is now (hooks/figures.py's key)."""
    figures = _project_hooks(project).figures
    suffixes = [scheme + narrow for scheme in figures.SCHEMES for narrow in ("", figures.NARROW_SUFFIX)]
    drawings = {}
    for src in sorted(set(_FIGURE_SRC.findall(_page(f"{base}{chapter}/")))):
        stem = src.removeprefix(f"{figures.FIGURE_DIR}/").removesuffix(".svg")
        name, suffix = next((n, x) for n in figures.FIGURES for x in suffixes if stem == n + x)
        drawings[src] = figures._svg_paths(name, suffix, figures.figure_inputs(name, project), False)[0]
    return drawings


def _chapter_current(base: str, chapter: str, drawings: dict[str, Path]) -> bool:
    """Whether a chapter's notebook page is served with its outputs current (no run under way)
    and every figure of its page is served as drawn from the code as it is now (`drawings`)."""
    notebook = _page(f"{base}notebooks/{chapter}/")
    if not notebook or STATUS_NOTE in notebook:
        return False
    return all(path.is_file() and _bytes(base + src) == path.read_bytes() for src, path in drawings.items())


_serving: list[subprocess.Popen[bytes]] = []  # the `mkdocs serve` being measured


def _wait_until(check: Callable[[], bool], started: float, what: str) -> float:
    """Seconds from `started` until `check()` holds; fails if `mkdocs serve` exits first."""
    while time.perf_counter() - started < SERVE_TIMEOUT_S:
        if check():
            return time.perf_counter() - started
        if _serving and _serving[-1].poll() is not None:
            raise RuntimeError(f"mkdocs serve exited ({_serving[-1].returncode}) before {what}")
        time.sleep(0.05)
    raise TimeoutError(f"{what}: not within {SERVE_TIMEOUT_S} s")


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def _docstring_edit(module: Path, marker: str) -> None:
    """Add a sentence to the first docstring of a module's first public function."""
    source = module.read_text(encoding="utf-8")
    public = re.search(r"^def [a-z]\w*\(", source, re.MULTILINE)
    assert public is not None, f"{module} has no public function"
    at = source.index('"""', public.start()) + 3
    module.write_text(source[:at] + marker + " " + source[at:], encoding="utf-8")


def _project_hooks(project: Path) -> Any:
    """The copy's `hooks` package (its figures' keys and cache are the copy's)."""
    sys.path.insert(0, str(project))
    try:
        import hooks
        from hooks import chapters, figures  # noqa: F401  (loaded as attributes of hooks)
    finally:
        sys.path.pop(0)
    return hooks


def _chapters(project: Path) -> list[str]:
    registry = _project_hooks(project).chapters
    return [Path(page).with_suffix("").as_posix() for page in registry.chapter_pages(registry.read_nav(project / "mkdocs.yml"))]


def author_loop(env: dict[str, str]) -> None:
    """`make serve` on a copy of the project with no cache: the first page, the notebooks filling
    in, prose edits (a chapter page and its notebook page, another page), a docstring edit in
    one chapter's module and in a module every chapter imports, then a restart."""
    # Ctrl-C (SIGINT) stops `mkdocs serve` below as it stops it for an author, even when this
    # script runs in the background, where a shell starts it with SIGINT ignored: a handled
    # signal is reset to the default in a child, an ignored one stays ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        for name in COPIED:
            source = ROOT / name
            copy = shutil.copytree if source.is_dir() else shutil.copy
            copy(source, project / name)
        chapters = _chapters(project)
        port = _free_port()
        base = f"http://127.0.0.1:{port}/"
        serve_env = {**env, "ATTENTION_LAB_CACHE": "true", "SITE_URL": base}
        command = [sys.executable, "-m", "mkdocs", "serve", "--no-strict", "--dirty", "--dev-addr", f"127.0.0.1:{port}"]
        for run in ("first run (nothing cached)", "restart (cached)"):
            server = subprocess.Popen(command, cwd=project, env=serve_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _serving.append(server)
            try:
                started = time.perf_counter()
                _report(f"make serve, {run}: first page", _wait_for(base + "reproducibility/", "Reproducibility", started), FIRST_PAGE_TARGET_S)
                seconds = _wait_until(lambda: _notebooks_current(base, chapters), started, "every notebook run")
                _report(f"make serve, {run}: every notebook run, figure drawn", seconds)
                time.sleep(5.0)  # the last rebuild, and the kernels made ready for the next runs
                if run != "first run (nothing cached)":
                    continue
                chapter = project / "docs" / "memory-efficient-attention.md"
                other = project / "docs" / "reproducibility.md"
                for attempt in range(1, 4):
                    marker = f"Prose edit number {attempt}."
                    started = time.perf_counter()
                    _append(chapter, f"\n{marker}\n")
                    _report(f"prose edit in a chapter -> its page, try {attempt}", _wait_for(base + "memory-efficient-attention/", marker, started), PROSE_TARGET_S)
                    _report(f"  ... -> its notebook's page, try {attempt}", _wait_for(base + "notebooks/memory-efficient-attention/", marker, started))
                    time.sleep(1.0)
                    marker = f"Another prose edit number {attempt}."
                    started = time.perf_counter()
                    _append(other, f"\n{marker}\n")
                    _report(f"prose edit in another page, try {attempt}", _wait_for(base + "reproducibility/", marker, started), PROSE_TARGET_S)
                    time.sleep(1.0)
                module = "memory_efficient_attention"
                marker = "Edited for the benchmark."
                started = time.perf_counter()
                _docstring_edit(project / "attention_lab" / f"{module}.py", marker)
                seconds = _wait_for(base + "reference/memory-efficient-attention/", marker, started)
                _report(f"docstring edit in {module}.py -> API page", seconds, PACKAGE_TARGET_S)
                time.sleep(2.0)
                print(f"  ... notebooks run again: {'none' if _notebooks_current(base, chapters) else 'SOME'}", flush=True)
                for module, chapter in (("memory_efficient_attention", "memory-efficient-attention"), ("simplified_attention", "simplified-attention")):
                    started = time.perf_counter()
                    _append(project / "attention_lab" / f"{module}.py", f"\nBENCHMARK_EDIT = {started!r}\n")
                    drawings = {name: _drawings(base, name, project) for name in chapters}  # as drawn from the edited code
                    _wait_for(base + f"notebooks/{chapter}/", RUNNING_AGAIN, started)
                    seconds = _wait_until(lambda: _chapter_current(base, chapter, drawings[chapter]), started, f"{chapter} redone")
                    shown = f"its chapter's notebook and {len(drawings[chapter])} figures"
                    _report(f"code edit in {module}.py -> {shown}, served", seconds, PACKAGE_TARGET_S)
                    every = lambda: all(_chapter_current(base, name, drawings[name]) for name in chapters)  # noqa: E731
                    _report("  ... -> every chapter's notebook and figures, served", _wait_until(every, started, "every chapter redone"))
                    time.sleep(5.0)  # the last rebuild, and the kernels made ready for the next runs
            finally:
                server.send_signal(signal.SIGINT)  # as Ctrl-C: mkdocs serve stops its runs and kernels
                server.wait(timeout=60)


def main() -> int:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "ATTENTION_LAB_CACHE": "false"}
    import torch

    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, torch {torch.__version__}", flush=True)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py")], cwd=ROOT, env=env, check=False)
    print(flush=True)
    with tempfile.TemporaryDirectory() as site_dir:
        timed("mkdocs build --strict (cold: make site, make test, CI)", [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", site_dir], env)
    author_loop(env)
    timed("pytest -m 'not site' (fast suite)", [sys.executable, "-m", "pytest", "-q", "-m", "not site"], env)
    timed("pytest, whole suite (make test)", [sys.executable, "-m", "pytest", "-q"], env)
    print(flush=True)
    memory.main([])  # chapter 5: rewrites docs/data/memory-benchmark.json unless the machine was busy
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
