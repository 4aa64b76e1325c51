"""The notebook pages and the figures in a real browser, on a desktop and on a phone.

Reuses the Chromium, the local server and the built site of `tests/test_browser.py`,
and its two browsers at a time (`in_parallel_browsers`).
Each notebook page and chapter page is loaded cold at 1366 px and 390 px wide, in
the light and the dark scheme. Checked: notebook pages weigh at most
`NOTEBOOK_BUDGET_BYTES` everything loaded, keep their nav label as title, load no
JupyterLab CSS, show code as Material code blocks, hide the prompts on a phone and
never make the page wider than the screen; the text outputs scroll instead of
wrapping; every figure's smallest text is at least 11 px on a desktop and 9 px on a
phone, as shown (its font size in the SVG times the scale it is drawn at); figures
in notebooks carry the chapter's alt text and a variant for each scheme.
Screenshots land in `build/screenshots-notebooks/`, weights in
`build/browser-notebooks-report.json`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from hooks import notebooks

from .conftest import ROOT, BuiltSite
from .test_browser import chromium, in_parallel_browsers, served_site  # noqa: F401 (fixtures)

pytestmark = pytest.mark.site

SCREENSHOTS = ROOT / "build" / "screenshots-notebooks"  # test_browser.py clears build/screenshots/
REPORT = ROOT / "build" / "browser-notebooks-report.json"
NOTEBOOK_BUDGET_BYTES = 1_200_000  # a notebook page, everything it loads included
WIDTHS = {"desktop": 1366, "phone": 390}
MIN_TEXT_PX = {"desktop": 11.0, "phone": 9.0}
SCHEMES = ("light", "dark")
CHAPTERS = notebooks.chapter_pages(notebooks.read_nav(ROOT / "mkdocs.yml"))
CHAPTER_PAGES = [Path(chapter).stem + "/" for chapter in CHAPTERS]
NOTEBOOK_PAGES = [f"notebooks/{Path(chapter).stem}/" for chapter in CHAPTERS]

# The smallest text of every visible SVG figure, in CSS pixels as drawn. Matplotlib writes
# `font-size: Npx` in SVG user units (text kept as text) or draws glyphs scaled by N/100
# (text as paths, the notebook's inline figures); the image's drawn width over the SVG's
# viewBox width turns user units into CSS pixels.
FIGURE_TEXT_JS = r"""async () => {
  const result = [];
  for (const img of document.querySelectorAll("article img")) {
    if (!img.checkVisibility() || !(img.currentSrc || img.src).split("#")[0].endsWith(".svg")) continue;
    const text = await (await fetch((img.currentSrc || img.src).split("#")[0])).text();
    const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
    const viewBox = (svg.getAttribute("viewBox") || "").split(/\s+/).map(Number);
    const scale = img.getBoundingClientRect().width / viewBox[2];
    const sizes = [];
    for (const t of svg.querySelectorAll("text")) {
      const m = (t.getAttribute("style") || "").match(/font-size:\s*([\d.]+)px/);
      if (m && t.textContent.trim()) sizes.push(Number(m[1]));
    }
    for (const g of svg.querySelectorAll("g[id^='text'] > g[transform], g[id^='heatmap'] > g[transform]")) {
      const m = g.getAttribute("transform").match(/scale\(([\d.]+)/);
      if (m) sizes.push(100 * Number(m[1]));
    }
    result.push({ src: (img.currentSrc || img.src).split("/").slice(-2).join("/"), alt: img.alt,
                  smallestPx: sizes.length ? Math.min(...sizes) * scale : null, texts: sizes.length });
  }
  return result;
}"""

# What a reader who scrolls through the whole page loads: every image that is shown, lazy
# ones included. The other scheme's variant of a figure (display: none, loading="lazy") is
# never fetched by the browser, so it is not counted (test_browser.py's LOAD_IMAGES_JS
# forces every image, hidden ones too, to check that each one loads).
LOAD_VISIBLE_IMAGES_JS = """() => Promise.all([...document.images].filter((img) => img.checkVisibility()).map((img) => {
  img.loading = "eager";
  return img.complete ? null : new Promise((done) => { img.onload = img.onerror = done; });
}))"""

LAYOUT_JS = r"""() => {
  const article = document.querySelector("article.md-content__inner");
  const visible = (e) => e.checkVisibility();
  const outputs = [...article.querySelectorAll("pre.nb-text")];
  return {
    pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    overflowing: [...article.querySelectorAll("*")].filter((e) => visible(e)
      && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
      && !e.closest("pre, .highlight, .katex, .katex-display, .arithmatex, table, .md-typeset__scrollwrap, .nb-figure"))
      .slice(0, 5).map((e) => e.outerHTML.slice(0, 120)),
    formulasOverflowing: [...article.querySelectorAll(".katex-display")]
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).length,
    // prompts outside folded boxes (a closed <details> hides its cells, prompts included)
    visiblePrompts: [...article.querySelectorAll(".nb-prompt")].filter((e) => !e.closest("details:not([open])")).filter(visible).length,
    prompts: [...article.querySelectorAll(".nb-prompt")].filter((e) => !e.closest("details:not([open])")).length,
    wrappingOutputs: outputs.filter((p) => getComputedStyle(p).whiteSpace !== "pre").length,
    scrollingOutputs: outputs.filter((p) => p.scrollWidth > p.clientWidth && getComputedStyle(p).overflowX === "auto").length,
    outputs: outputs.length,
    materialCode: article.querySelectorAll(".nb-input .highlight pre > code").length,
    codeCells: article.querySelectorAll(".jp-CodeCell").length,
    copyButtons: article.querySelectorAll(".nb-input .md-clipboard, .nb-input [data-md-type='copy']").length,
    admonitions: article.querySelectorAll(".nb-notebook .admonition, .nb-notebook details").length,
    blockquotes: article.querySelectorAll(".nb-notebook blockquote").length,
    inlineStyles: document.querySelectorAll("article style").length,
    jupyterlabCss: [...document.styleSheets].some((s) => [...(s.cssRules || [])].some((r) => (r.selectorText || "").includes(".jp-Notebook-cell"))),
    title: document.title,
    footerPrevious: document.querySelector(".md-footer__link--prev")?.getAttribute("aria-label") || null,
    text: article.innerText,
  };
}"""


@dataclass
class Load:
    page: str
    width: str
    scheme: str
    responses: list[tuple[str, str, int]] = field(default_factory=list)  # (url, resource type, bytes)
    figures: list[dict] = field(default_factory=list)
    layout: dict = field(default_factory=dict)
    screenshot: str = ""

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self.responses)

    def by_type(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for _, kind, size in self.responses:
            totals[kind] += size
        return dict(totals.most_common())


def load(browser: Browser, base_url: str, page_path: str, width: str, scheme: str) -> Load:
    """Load one page cold at one width in one scheme; measure it and take a screenshot of its first screen."""
    result = Load(page_path, width, scheme)
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900},
                                  color_scheme="dark" if scheme == "dark" else "light")  # fmt: skip
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(base_url))
    context.route(lambda url: not url.startswith(origin), lambda route: route.abort("blockedbyclient"))
    responses = []
    context.on("response", lambda response: responses.append(response))
    try:
        page = context.new_page()
        page.goto(base_url + page_path, wait_until="networkidle")
        page.evaluate(LOAD_VISIBLE_IMAGES_JS)
        page.wait_for_load_state("networkidle")
        result.responses = [(r.url, r.request.resource_type, len(r.body()) if r.status < 300 else 0)
                            for r in responses]  # fmt: skip
        result.figures = page.evaluate(FIGURE_TEXT_JS)
        result.layout = page.evaluate(LAYOUT_JS)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = f"{page_path.strip('/').replace('/', '--')}-{WIDTHS[width]}-{scheme}.png"
        page.screenshot(path=SCREENSHOTS / name)  # the first screen: test_browser.py keeps the whole pages
        result.screenshot = str((SCREENSHOTS / name).relative_to(ROOT))
    finally:
        context.close()
    return result


@pytest.fixture(scope="module")
def loads(chromium: str, served_site: str, built_site: BuiltSite) -> dict[tuple[str, str, str], Load]:  # noqa: F811
    keys = [(page, width, scheme) for page in NOTEBOOK_PAGES + CHAPTER_PAGES for width in WIDTHS for scheme in SCHEMES]
    result = in_parallel_browsers(chromium, keys, lambda browser, key: load(browser, served_site, *key))
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps([
        {"page": l.page, "width": WIDTHS[l.width], "scheme": l.scheme, "bytes": l.bytes, "by_type": l.by_type(),
         "screenshot": l.screenshot, "figures": l.figures} for l in result.values()], indent=2) + "\n", encoding="utf-8")  # fmt: skip
    return result


def test_notebook_pages_weigh_at_most_the_budget(loads: dict[tuple[str, str, str], Load]) -> None:
    assert NOTEBOOK_PAGES
    heavy = {key: (l.bytes, l.by_type()) for key, l in loads.items() if l.page in NOTEBOOK_PAGES and l.bytes > NOTEBOOK_BUDGET_BYTES}
    assert not heavy
    assert all(l.bytes > 0 for l in loads.values())


def test_notebook_pages_look_like_the_site(loads: dict[tuple[str, str, str], Load]) -> None:
    for page in NOTEBOOK_PAGES:
        layout = loads[(page, "desktop", "light")].layout
        assert not layout["jupyterlabCss"] and layout["inlineStyles"] == 0, page
        assert layout["codeCells"] > 10 and layout["materialCode"] == layout["codeCells"], page
        assert layout["copyButtons"] == layout["codeCells"], page  # Material's copy button on every cell
        assert layout["blockquotes"] == 0, page  # boxes become Material's admonitions, not quotes
        assert "%matplotlib" not in layout["text"] and "%pip" not in layout["text"], page  # plumbing hidden
        assert "Every code block on this page runs in the test suite" not in layout["text"], page
        assert "http://" not in layout["text"] and "https://" not in layout["text"], page  # link text is words
    assert sum(loads[(page, "desktop", "light")].layout["admonitions"] for page in NOTEBOOK_PAGES) > 0


def test_notebook_pages_keep_their_nav_label(loads: dict[tuple[str, str, str], Load], built_site: BuiltSite) -> None:
    """The nav's label (`Chapter <n> notebook`, hooks/notebooks.py) is the title, not the notebook's heading."""
    nav = notebooks.register_chapters(notebooks.read_nav(ROOT / "mkdocs.yml"), ROOT / "docs")
    labels = {f"{page}/": label for item in notebooks._section(nav, notebooks.NOTEBOOK_SECTION) or []
              for label, page in item.items()}  # fmt: skip
    labels = {page.removesuffix(".ipynb/") + "/": label for page, label in labels.items()}
    for page in NOTEBOOK_PAGES:
        label = labels[page]
        assert loads[(page, "desktop", "light")].layout["title"] == f"{label} - Attention Lab", page
        assert f"<title>{label} - Attention Lab</title>" in built_site.page(page)
    # The page after the last notebook (Reproducibility) names it by its label in "Previous".
    assert f'aria-label="Previous: {labels[NOTEBOOK_PAGES[-1]]}"' in built_site.page("reproducibility/")


# Chapter 5's notebook (arrived in the last merge of main) is 32 px wider than a 390 px screen;
# the culprit is inside an element that scrolls on its own (a table, formula or code block).
KNOWN_PHONE_OVERFLOW: set[str] = set()  # notebook pages allowed to scroll sideways on a phone (none)


def test_notebook_pages_on_a_phone(loads: dict[tuple[str, str, str], Load]) -> None:
    for page in NOTEBOOK_PAGES:
        desktop, phone = loads[(page, "desktop", "light")].layout, loads[(page, "phone", "light")].layout
        assert desktop["visiblePrompts"] == desktop["prompts"] > 0, page
        assert phone["visiblePrompts"] == 0, page
        if page in KNOWN_PHONE_OVERFLOW:  # listed below: must still overflow, else remove it from the list
            assert phone["pageOverflow"] > 0, page
        else:
            assert phone["pageOverflow"] <= 0 and not phone["overflowing"], (page, phone["overflowing"])
        assert phone["formulasOverflowing"] == 0, page
        assert phone["wrappingOutputs"] == 0 and phone["scrollingOutputs"] > 0, page  # tensors scroll, whole


# Chapter 5's figures (plot_scaling, plot_attention_blocks) arrived in the last merge of main
# and do not meet the targets yet (measured: cost 10.7/8.7 px, causal-blocks 10.1/5.2 px,
# benchmark 8.7/4.5 px on desktop/phone): larger fonts or stacked narrow variants are to do.
# Listed by name so that every other figure is held to the target, and the list must shrink:
# a listed figure that passes fails the test until it is removed from here.
KNOWN_SMALL_TEXT: set[str] = set()  # figures allowed below the sizes (none: keep it that way)


def _figure_name(src: str) -> str:
    return src.split("#")[0].removesuffix(".svg").removesuffix("-narrow").removesuffix("-dark")


def test_every_figure_has_readable_text_at_both_widths(loads: dict[tuple[str, str, str], Load]) -> None:
    small, known_seen = {}, set()
    for (page, width, scheme), l in loads.items():
        assert l.figures or page.startswith("notebooks/"), (page, width, scheme)
        for figure in l.figures:
            assert figure["texts"] > 0, figure
            if figure["smallestPx"] < MIN_TEXT_PX[width]:
                if _figure_name(figure["src"]) in KNOWN_SMALL_TEXT:
                    known_seen.add(_figure_name(figure["src"]))
                else:
                    small[(page, width, scheme, figure["src"])] = round(figure["smallestPx"], 2)
    assert not small
    assert known_seen == {name for name in KNOWN_SMALL_TEXT if any(name.split("/")[0] + "/" == p for p in CHAPTER_PAGES)}


def test_notebook_figures_have_the_chapters_alt_text_in_both_schemes(loads: dict[tuple[str, str, str], Load]) -> None:
    """Each figure a notebook draws carries the alt text of that figure on the chapter page.

    (A chapter may show figures its code does not draw, e.g. drawn from benchmark data by the
    figures hook: those are not in its notebook.)
    """
    shown = 0
    for chapter_page, notebook_page in zip(CHAPTER_PAGES, NOTEBOOK_PAGES):
        for scheme in SCHEMES:
            chapter_alts = [f["alt"] for f in loads[(chapter_page, "desktop", scheme)].figures]
            notebook = loads[(notebook_page, "desktop", scheme)].figures
            alts = [f["alt"] for f in notebook]
            assert alts == [alt for alt in chapter_alts if alt in alts], (notebook_page, scheme)
            files = [f["src"].split("#")[0] for f in notebook]
            assert all(name.endswith("-dark.svg") == (scheme == "dark") for name in files), (notebook_page, scheme, files)
            shown += len(alts)
    assert shown > 0
