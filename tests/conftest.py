"""Shared fixtures: one strict build of the site per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 600


@dataclass(frozen=True)
class BuiltSite:
    """A site built by `mkdocs build --strict` into `directory`, with its log."""

    directory: Path
    log: str

    def page(self, url_path: str) -> str:
        """The HTML of a page, given as its URL path below the site root (e.g. `simplified-attention/`)."""
        return (self.directory / url_path / "index.html").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def built_site() -> BuiltSite:
    """Build the site once, strictly, with the notebook cache off so outputs are current."""
    directory = ROOT / "build" / "test-site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SITE_URL": "http://127.0.0.1/attention-lab/"}
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
    assert completed.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return BuiltSite(directory, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the built site, so `-m "not site"` gives a quick run."""
    for item in items:
        if "built_site" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.site)
