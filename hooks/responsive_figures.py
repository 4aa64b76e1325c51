"""MkDocs hook: on a narrow screen, a figure with side-by-side panels shows them stacked.

Scaled down to a phone's width, three panels side by side would carry text a few
pixels high. `hooks/figures.py` also draws such figures with their panels stacked
(`figures/<name>-narrow.svg`, `figures/<name>-dark-narrow.svg`); this hook puts
each of their `<img>` elements in a `<picture>` whose `<source>` picks the narrow
file below `NARROW_MAX_WIDTH`. The `<img>` keeps its `src` (and its
`#only-light`/`#only-dark` marker, which Material's CSS reads), its alt text and
its place in the page.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

NARROW_MAX_WIDTH = "600px"
_NARROW_SUFFIX = "-narrow"
_FIGURE_IMG = re.compile(r'<img\b[^>]*\bsrc="(?P<path>[^"#]*figures/[^"#]+?)\.svg(?P<marker>#only-(?:light|dark))"[^>]*>')


def with_narrow_sources(html: str, has_narrow: Any) -> str:
    """Wrap each figure `<img>` that has a narrow variant (`has_narrow(path)`) in a `<picture>`."""

    def wrap(match: re.Match[str]) -> str:
        narrow = f"{match.group('path')}{_NARROW_SUFFIX}.svg"
        if not has_narrow(narrow):
            return match.group(0)
        return (f'<picture><source media="(max-width: {NARROW_MAX_WIDTH})" srcset="{narrow}">'
                f"{match.group(0)}</picture>")  # fmt: skip

    return _FIGURE_IMG.sub(wrap, html)


def on_page_content(html: str, page: Page, files: Files, **_: Any) -> str:
    """Figures of a page: add the narrow variant wherever the site has one."""

    def has_narrow(path: str) -> bool:
        # By now MkDocs has made `path` relative to the page's URL (`../figures/x-narrow.svg`).
        return files.get_file_from_path(posixpath.normpath(posixpath.join(page.url, path))) is not None

    return with_narrow_sources(html, has_narrow)
