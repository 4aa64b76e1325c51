"""Shared fixtures: one strict build of the site per test session."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from attention_lab import _checks

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 600
# The test build's site_url: a project path, as GitHub Pages serves it (tests/test_browser.py serves it so).
SITE_URL = "http://127.0.0.1/attention-lab/"


@dataclass(frozen=True)
class BuiltSite:
    """A site built by `mkdocs build --strict` into `directory`, with its log."""

    directory: Path
    log: str

    def page(self, url_path: str) -> str:
        """The HTML of a page, given as its URL path below the site root (e.g. `simplified-attention/`)."""
        return (self.directory / url_path / "index.html").read_text(encoding="utf-8")


def build_site(directory: Path) -> BuiltSite:
    """Run `mkdocs build --strict --clean` into `directory`, notebook cache off; fail with its log."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SITE_URL": SITE_URL, "ATTENTION_LAB_CACHE": "false"}
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "--site-dir", str(directory)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    log = completed.stdout + completed.stderr
    (directory.parent / f"{directory.name}-build.json").write_text(
        json.dumps({"returncode": completed.returncode, "log": log}), encoding="utf-8"
    )
    assert completed.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return BuiltSite(directory, log)


@pytest.fixture(scope="session")
def built_site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """Build the site once per test session, strictly, with the notebook cache off so outputs are current.

    Into a fresh temporary folder: two test runs at once never share a site. Under
    pytest-xdist (`make test` runs two workers) the first worker that needs the site
    builds it into the session's shared temporary folder while holding a lock; the
    others wait for it and read the same site and log, so it is built once, not once
    per worker. A failed build fails every test that needs it, with the same log.
    """
    if not hasattr(request.config, "workerinput"):  # one process: no one to share with
        return build_site(tmp_path_factory.mktemp("site"))
    shared = tmp_path_factory.getbasetemp().parent  # one folder for all the workers of this session
    directory = shared / "site"
    with FileLock(shared / "site.lock"):
        outcome_file = shared / "site-build.json"
        if not outcome_file.is_file():
            return build_site(directory)
    outcome = json.loads(outcome_file.read_text(encoding="utf-8"))
    assert outcome["returncode"] == 0, f"mkdocs build --strict failed (built by another worker):\n{outcome['log']}"
    return BuiltSite(directory, outcome["log"])


def search_topics() -> dict[str, str]:
    """Every topic word the chapters declare (front matter `search_topics`, hooks/site.py) -> the
    URL path of the section that teaches it."""
    from hooks import chapters

    return {word: f"{path.stem}/#{anchor}" for path in sorted((ROOT / "docs").glob("*.md"))
            for word, anchor in chapters.front_matter(path).get("search_topics", {}).items()}  # fmt: skip


# The module that builds the site, then visits every page of it: the longest chain of the run.
FIRST_MODULE = "tests/test_browser.py"
# Of the other modules that need the site, the longest (measured on 2 cores: about 50 s and 40 s)
# go first, so that neither is left to run alone at the end.
LONG_SITE_MODULES = ["tests/test_notebooks.py", "tests/test_explorer.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the built site, so `-m "not site"` gives a quick run; then order
    the modules for two workers (`make test`: `--dist loadscope --no-loadscope-reorder`, which
    hands out whole modules in this order): the browser test first, so that one worker builds the
    site at once and goes on to visit it; then every module that needs no site, which the other
    worker runs meanwhile; the modules that need the site last, when it is built, the longest of
    them first. Without this the other worker would wait, idle, for the build. Within a module
    the order is kept (a page's examples run in order)."""
    for item in items:
        if "built_site" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.site)
    module = lambda item: item.nodeid.split("::")[0]
    needs_site = {module(item) for item in items if item.get_closest_marker("site")}

    def rank(item: pytest.Item) -> tuple[int, int]:
        if module(item) == FIRST_MODULE:
            return (0, 0)
        if module(item) not in needs_site:
            return (1, 0)
        long = LONG_SITE_MODULES.index(module(item)) if module(item) in LONG_SITE_MODULES else len(LONG_SITE_MODULES)
        return (2, long)

    items.sort(key=rank)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After a run of the browser test: the weight of every page, and the hosts it requested."""
    ran = [r for reports in terminalreporter.stats.values() for r in reports
           if isinstance(r, pytest.TestReport)  # not the deselected items of `-m "not site"`
           and r.nodeid.startswith("tests/test_browser.py::")]  # fmt: skip
    report_path = ROOT / "build" / "browser-report.json"
    if not ran:
        return
    terminalreporter.section("browser test: page weights")
    skipped = [r for r in ran if r.skipped]
    if skipped:
        reason = skipped[0].longrepr[2].removeprefix("Skipped: ")
        terminalreporter.write_line(f"!!! {len(skipped)} browser checks skipped. {reason}", red=True, bold=True)
        return
    if not report_path.is_file():
        terminalreporter.write_line("no report was written: see the errors above", red=True)
        return
    report = json.loads(report_path.read_text(encoding="utf-8"))
    terminalreporter.write_line(f"bytes: {report['bytes_are']}; hosts requested: {', '.join(report['hosts'])}")
    terminalreporter.write_line(f"{'page':<40} {'status':>6} {'requests':>8} {'bytes':>10}")
    for page in report["pages"]:
        budget = f"  (chapter page, budget {page['budget_bytes']:,})" if page["budget_bytes"] else ""
        name = "/" + page["page"]
        terminalreporter.write_line(f"{name:<40} {page['status']:>6} {page['requests']:>8} {page['bytes']:>10,}{budget}")
    terminalreporter.write_line(f"report: {report_path.relative_to(ROOT)}; screenshots: build/screenshots/")


def record_checks(
    monkeypatch: pytest.MonkeyPatch, watched: dict[str, torch.Tensor], calls: dict[str, int] | None = None
) -> dict[tuple[str, str], int]:
    """Wrap every function of attention_lab._checks; count, per watched tensor, the calls it is passed to
    (and, into `calls` when given, every call of each function, whatever its arguments)."""
    counts: dict[tuple[str, str], int] = {}
    for function_name, function in list(vars(_checks).items()):
        if not inspect.isfunction(function) or function.__module__ != _checks.__name__:
            continue

        def wrapper(*args: object, _function=function, _name=function_name, **kwargs: object) -> object:
            if calls is not None:
                calls[_name] = calls.get(_name, 0) + 1
            for argument in (*args, *kwargs.values()):
                for tensor_name, tensor in watched.items():
                    if argument is tensor:
                        counts[(_name, tensor_name)] = counts.get((_name, tensor_name), 0) + 1
            return _function(*args, **kwargs)

        monkeypatch.setattr(_checks, function_name, wrapper)
    return counts
