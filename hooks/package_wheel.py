"""MkDocs hook: the site publishes the `attention_lab` package as a wheel.

A downloaded chapter notebook must run without a clone of the repository, so
every build puts `downloads/attention_lab-<version>-py3-none-any.whl` on the
site, built from the checkout being built (so it always matches the notebooks),
and each notebook's first cell installs it from the site when `attention_lab` is
missing (see `hooks/notebooks.py`).

The wheel is built offline: `pip wheel --no-deps --no-build-isolation --no-index`
on a copy of the package's sources (so nothing is written into the checkout),
with the build backend already installed (setuptools, from `requirements.lock`).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from shutil import copy2, copytree, ignore_patterns
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

try:  # `python -m mkdocs` from the repository root, and the tests
    from hooks import _cache, _notebook_runs
except ImportError:  # the `mkdocs` script: MkDocs puts hooks/ itself on sys.path while loading a hook
    import _cache  # type: ignore[no-redef]
    import _notebook_runs  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
DOWNLOAD_DIR = "downloads"
# What the wheel is built from: the package and the files its metadata names.
_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "attention_lab")
_BUILD_TIMEOUT_S = 120


def project_version(root: Path = ROOT) -> str:
    """The version in `pyproject.toml` (`[project] version`)."""
    with (root / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def wheel_filename(root: Path = ROOT) -> str:
    """`attention_lab-<version>-py3-none-any.whl`: a pure-Python wheel's name (PEP 427)."""
    return f"attention_lab-{project_version(root)}-py3-none-any.whl"


def wheel_url(site_url: str, root: Path = ROOT) -> str:
    """Where the site publishes the wheel: `<site_url>downloads/<wheel>`."""
    return f"{site_url.rstrip('/')}/{DOWNLOAD_DIR}/{wheel_filename(root)}"


def build_wheel(out_dir: Path, root: Path = ROOT) -> Path:
    """Build the package's wheel into `out_dir`, offline, from a copy of its sources."""
    with tempfile.TemporaryDirectory(prefix="attention-lab-wheel-") as scratch:
        source = Path(scratch) / "src"
        source.mkdir()
        for name in _SOURCES:
            path = root / name
            if path.is_dir():
                copytree(path, source / name, ignore=ignore_patterns("__pycache__", "*.pyc"))
            elif path.is_file():
                copy2(path, source / name)
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                   "--no-index", "--wheel-dir", str(out_dir), str(source)]  # fmt: skip
        completed = subprocess.run(command, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"building the attention_lab wheel failed:\n{completed.stdout}{completed.stderr}")
    wheel = out_dir / wheel_filename(root)
    if not wheel.is_file():
        raise RuntimeError(f"pip wheel did not produce {wheel.name} in {out_dir}")
    return wheel


def _wheel_bytes() -> bytes:
    with tempfile.TemporaryDirectory(prefix="attention-lab-wheel-out-") as out_dir:
        return build_wheel(Path(out_dir)).read_bytes()


def _store(path: Path, content: bytes) -> None:
    """Keep the wheel under `.cache/wheel/`, and as the last one built."""
    for target in (path, path.with_name("last.whl")):
        _notebook_runs.write_whole(target, content)


def site_wheel() -> bytes:
    """The wheel's bytes: built now, or under `make serve` taken from `.cache/wheel/` while
    the package, hooks and pins (`_cache.fingerprint`) are unchanged. After a change,
    `make serve` serves the last wheel built while a background job builds the new one
    (`python -m hooks.package_wheel`); its end rebuilds the site."""
    if not _cache.enabled():
        return _wheel_bytes()
    cached = _cache.CACHE_DIR / "wheel" / f"{_cache.fingerprint()}.whl"
    if cached.is_file():
        return cached.read_bytes()
    last = cached.with_name("last.whl")
    runs = _notebook_runs.active()
    if runs is not None and last.is_file():
        runs.submit_command(f"wheel-{cached.stem}", "building the wheel", [sys.executable, "-m", "hooks.package_wheel", str(cached)])
        return last.read_bytes()
    _store(cached, _wheel_bytes())
    return cached.read_bytes()


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    files.append(File.generated(config, f"{DOWNLOAD_DIR}/{wheel_filename()}", content=site_wheel()))
    return files


# A page that links the wheel writes this marker; the link names the current version.
WHEEL_LINK_MARKER = "<!-- package-wheel -->"


def wheel_link() -> str:
    """A Markdown link to the wheel, from a page at the top of docs/ (the home page, Reproducibility)."""
    return f"[`{wheel_filename()}`]({DOWNLOAD_DIR}/{wheel_filename()})"


def on_page_markdown(markdown: str, **_: Any) -> str:
    return markdown.replace(WHEEL_LINK_MARKER, wheel_link())


if __name__ == "__main__":  # `python -m hooks.package_wheel TARGET`: the background build of `site_wheel`
    _store(Path(sys.argv[1]), _wheel_bytes())
