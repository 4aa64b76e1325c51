"""hooks/_cache.py: the author loop's caches key on everything that can change an output."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from hooks import _cache, figures

from .conftest import ROOT, BuiltSite


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The inputs of the fingerprint, copied: the package, the hooks, the pins, the benchmark results."""
    for folder in ("attention_lab", "hooks"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("requirements.lock", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs" / "data", tmp_path / "docs" / "data")  # results the figures are drawn from
    return tmp_path


def test_the_fingerprint_is_stable_for_unchanged_sources(project_copy: Path) -> None:
    assert _cache.fingerprint(project_copy) == _cache.fingerprint(project_copy) == _cache.fingerprint(ROOT)


@pytest.mark.parametrize(
    "changed", ["attention_lab/simplified_attention.py", "hooks/figures.py", "requirements.lock", "pyproject.toml"]
)
def test_the_fingerprint_changes_when_an_input_changes(project_copy: Path, changed: str) -> None:
    before = _cache.fingerprint(project_copy)
    path = project_copy / changed
    path.write_text(path.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    assert _cache.fingerprint(project_copy) != before


def test_a_new_package_module_changes_the_fingerprint(project_copy: Path) -> None:
    before = _cache.fingerprint(project_copy)
    (project_copy / "attention_lab" / "new_chapter.py").write_text("X = 1\n", encoding="utf-8")
    assert _cache.fingerprint(project_copy) != before


def test_the_cache_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATTENTION_LAB_CACHE", raising=False)
    assert not _cache.enabled()
    monkeypatch.setenv("ATTENTION_LAB_CACHE", "false")
    assert not _cache.enabled()
    monkeypatch.setenv("ATTENTION_LAB_CACHE", "true")
    assert _cache.enabled()


def test_a_cached_figure_is_keyed_on_the_fingerprint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_cache, "CACHE_DIR", tmp_path)
    name = next(iter(figures.FIGURES))
    first = figures.cached_svg(name, "", "fingerprint-a")
    assert first == figures.render_svg(figures.FIGURES[name], figures.SCHEMES[""])
    assert len(list((tmp_path / "figures").glob("*.svg"))) == 1
    (next((tmp_path / "figures").glob("*.svg"))).write_bytes(b"<svg>stale</svg>")
    assert figures.cached_svg(name, "", "fingerprint-a") == b"<svg>stale</svg>"  # a hit reads the file
    assert figures.cached_svg(name, "", "fingerprint-b") == first  # a new fingerprint draws afresh
    assert len(list((tmp_path / "figures").glob("*.svg"))) == 2


def test_the_test_build_is_cold(built_site: BuiltSite) -> None:
    """`make test` and CI build without the cache: no notebook carries a fingerprint."""
    notebooks = sorted((built_site.directory / "notebooks").rglob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        assert "attention_lab" not in nbformat.read(path, as_version=4).metadata
    assert "Cache hit" not in built_site.log and "Cache miss" not in built_site.log
