"""hooks/figures.py: every chapter figure is drawn at build time, for both colour schemes."""

from __future__ import annotations

import re

import pytest

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


def alt_texts(page: str, figure: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(r"!\[([^\]]*)\]\(figures/" + re.escape(figure) + r"(?:-dark)?\.svg#", text)


@pytest.mark.parametrize(
    ("page", "figure"),
    [("simplified-attention.md", "simplified-attention/data-flow"), ("self-attention.md", "self-attention/data-flow")],
)
def test_data_flow_alt_text_names_every_shape_the_diagram_shows(page: str, figure: str) -> None:
    svg = figures.render_svg(figures.FIGURES[figure], "default").decode()
    shapes = set(re.findall(r"(\d+)×(\d+)", svg))
    assert len(shapes) >= 2
    alts = alt_texts(page, figure)
    assert len(alts) == 2 and alts[0] == alts[1]
    for rows, columns in shapes:
        assert f"{rows} by {columns}" in alts[0], f"{figure}: the diagram shows {rows}×{columns}, the alt text does not"


def test_training_figure_shows_the_trained_attention() -> None:
    svg = figures.render_svg(figures.FIGURES["self-attention/training-before-after"], "dark_background").decode()
    assert "before training" in svg and "after 10 steps" in svg
    assert ">0.95<" in svg or "0.95" in svg  # row "journey", column "one", after training
    assert "training-before-after" in " ".join(referenced_figures())


def test_side_by_side_figures_have_stacked_narrow_variants() -> None:
    assert set(figures.NARROW_FIGURES) <= set(figures.FIGURES)
    for name, draw in figures.NARROW_FIGURES.items():
        wide, narrow = figures.FIGURES[name](), draw()
        assert narrow.get_figwidth() < 0.7 * wide.get_figwidth(), name
        assert narrow.get_figheight() > narrow.get_figwidth(), name


def test_narrow_variants_replace_the_wide_figure_on_small_screens() -> None:
    from hooks import responsive_figures

    html = ('<img alt="A" src="../figures/a/wide.svg#only-light" />'
            '<img alt="A" src="../figures/a/wide-dark.svg#only-dark" /><img alt="B" src="../figures/a/other.svg#only-light" />')
    wrapped = responsive_figures.with_narrow_sources(html, lambda path: "wide" in path)
    assert wrapped.count("<picture>") == 2
    assert '<source media="(max-width: 600px)" srcset="../figures/a/wide-narrow.svg">' in wrapped
    assert '<source media="(max-width: 600px)" srcset="../figures/a/wide-dark-narrow.svg">' in wrapped
    assert '<img alt="B" src="../figures/a/other.svg#only-light" />' in wrapped and wrapped.endswith("/>")


def test_built_site_serves_the_narrow_variants_from_the_chapter_pages(built_site: BuiltSite) -> None:
    for name in figures.NARROW_FIGURES:
        for suffix in figures.SCHEMES:
            path = f"{figures.FIGURE_DIR}/{name}{suffix}{figures.NARROW_SUFFIX}.svg"
            assert (built_site.directory / path).read_bytes().startswith(b"<?xml")
            assert f'srcset="../{path}"' in built_site.page(name.split("/")[0] + "/")
