"""hooks/figures.py: every chapter figure is drawn at build time, for both colour schemes."""

from __future__ import annotations

import re

from hooks import figures

from .conftest import ROOT, BuiltSite

DOCS = ROOT / "docs"


def referenced_figures() -> set[str]:
    pages = "\n".join(page.read_text(encoding="utf-8") for page in DOCS.rglob("*.md"))
    return set(re.findall(r"\]\((figures/[\w/-]+\.svg)#only-(?:light|dark)\)", pages))


def test_every_figure_is_shown_in_a_chapter_in_both_schemes() -> None:
    assert referenced_figures() == set(figure_paths := figures.figure_paths())
    assert len(figure_paths) == 2 * len(figures.FIGURES)


def test_every_figure_image_has_alt_text_and_sits_in_a_captioned_figure() -> None:
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"<figure.*?</figure>", text, re.DOTALL):
            assert "<figcaption>" in block, page
        for alt in re.findall(r"!\[([^\]]*)\]\(figures/", text):
            assert len(alt) > 30, f"{page.name}: alt text too short: {alt!r}"


def test_svgs_are_reproducible_and_differ_by_scheme() -> None:
    draw = figures.FIGURES["simplified-attention/query-2-weights"]
    light = figures.render_svg(draw, "default")
    assert light == figures.render_svg(draw, "default")
    dark = figures.render_svg(draw, "dark_background")
    assert light != dark
    assert b"<text" in light  # real text, not glyph paths
    assert b"0.2369" in light


def test_built_site_serves_every_figure(built_site: BuiltSite) -> None:
    for path in figures.figure_paths():
        svg = (built_site.directory / path).read_bytes()
        assert svg.startswith(b"<?xml") and b"<svg" in svg
