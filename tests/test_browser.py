"""The built site in a real browser: every page, offline, typeset, light and dark, desktop and phone.

The strict build (`built_site`) is served on 127.0.0.1 under its project path
(`/attention-lab/`, as GitHub Pages serves it) and every page of it, found from
its `index.html` files, so pages added later are checked too, is loaded in
headless Chromium, each in a fresh browser context (a cold cache, so the bytes
counted are what a first-time reader downloads). Any request for another host
is blocked and recorded. Each page is loaded cold once, 1366 px wide (a laptop)
in the light scheme, switched to the dark one with Material's palette toggle,
then narrowed to 390 px (a phone) and switched back to the light one. Screenshots land in `build/screenshots/`
(the first screen of every view; the whole page too for the home page and the
chapters, at 1366 px in the light scheme), the requests and bytes of every page in `build/browser-report.json`;
the terminal summary prints the page weights (see `tests/conftest.py`).

At 1366 px each page is audited with axe-core (through `axe-playwright-python`)
in the light and the dark scheme, its figures' contrast measured on the
background they are shown on; at 390 px its layout is checked in both schemes
(code scrolls, nothing wider than the screen).

The chapter pages and their notebook pages are also read at both widths in both
schemes (`Reading`): weight, the smallest text of every figure as drawn, and the
notebook page's layout (Material code blocks, prompts hidden on a phone, outputs
that scroll, the nav label as title, the chapter's alt text on each figure).

No browser: the test skips with a loud message, except under `CI=true`, where
it fails: CI can install Chromium (`scripts/install-browser.sh`, which
`make test` runs), so a skip there would hide that nothing was checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Request, Response, Route, sync_playwright

from hooks import chapters

from .conftest import ROOT, SITE_URL, BuiltSite, search_topics
from .site_server import serve

pytestmark = pytest.mark.site

SCREENSHOTS = ROOT / "build" / "screenshots"
REPORT = ROOT / "build" / "browser-report.json"

# Headless Chromium as root on a machine with no network (see /usr/bin/chromium's man page).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",  # containers (CI) have a small /dev/shm
]
CHROMIUM_CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]

# The numbering of each chapter's sections in the seed document (with issue 8's 2.3.1), then the
# sections beyond it, numbered on: issue 8's 2.4-2.8 and each chapter's Recap, then the closing
# Exercises section of issue 9. A page is a chapter
# when its title is numbered ("2. The 'self' in self-attention"), so chapter 2 is
# checked once its page exists, and the notebook of a chapter is checked too.
SEED_NUMBERING = {
    1: ["1.1", "1.1.1", "1.1.2", "1.1.3", "1.2", "1.2.1", "1.2.2", "1.2.3", "1.3", "1.4"],
    2: [
        "2.1",
        "2.2", "2.2.1", "2.2.2", "2.2.3", "2.2.4", "2.2.5", "2.2.6",
        "2.3", "2.3.1", "2.3.2", "2.3.3", "2.3.4", "2.3.5",
        "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10",
    ],
}  # fmt: skip
CHAPTER_TITLE = re.compile(r"^(\d+)\.\s")
SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)+)\s")
# A chapter page (not its notebook), everything a reader loads included. Every page also loads the
# search index, which grows with each chapter (184 KB with six; chapter 6 added 15 KB): 900 KB
# until chapter 6, when chapter 2's page reached 913 KB.
CHAPTER_BUDGET_BYTES = 950_000
# A notebook page, everything it loads included (uncompressed). Every figure its chapter draws is in
# it (chapter 2: three heatmaps, 137 KB of SVG in one scheme): 938 KB for chapter 2 today, since its
# math is MathML written at build time (1.29 MB with KaTeX's script, CSS and fonts in the browser).
NOTEBOOK_BUDGET_BYTES = 1_000_000
# The chapters, from the registry of hooks/chapters.py, and their notebook pages: read at both widths.
CHAPTERS = chapters.chapter_pages(chapters.read_nav(ROOT / "mkdocs.yml"))
CHAPTER_PAGES = [Path(chapter).stem + "/" for chapter in CHAPTERS]
NOTEBOOK_PAGES = [f"notebooks/{Path(chapter).stem}/" for chapter in CHAPTERS]
MIN_TEXT_PX = {"desktop": 11.0, "phone": 9.0}  # a figure's smallest text as drawn, CSS px
# Screenshots are for people to look at (the checks read the page itself): the first screen of every
# view, and the whole page of the home page and of each chapter at 1366 px in the light scheme.
# (A whole-page capture of a 25,000 px page costs 1.5 to 3.5 s of CPU; the first screen 0.1 s.)
WHOLE_PAGE_SCREENSHOTS = ["", *CHAPTER_PAGES]
MISSING_PAGE = "no/such/page/"  # nested, so the 404 page's absolute links are put to the test
MIN_CONTRAST = 3.0  # WCAG 2 minimum for graphics against their background
# Both widths as a reader's laptop and phone show them. 1366 px is in Material's widest layout
# (both sidebars from 1220 px on); 390 px is a phone's, where the sidebars fold into the drawer.
DESKTOP = {"width": 1366, "height": 900}
PARALLEL_BROWSERS = 2  # page visits at a time (in_parallel_browsers)
Item = TypeVar("Item")
Result = TypeVar("Result")
PHONE = {"width": 390, "height": 844}
# axe-core impacts that fail the test; "moderate" and "minor" findings are reported, not failed.
AXE_FAILING_IMPACTS = {"serious", "critical"}
# Rules that cannot be met inside Material, each with the reason (none today). Never a blanket switch.
AXE_EXEMPT_RULES: dict[str, str] = {}
KATEX_FILES = re.compile(r"/assets/katex/")  # only the build reads them

# What the page shows once loaded: typesetting, images, table of contents, copy buttons.
INSPECT_JS = r"""() => {
  const article = document.querySelector("article.md-content__inner") || document.body;
  // KaTeX's auto-render leaves these elements alone; so does this check.
  const prose = article.cloneNode(true);
  prose.querySelectorAll("script, noscript, style, textarea, pre, code, option, .katex")
    .forEach((e) => e.remove());
  const text = prose.textContent;
  const raw = [];
  for (const pattern of [/\$\$/g, /\\\[/g, /\\\(/g, /\$[^$\n]+\$/g]) {
    for (const m of text.matchAll(pattern)) raw.push(text.slice(Math.max(0, m.index - 30), m.index + 50));
  }
  const toc = document.querySelector("nav.md-nav--secondary");
  const tocEntries = toc ? [...toc.querySelectorAll("a.md-nav__link")].map((a) => {
    let depth = 0;
    for (let e = a.parentElement; e && e !== toc; e = e.parentElement) if (e.matches("ul.md-nav__list")) depth++;
    return { text: a.textContent.trim().replace(/\s+/g, " "), depth };
  }) : [];
  // Code: Markdown blocks (Material puts its copy button in the <pre>) and notebook input
  // cells (mkdocs-jupyter puts a <clipboard-copy> in the cell's input area).
  const codeBlocks = [
    ...[...article.querySelectorAll("pre > code")].map((code) => code.parentElement),
    ...article.querySelectorAll(".jp-CodeCell .jp-InputArea"),
  ];
  const copyControl = "[data-md-type='copy'], button.md-clipboard, clipboard-copy";
  return {
    title: document.title,
    notebook: Boolean(article.querySelector(".jp-Notebook")),
    h1: (article.querySelector("h1")?.textContent || "").trim(),
    arithmatex: document.querySelectorAll(".arithmatex").length,
    untypeset: [...document.querySelectorAll(".arithmatex")]
      .filter((e) => !e.querySelector(".katex")).map((e) => e.textContent.slice(0, 80)),
    katex: document.querySelectorAll(".katex").length,
    katexErrors: [...document.querySelectorAll(".katex-error")].map((e) => e.textContent.slice(0, 80)),
    rawMath: raw,
    images: [...document.images].map((img) => ({
      src: (img.currentSrc || img.src).slice(0, 160), complete: img.complete, naturalWidth: img.naturalWidth,
    })),
    toc: tocEntries,
    codeBlocks: codeBlocks.length,
    codeBlocksWithoutCopy: codeBlocks.filter((block) => !block.querySelector(copyControl)).length,
    // Markdown code blocks shown on load that scroll sideways (wider than their box).
    codeBlocksScrolling: [...article.querySelectorAll(".highlight pre > code")]
      .filter((code) => code.checkVisibility() && code.scrollWidth > code.clientWidth + 1).length,
    mathjaxScripts: document.querySelectorAll("script[type^='text/x-mathjax']").length,
    mathml: document.querySelectorAll(".katex > math").length,
    // MathML Core draws mathvariant="bold" as a plain italic letter; the hook writes 𝐖 instead.
    mathBoldVariant: document.querySelectorAll("math [mathvariant='bold']").length,
    mathBoldLetters: [...document.querySelectorAll("math mi")].filter((mi) => /[\u{1D400}-\u{1D433}\u{1D6A8}-\u{1D6C0}]/u.test(mi.textContent)).length,
    katexScripts: [...document.scripts].filter((s) => /katex\.min\.js$/.test(s.src)).length,
    localServerLinks: [...document.querySelectorAll("a[href*='127.0.0.1'], a[href*='localhost']")].map((a) => a.href),
    homeLinks: [...article.querySelectorAll("a")].map((a) => a.href.replace(/\/\.$/, "/")),
    repoLink: document.querySelector(".md-header a.md-source")?.href || null,
    repoLinkScripted: Boolean(document.querySelector("[data-md-component='source']")),
    editLink: document.querySelector("article a[rel='edit']")?.href || null,
    footer: (document.querySelector(".md-copyright")?.innerText || "").replace(/\s+/g, " "),
    footerLinks: [...document.querySelectorAll(".md-copyright a")].map((a) => a.href),
    favicon: document.querySelector("link[rel~='icon']")?.href || null,
    logo: (() => { const img = document.querySelector(".md-header .md-logo img");
      return img ? { src: img.src, naturalWidth: img.naturalWidth } : null; })(),
    firstTableBeforeFirstCode: (() => {
      const table = article.querySelector("table"), pre = article.querySelector("pre");
      return !table ? null : !pre || Boolean(table.compareDocumentPosition(pre) & Node.DOCUMENT_POSITION_FOLLOWING);
    })(),
  };
}"""

# At 390 px: does the layout hold? Code scrolls sideways (each source line is one line on
# screen), the copy button covers no code, identifiers in tables are never broken across
# lines, and nothing but a scrolling frame is wider than the screen.
PHONE_JS = r"""async () => {
  // Two frames: the resize to 390 px has been laid out and its ResizeObserver callbacks have run.
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const article = document.querySelector("article.md-content__inner") || document.body;
  const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const wrappedCode = [], coveredCode = [];
  for (const code of article.querySelectorAll(".highlight pre > code")) {
    if (!code.checkVisibility()) continue;  // inside a collapsed block
    const style = getComputedStyle(code);
    const lines = code.textContent.replace(/\n$/, "").split("\n").length;
    const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    const rendered = (code.scrollHeight - padding) / parseFloat(style.lineHeight);
    if (Math.abs(rendered - lines) > 0.5) wrappedCode.push({ lines, rendered, start: code.textContent.slice(0, 60) });
    const button = code.parentElement.querySelector("button.md-code__button[data-md-type='copy']");
    if (!button) continue;
    const box = button.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(code);
    const hit = [...range.getClientRects()].find((r) => r.width > 0 && overlaps(r, box));
    if (hit) coveredCode.push(code.textContent.slice(0, 60));
  }
  const brokenIdentifiers = [...article.querySelectorAll("td code, th code")]
    .filter((code) => code.getClientRects().length > 1).map((code) => code.textContent);
  const tables = [...article.querySelectorAll("table")].map((table) => {
    const frame = table.closest(".md-typeset__scrollwrap") || table;
    return { frameRight: frame.getBoundingClientRect().right, scrolls: frame.scrollWidth > frame.clientWidth + 1,
             focusable: frame.tabIndex >= 0 };
  });
  // A figure wider than the phone scrolls in its box, which the keyboard reaches and a line under it names.
  const figures = [...article.querySelectorAll(".nb-figure")].filter((f) => f.checkVisibility()).map((f) => {
    const cue = f.nextElementSibling?.matches(".nb-scroll-cue") ? f.nextElementSibling : null;
    return { scrolls: f.scrollWidth > f.clientWidth + 1, focusable: f.tabIndex >= 0,
             cued: Boolean(cue && cue.checkVisibility() && cue.getBoundingClientRect().height > 0) };
  });
  return {
    figuresScrolling: figures.filter((f) => f.scrolls).length,
    figuresScrollingWithoutCue: figures.filter((f) => f.scrolls && !(f.focusable && f.cued)).length,
    figuresCuedWithoutScrolling: figures.filter((f) => !f.scrolls && f.cued).length,
    pageWidth: document.documentElement.scrollWidth,
    viewportWidth: window.innerWidth,
    wrappedCode, coveredCode, brokenIdentifiers,
    tablesPastTheScreen: tables.filter((t) => t.frameRight > window.innerWidth + 1).length,
    tablesScrolling: tables.filter((t) => t.scrolls).length,
    tablesScrollingOutOfKeyboardReach: tables.filter((t) => t.scrolls && !t.focusable).length,
    tables: tables.length,
  };
}"""

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

# The lazy images shown now (REMEMBER_LAZY, below): what a cold load in this view would fetch
# besides the eager ones.
SHOWN_LAZY_IMAGES_JS = """() => [...document.images]
  .filter((img) => window.attentionLabLazyImages.has(img) && img.checkVisibility())
  .map((img) => (img.currentSrc || img.src).split("#")[0])"""

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


# Load the images now, lazy ones included, and wait until each has loaded or failed: with
# `visibleOnly`, those shown (what a reader who scrolls through the page loads: the other
# scheme's variants, display: none, never load); without, every one (the image and contrast
# checks). First two frames: after a resize, a <picture> picks its source for the new width.
# Which images the page marks lazy is remembered first (in the page, outside its DOM), before
# the test makes any eager: a lazy image loads only once shown, an eager one always.
REMEMBER_LAZY = 'window.attentionLabLazyImages ??= new WeakSet([...document.images].filter((img) => img.loading === "lazy"));'
LOAD_IMAGES_JS = """async (visibleOnly) => {""" + REMEMBER_LAZY + """
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  await Promise.all([...document.images].filter((img) => !visibleOnly || img.checkVisibility()).map((img) => {
    img.loading = "eager";
    return img.complete ? null : new Promise((done) => { img.onload = img.onerror = done; });
  }));
}"""

# Is every figure the reader sees readable on the background it is shown on? A figure
# with an opaque border brings its own background. Otherwise its outline (opaque-ish
# pixels next to transparent ones: glyphs, lines, the edges of shapes) lies on the
# page's background and must mostly contrast with it (WCAG ratio). Measured on this
# site's figures: the right variant of each scores 0.82 to 1.00, the wrong one 0.00 to 0.23.
FIGURES_JS = r"""async (minContrast) => {
  const rgba = (css) => (css.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number).concat([1]).slice(0, 4);
  const backgroundOf = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const [r, g, b, a] = rgba(getComputedStyle(e).backgroundColor);
      if (a > 0) return [r, g, b];
    }
    return [255, 255, 255];
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const contrast = (l1, l2) => (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  const figures = [];
  for (const img of document.querySelectorAll("article img")) {
    if (!img.naturalWidth || !img.checkVisibility()) continue;  // broken: the image check; hidden: not seen
    await img.decode().catch(() => {});
    const width = Math.min(img.naturalWidth, 600);
    const height = Math.max(1, Math.round(img.naturalHeight * width / img.naturalWidth));
    const canvas = Object.assign(document.createElement("canvas"), { width, height });
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(img, 0, 0, width, height);
    const pixels = context.getImageData(0, 0, width, height).data;
    const alpha = (x, y) => pixels[4 * (y * width + x) + 3] / 255;
    const background = backgroundOf(img);
    const backgroundLuminance = luminance(background);
    let border = 0, opaqueBorder = 0, outline = 0, contrasting = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const a = alpha(x, y);
        if (x === 0 || y === 0 || x === width - 1 || y === height - 1) { border++; if (a > 0.98) opaqueBorder++; }
        const onBackground = (x > 0 && alpha(x - 1, y) < 0.5) || (x < width - 1 && alpha(x + 1, y) < 0.5)
          || (y > 0 && alpha(x, y - 1) < 0.5) || (y < height - 1 && alpha(x, y + 1) < 0.5);
        if (a < 0.5 || !onBackground) continue;
        outline++;
        const i = 4 * (y * width + x);
        const shown = [0, 1, 2].map((c) => a * pixels[i + c] + (1 - a) * background[c]);
        if (contrast(luminance(shown), backgroundLuminance) >= minContrast) contrasting++;
      }
    }
    const ownBackground = opaqueBorder >= 0.9 * border;
    figures.push({
      src: (img.currentSrc || img.src).slice(0, 160),
      background: `rgb(${background.join(", ")})`,
      ownBackground,
      contrastingOutline: outline ? contrasting / outline : 0,
      readable: ownBackground || (outline > 0 && contrasting >= 0.5 * outline),
    });
  }
  return figures;
}"""


def bytes_by_type(responses: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Bytes by resource type (document, stylesheet, script, font, image, xhr: the search index...),
    from (resource type, bytes) pairs, largest first."""
    totals: Counter[str] = Counter()
    for kind, size in responses:
        totals[kind] += size
    return dict(totals.most_common())


@dataclass
class Reading:
    """A chapter or notebook page as a reader of one width ("desktop", "phone") and one scheme
    ("light", "dark") meets it: what a cold load in that view downloads, its figures' smallest
    text as drawn, and its layout (LAYOUT_JS)."""

    responses: list[tuple[str, str, int]] = field(default_factory=list)  # (url, resource type, bytes)
    figures: list[dict] = field(default_factory=list)
    layout: dict = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self.responses)

    def by_type(self) -> dict[str, int]:
        return bytes_by_type((kind, size) for _, kind, size in self.responses)


@dataclass
class Visit:
    """What one page did in the browser."""

    page: str
    url: str
    status: int | None = None
    responses: list[tuple[str, int, int]] = field(default_factory=list)  # (url, status, bytes)
    resource_types: list[str] = field(default_factory=list)  # of each response, in the same order
    failed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # requests for another host, refused
    console_errors: list[str] = field(default_factory=list)
    schemes: list[str] = field(default_factory=list)  # body[data-md-color-scheme], before and after each toggle
    figures: dict[str, list[dict]] = field(default_factory=dict)  # by scheme
    screenshots: list[str] = field(default_factory=list)
    inspection: dict = field(default_factory=dict)
    axe: dict[str, list[dict]] = field(default_factory=dict)  # by scheme: axe-core's violations
    phone: dict[str, dict] = field(default_factory=dict)  # by scheme: PHONE_JS at 390 px
    readings: dict[tuple[str, str], Reading] = field(default_factory=dict)  # by (width, scheme): chapters, notebooks

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self.responses)

    @property
    def bytes_by_type(self) -> dict[str, int]:
        return bytes_by_type((kind, size) for (_, _, size), kind in zip(self.responses, self.resource_types, strict=True))

    @property
    def hosts(self) -> list[str]:
        return sorted({urlsplit(url).netloc for url, _, _ in self.responses} | {urlsplit(u).netloc for u in self.blocked})

    @property
    def chapter(self) -> int | None:
        """The chapter's number, from its numbered title; None for a page that is no chapter."""
        match = CHAPTER_TITLE.match(self.inspection.get("h1", ""))
        return int(match.group(1)) if match else None

    @property
    def is_chapter_page(self) -> bool:
        """A chapter's own page, not its notebook (notebook pages inline JupyterLab's CSS)."""
        return self.chapter is not None and not self.inspection.get("notebook")


def find_chromium() -> str | None:
    """`$CHROMIUM`, else Debian's chromium, else another Chromium or Chrome on the PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next(filter(None, map(shutil.which, CHROMIUM_CANDIDATES)), None)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        message = (
            "NO BROWSER, SO THE SITE WAS NOT CHECKED IN A BROWSER: no Chromium found "
            f"(looked for $CHROMIUM and {', '.join(CHROMIUM_CANDIDATES)} on the PATH). "
            "Install it with `bash scripts/install-browser.sh` (apt-get install chromium), "
            "which `make test` runs."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + " CI=true: the browser test must run in CI.", pytrace=False)
        pytest.skip(message)
    return path


def site_pages(directory: Path) -> list[str]:
    """Every page of the built site, as its URL path below the site root ('' is the home page)."""
    pages = (index.parent.relative_to(directory).as_posix() for index in directory.rglob("index.html"))
    return sorted("" if page == "." else page + "/" for page in pages)


def screenshot_name(page: str) -> str:
    return "404" if page == MISSING_PAGE else page.strip("/").replace("/", "--") or "index"


def run_axe(page: Page) -> list[dict]:
    """axe-core's violations on the page as it is now: rule, impact, and the first few nodes."""
    violations = AXE.run(page).response["violations"]
    return [
        {"rule": v["id"], "impact": v["impact"], "nodes": len(v["nodes"]), "help": v["help"],
         "targets": [node["target"] for node in v["nodes"][:5]]}
        for v in violations
    ]  # fmt: skip


AXE = Axe()
SCHEME_JS = "document.body.getAttribute('data-md-color-scheme')"


def toggle_scheme(page: Page) -> str:
    """Click Material's palette toggle; return the scheme it switched to."""
    before = page.evaluate(SCHEME_JS)
    page.locator('[data-md-component="palette"] label:visible').click()
    page.wait_for_function(f"{SCHEME_JS} !== {json.dumps(before)}")
    return page.evaluate(SCHEME_JS)


def new_context(browser: Browser, origin: str, result: Visit, viewport: dict) -> tuple:
    """A fresh context (cold cache) that blocks and records any request for another host."""
    context = browser.new_context(viewport=viewport, color_scheme="light")

    def block(route: Route) -> None:
        result.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    context.route(lambda url: not url.startswith(origin), block)
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and result.console_errors.append(
        f"{message.text} (at {message.location.get('url')})"))  # fmt: skip
    page.on("pageerror", lambda error: result.console_errors.append(f"uncaught: {error}"))
    return context, page


SCHEME_NAMES = {"default": "light", "slate": "dark"}  # Material's scheme -> the reader's word


def body_size(response: Response) -> int:
    """The bytes of a response's body (0 for a redirect, which has none). Read it while the page
    that loaded it is fresh: Chromium drops bodies it no longer needs (a `<picture>` source left
    behind by a resize, older responses once its buffer is full)."""
    return len(response.body()) if response.status < 300 or response.status >= 400 else 0


def served_size(response: Response) -> int:
    """The bytes the server sent for a response: its Content-Length (the test server sends one
    for every file and compresses nothing), else the body as Chromium still holds it."""
    length = response.headers.get("content-length")
    return int(length) if length is not None else body_size(response)


def visit(browser: Browser, base_url: str, page_path: str) -> Visit:
    """Load one page cold at 1366 px in the light scheme; inspect it; audit, measure and
    screenshot it in the light scheme, then in the dark one (Material's toggle); narrow the
    same page to 390 px (Material's phone layout follows the width, a `<picture>` takes its
    narrow source) and check its layout in the dark scheme, then toggled back to the light one.
    A chapter or notebook page is also read (`Reading`) in each of the four views.

    The weight is what a reader in one view downloads: the cold load, every eager image, and
    the lazy images shown in that view (the other scheme's and width's variants never load).
    The cold load is the light desktop view's; any other view's is that with the lazy images
    swapped for its own (each one's bytes known, as every image has loaded by then).
    """
    result = Visit(page_path, base_url + page_path)
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(base_url))
    read = page_path in CHAPTER_PAGES + NOTEBOOK_PAGES
    name = screenshot_name(page_path)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, page = new_context(browser, origin, result, DESKTOP)
    responses: list[Response] = []
    context.on("response", lambda response: responses.append(response))
    context.on("requestfailed", lambda request: request.url.startswith(origin) and not _cancelled_image(request)
               and result.failed.append(f"{request.url}: {request.failure}"))  # fmt: skip
    looks: dict[tuple[str, str], tuple[list[str], list[dict], dict]] = {}  # view -> lazy images shown, figures, layout

    def look(width: str, suffix: str) -> None:
        """Read the page in this view (chapter and notebook pages) and take its screenshot."""
        scheme = SCHEME_NAMES[page.evaluate(SCHEME_JS)]
        if read:
            looks[(width, scheme)] = (page.evaluate(SHOWN_LAZY_IMAGES_JS), page.evaluate(FIGURE_TEXT_JS), page.evaluate(LAYOUT_JS))
        whole = width == "desktop" and scheme == "light" and page_path in WHOLE_PAGE_SCREENSHOTS
        page.screenshot(path=SCREENSHOTS / f"{name}{suffix}.png", full_page=whole)
        result.screenshots.append(f"{name}{suffix}.png")

    try:
        response = page.goto(result.url, wait_until="networkidle")
        # networkidle can come before a large notebook page has parsed its closing scripts (KaTeX):
        # wait for the load event too, or the math is inspected before it is typeset (a flake).
        page.wait_for_load_state("load")
        result.status = response.status if response else None
        page.evaluate(LOAD_IMAGES_JS, True)  # what a reader who scrolls through loads
        cold, cold_lazy = list(responses), set(page.evaluate(SHOWN_LAZY_IMAGES_JS))
        result.responses = [(r.url, r.status, body_size(r)) for r in cold]
        result.resource_types = [r.request.resource_type for r in cold]
        page.evaluate(LOAD_IMAGES_JS, False)  # every image, both schemes' figures: the image and contrast checks
        result.inspection = page.evaluate(INSPECT_JS)
        for suffix in ("", "-dark"):
            scheme = page.evaluate(SCHEME_JS)
            result.schemes.append(scheme)
            result.figures[scheme] = page.evaluate(FIGURES_JS, MIN_CONTRAST)
            result.axe[scheme] = run_axe(page)
            look("desktop", suffix)
            if not suffix:
                toggle_scheme(page)
        page.set_viewport_size(PHONE)
        page.evaluate(LOAD_IMAGES_JS, False)  # the narrow variants
        for suffix in ("-390-dark", "-390"):
            result.phone[page.evaluate(SCHEME_JS)] = page.evaluate(PHONE_JS)
            look("phone", suffix)
            if suffix == "-390-dark":
                toggle_scheme(page)  # back to light, at 390 px: the toggle works both ways
        result.schemes.append(page.evaluate(SCHEME_JS))
        images = {r.url: r for r in responses if r.request.resource_type == "image"}
        kept = [(url, kind, size) for (url, _, size), kind in zip(result.responses, result.resource_types, strict=True)
                if url not in cold_lazy]  # fmt: skip
        for view, (lazy, figures, layout) in looks.items():
            weighed = kept + [(url, "image", served_size(images[url])) for url in dict.fromkeys(lazy)]
            result.readings[view] = Reading(weighed, figures, layout)
    finally:
        context.close()
    return result


@pytest.fixture(scope="module")
def served_site(built_site: BuiltSite) -> Iterator[str]:
    with serve(built_site.directory, urlsplit(SITE_URL).path) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def in_parallel_browsers(chromium: str, items: list[Item], work: Callable[[Browser, Item], Result]) -> dict[Item, Result]:
    """`work(browser, item)` for every item, in the items' order, shared out over PARALLEL_BROWSERS
    threads with a browser each (Playwright's sync API is one per thread).

    A page visit spends much of its time waiting (for the network to be idle, for axe): the
    other browser fills that time. Each visit still opens a fresh context of its own.
    """

    def share(part: list[Item]) -> dict[Item, Result]:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                return {item: work(browser, item) for item in part}
            finally:
                browser.close()

    parts = [items[i::PARALLEL_BROWSERS] for i in range(PARALLEL_BROWSERS)]
    with ThreadPoolExecutor(max_workers=PARALLEL_BROWSERS) as pool:
        done = {item: result for part in pool.map(share, parts) for item, result in part.items()}
    return {item: done[item] for item in items}


@pytest.fixture(scope="module")
def visits(chromium: str, served_site: str, built_site: BuiltSite) -> dict[str, Visit]:
    """Every page of the site, plus a missing one (the 404 page), visited once (two at a time,
    `in_parallel_browsers`); the report written."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    REPORT.unlink(missing_ok=True)
    pages = site_pages(built_site.directory) + [MISSING_PAGE]
    result = in_parallel_browsers(chromium, pages, lambda browser, page: visit(browser, served_site, page))
    report = {
        "server": urlsplit(served_site).netloc,
        "hosts": sorted({host for v in result.values() for host in v.hosts}),
        "bytes_are": "response bodies of a cold load (a fresh browser context per page), "
        "as served by Python's http.server: uncompressed",
        "pages": [
            {"page": v.page, "status": v.status, "bytes": v.bytes, "requests": len(v.responses), "hosts": v.hosts,
             "chapter": v.chapter, "notebook": v.inspection["notebook"],
             "budget_bytes": CHAPTER_BUDGET_BYTES if v.is_chapter_page else None, "bytes_by_type": v.bytes_by_type,
             "screenshots": v.screenshots, "figures": v.figures, "axe": v.axe, "phone": v.phone,
             "readings": [{"width": width, "scheme": scheme, "bytes": r.bytes, "by_type": r.by_type(), "figures": r.figures}
                          for (width, scheme), r in v.readings.items()],
             "responses": v.responses, "blocked": v.blocked}
            for v in result.values()
        ],
    }  # fmt: skip
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return result


def failures(visits: dict[str, Visit], check: Callable[[Visit], object]) -> dict[str, object]:
    """The pages for which `check(visit)` returns something truthy, with what it returned."""
    return {page: found for page, v in visits.items() if (found := check(v))}


def _cancelled_image(request: Request) -> bool:
    """An image the browser itself stopped loading: a `<picture>` source it no longer needs once the
    test resizes the page between desktop and phone width. Not a missing file: the server answered
    nothing wrong (a 404 or any other status still fails through the responses)."""
    return request.resource_type == "image" and request.failure == "net::ERR_ABORTED"


def test_every_page_of_the_site_is_visited(visits: dict[str, Visit], built_site: BuiltSite) -> None:
    sitemap = (built_site.directory / "sitemap.xml").read_text(encoding="utf-8")
    in_sitemap = {urlsplit(url).path.removeprefix(urlsplit(SITE_URL).path) for url in re.findall(r"<loc>(.*?)</loc>", sitemap)}
    assert in_sitemap <= set(visits), "pages in sitemap.xml that have no index.html"
    assert {"", "simplified-attention/", MISSING_PAGE} <= set(visits)


def test_every_request_goes_to_the_local_server_only(visits: dict[str, Visit], served_site: str) -> None:
    server = urlsplit(served_site).netloc
    assert server.startswith("127.0.0.1:")
    assert not failures(visits, lambda v: v.blocked), "requests for other hosts (blocked)"
    assert not failures(visits, lambda v: [h for h in v.hosts if h != server])


def test_every_resource_answers_200(visits: dict[str, Visit]) -> None:
    def not_ok(v: Visit) -> list:
        document = v.url if v.page == MISSING_PAGE else None  # the missing page itself answers 404
        return v.failed + [(url, status) for url, status, _ in v.responses if status != 200 and url != document]

    assert not failures(visits, not_ok)
    assert not failures(visits, lambda v: v.status != (404 if v.page == MISSING_PAGE else 200) and f"{v.status}")


def test_no_console_errors(visits: dict[str, Visit]) -> None:
    missing_document = f"the server responded with a status of 404 (Not Found) (at {visits[MISSING_PAGE].url})"
    assert not failures(visits, lambda v: [e for e in v.console_errors if not e.endswith(missing_document)])


def test_math_is_typeset_by_katex(visits: dict[str, Visit]) -> None:
    assert not failures(visits, lambda v: v.inspection["untypeset"]), "arithmatex elements without .katex"
    assert not failures(visits, lambda v: v.inspection["katexErrors"]), "KaTeX could not parse"
    assert not failures(visits, lambda v: v.inspection["rawMath"]), "raw math delimiters left in the text"
    with_math = {page for page, v in visits.items() if v.inspection["katex"]}
    assert "simplified-attention/" in with_math
    assert not failures(visits, lambda v: v.inspection["arithmatex"] and not v.inspection["katex"])


def test_every_image_has_loaded(visits: dict[str, Visit]) -> None:
    assert not failures(visits, lambda v: [i["src"] for i in v.inspection["images"] if not i["naturalWidth"]])


def test_figures_are_readable_in_light_and_dark(visits: dict[str, Visit]) -> None:
    assert not failures(visits, lambda v: v.schemes != ["default", "slate", "default"]), "the palette toggle"
    assert not failures(visits, lambda v: [
        (scheme, figure) for scheme, figures in v.figures.items() for figure in figures if not figure["readable"]])  # fmt: skip


def test_chapter_pages_stay_under_the_weight_budget(visits: dict[str, Visit]) -> None:
    chapter_visits = {page: v for page, v in visits.items() if v.is_chapter_page}
    assert "simplified-attention/" in chapter_visits
    assert not failures(chapter_visits, lambda v: v.bytes > CHAPTER_BUDGET_BYTES and v.bytes_by_type)
    assert all(v.bytes > 0 for v in visits.values())


def katex_requests(v: Visit) -> list[str]:
    return [url for url, _, _ in v.responses if KATEX_FILES.search(urlsplit(url).path)]


def test_no_code_block_scrolls_sideways_on_a_desktop(visits: dict[str, Visit]) -> None:
    """At 1366 px every code block a page writes fits its box (tests/test_docs_teaching.py keeps
    lines to 80 characters). The API pages' source listings are the package's own files: left out."""
    written = {page: v for page, v in visits.items() if not page.startswith("reference/") and not v.inspection["notebook"]}
    assert "multihead-attention/" in written
    assert not failures(written, lambda v: v.inspection["codeBlocksScrolling"])


def test_bold_matrices_are_drawn_bold(visits: dict[str, Visit]) -> None:
    """Every chapter writes its matrices bold; Chromium shows them bold only as Unicode's mathematical
    bold letters, which the build writes (no mathvariant="bold", which MathML Core ignores)."""
    chapter_visits = {page: v for page, v in visits.items() if v.chapter is not None}  # and their notebooks
    assert not failures(visits, lambda v: v.inspection["mathBoldVariant"])
    assert len(chapter_visits) >= 10
    assert not failures(chapter_visits, lambda v: v.inspection["mathBoldLetters"] < 5 and f"{v.inspection['mathBoldLetters']} bold letters")


def test_math_is_mathml_written_at_build_time_and_no_page_loads_katex(visits: dict[str, Visit]) -> None:
    """Every page's math, notebook pages' included, is MathML that KaTeX wrote at build time
    (hooks/site.py): no page loads a KaTeX script, stylesheet or font, nor MathJax."""
    with_math = {page: v for page, v in visits.items() if v.inspection["katex"]}
    assert {"simplified-attention/", "notebooks/simplified-attention/"} <= set(with_math)
    assert not failures(with_math, lambda v: v.inspection["mathml"] < v.inspection["katex"]), "MathML"
    assert not failures(visits, katex_requests), "a KaTeX script, stylesheet or font"
    assert not failures(visits, lambda v: v.inspection["katexScripts"]), "a KaTeX script"
    assert not failures(visits, lambda v: v.inspection["mathjaxScripts"]), "a leftover MathJax script"


def test_no_serious_or_critical_accessibility_violations(visits: dict[str, Visit]) -> None:
    """axe-core on every page, light and dark. Exempt rules are listed, each with its reason."""
    assert not failures(visits, lambda v: set(v.axe) != {"default", "slate"}), "audited in both schemes"

    def serious(v: Visit) -> dict:
        return {scheme: [x for x in found if x["impact"] in AXE_FAILING_IMPACTS and x["rule"] not in AXE_EXEMPT_RULES]
                for scheme, found in v.axe.items()
                if any(x["impact"] in AXE_FAILING_IMPACTS and x["rule"] not in AXE_EXEMPT_RULES for x in found)}  # fmt: skip

    assert not failures(visits, serious)
    # Moderate and minor findings once fixed stay fixed (a table's corner header names its first column).
    fixed = {"heading-order", "landmark-unique", "aria-dialog-name", "scrollable-region-focusable", "empty-table-header"}
    assert not failures(visits, lambda v: [(s, x["rule"]) for s, f in v.axe.items() for x in f if x["rule"] in fixed])


def test_on_a_phone_code_scrolls_and_tables_keep_identifiers_whole(visits: dict[str, Visit]) -> None:
    assert not failures(visits, lambda v: set(v.phone) != {"default", "slate"})
    phone = {f"{page} ({scheme})": layout for page, v in visits.items() for scheme, layout in v.phone.items()}
    assert all(layout["viewportWidth"] == PHONE["width"] for layout in phone.values())
    assert not {k: l["pageWidth"] for k, l in phone.items() if l["pageWidth"] > l["viewportWidth"]}, "sideways scroll"
    assert not {k: l["wrappedCode"] for k, l in phone.items() if l["wrappedCode"]}, "code lines wrapped"
    assert not {k: l["coveredCode"] for k, l in phone.items() if l["coveredCode"]}, "the copy button covers code"
    assert not {k: l["brokenIdentifiers"] for k, l in phone.items() if l["brokenIdentifiers"]}
    assert not {k: l["tablesPastTheScreen"] for k, l in phone.items() if l["tablesPastTheScreen"]}
    # A table wider than the phone scrolls inside its frame, and the keyboard can scroll it too.
    assert any(l["tablesScrolling"] for l in phone.values()), "some table scrolls: the check below is live"
    assert not {k: l["tablesScrollingOutOfKeyboardReach"] for k, l in phone.items() if l["tablesScrollingOutOfKeyboardReach"]}
    assert any(l["tables"] for k, l in phone.items() if k.startswith("reference/self-attention/")), "checked"
    # A notebook figure wider than the phone scrolls in a focusable box with a visible cue under it.
    assert any(l["figuresScrolling"] for l in phone.values()), "some figure scrolls: the check below is live"
    assert not {k: l["figuresScrollingWithoutCue"] for k, l in phone.items() if l["figuresScrollingWithoutCue"]}
    assert not {k: l["figuresCuedWithoutScrolling"] for k, l in phone.items() if l["figuresCuedWithoutScrolling"]}


def test_the_site_says_where_it_comes_from(visits: dict[str, Visit]) -> None:
    pages = {page: v for page, v in visits.items() if page != MISSING_PAGE}
    repo_url = "https://github.com/attention-lab/attention-lab"  # mkdocs.yml's default REPO_URL
    assert not failures(visits, lambda v: v.inspection["repoLink"] != repo_url and v.inspection["repoLink"])
    # A plain link: Material's "source" component would ask the GitHub API for stars and forks.
    assert not failures(visits, lambda v: v.inspection["repoLinkScripted"])
    assert visits["simplified-attention/"].inspection["editLink"] == f"{repo_url}/edit/main/docs/simplified-attention.md"
    assert visits["notebooks/self-attention/"].inspection["editLink"] == f"{repo_url}/edit/main/docs/self-attention.md"
    assert visits["reference/"].inspection["editLink"] == f"{repo_url}/edit/main/docs/reference/index.md"

    def footer(v: Visit) -> object:
        links = v.inspection["footerLinks"]
        wanted = [f"{repo_url}/blob/main/LICENSE", SITE_LOCAL_PATH_SUFFIX]
        missing = [w for w in wanted if not any(link.endswith(w) or link == w for link in links)]
        return missing or ("MIT License" not in v.inspection["footer"] and v.inspection["footer"])

    assert not failures(visits, footer)
    assert not failures(visits, lambda v: not (v.inspection["favicon"] or "").endswith("/assets/favicon.svg"))
    assert not failures(visits, lambda v: not (v.inspection["logo"] or {}).get("naturalWidth"))
    # The test build's own site_url is on 127.0.0.1 (notebooks link back to it): any other local
    # address, such as `make serve`'s http://127.0.0.1:8000/, must not be a live link.
    local = lambda v: [link for link in v.inspection["localServerLinks"] if not link.startswith(SITE_URL)]
    assert not failures(pages, local), "a live link to a local address"


SITE_LOCAL_PATH_SUFFIX = "/reproducibility/"  # the footer's "where the numbers come from" link


def test_the_api_reference_index_shows_its_pages_before_any_example(visits: dict[str, Visit]) -> None:
    assert visits["reference/"].inspection["firstTableBeforeFirstCode"] is True


def test_code_blocks_have_copy_buttons(visits: dict[str, Visit]) -> None:
    assert not failures(visits, lambda v: v.inspection["codeBlocksWithoutCopy"])
    assert not failures(visits, lambda v: v.chapter and not v.inspection["codeBlocks"]), "a chapter without code"


def test_the_404_page_is_materials_with_its_assets(visits: dict[str, Visit], served_site: str) -> None:
    missing = visits[MISSING_PAGE]
    assert missing.status == 404
    assert missing.inspection["h1"] == "404 - Not found"
    assert served_site.rstrip("/") + "/" in missing.inspection["homeLinks"], "the 404 page links home"
    loaded = {urlsplit(url).path for url, status, _ in missing.responses if status == 200}
    assert any(re.search(r"/assets/stylesheets/main\.[0-9a-f]+\.min\.css$", path) for path in loaded)
    assert any(re.search(r"/assets/javascripts/bundle\.[0-9a-f]+\.min\.js$", path) for path in loaded)


def numbered_sections(toc: list[dict]) -> list[tuple[str, int]]:
    """The numbered entries of a table of contents, with their nesting depth (1 = top level)."""
    return [(match.group(1), entry["depth"]) for entry in toc if (match := SECTION_NUMBER.match(entry["text"]))]


def test_chapter_tables_of_contents_follow_the_seed_numbering(visits: dict[str, Visit]) -> None:
    def wrong(v: Visit) -> object:
        if v.chapter is None:
            return None
        found = numbered_sections(v.inspection["toc"])
        # A chapter the seed does not have: its sections at least carry its number, nested by it.
        expected = SEED_NUMBERING.get(v.chapter) or [n for n, _ in found if n.startswith(f"{v.chapter}.")]
        expected_with_depth = [(number, number.count(".")) for number in expected]
        return None if found == expected_with_depth else {"found": found, "expected": expected_with_depth}

    assert not failures(visits, wrong)
    assert visits["simplified-attention/"].chapter == 1


def test_search_finds_softmax_and_shows_math_as_text(browser: Browser, served_site: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(served_site, wait_until="networkidle")
        page.keyboard.press("/")  # Material's shortcut: focus the search box
        page.keyboard.type("softmax")
        results = page.locator(".md-search-result__item")
        results.first.wait_for()
        assert results.count() > 0
        assert "softmax" in results.first.inner_text().lower()
        shown = page.locator(".md-search-result").inner_text()
        assert not re.search(r"\\[a-zA-Z]+|\\[()\[\]]", shown), "raw LaTeX in the search results"
        assert "√" in shown, "the scaled formula reads as text (hooks/site.py)"
    finally:
        context.close()


FIRST_RESULT_JS = """(word) => {
  const first = document.querySelector(".md-search-result__item");
  const links = first ? [...first.querySelectorAll("a")] : [];
  // Material adds ?h=<query> to the links of the results: these are this word's, not the last one's.
  if (!links.some((a) => a.href.includes("h=" + encodeURIComponent(word)))) return null;
  return links.slice(0, 2).map((a) => { const url = new URL(a.href); return url.pathname + url.hash; });
}"""


def test_search_offers_the_teaching_section_first_for_each_topic_word(browser: Browser, served_site: str) -> None:
    """A reader who searches a topic word ("causal", "softmax", "mask") is first offered the
    chapter section that teaches it, not an API entry, an exercise or a later chapter's use."""
    topics = search_topics()
    assert len(topics) >= 8
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(served_site, wait_until="networkidle")
        page.keyboard.press("/")
        box = page.locator("input.md-search__input")
        first: dict[str, list[str]] = {}
        for word in topics:
            box.fill("")
            page.keyboard.type(word)
            first[word] = page.wait_for_function(FIRST_RESULT_JS, arg=word).json_value()
        # The first result is the chapter's page; the first section under it is the teaching one.
        base = urlsplit(served_site).path
        offered = {word: links[-1].removeprefix(base) for word, links in first.items()}
        assert {w: o for w, o in offered.items() if o != topics[w]} == {}, topics
    finally:
        context.close()


def test_the_home_page_first_screen_says_what_you_learn_and_where_to_start(browser: Browser, served_site: str) -> None:
    for viewport in (DESKTOP, PHONE):
        context = browser.new_context(viewport=viewport)
        try:
            page = context.new_page()
            page.goto(served_site, wait_until="networkidle")
            first_screen = page.evaluate("""() => {
              const hero = document.querySelector(".al-hero");
              const button = [...document.querySelectorAll("a.md-button--primary")]
                .find((a) => a.textContent.trim() === "Start with chapter 1");
              const image = [...(hero?.querySelectorAll("img") || [])].find((img) => img.checkVisibility());
              const lead = hero?.querySelector(".al-hero__lead p")?.textContent.replace(/\\s+/g, " ").trim() || "";
              return { sentences: lead.split(/(?<=[.!?])\\s+/).filter(Boolean).length,
                       button: button && { href: button.href, bottom: button.getBoundingClientRect().bottom },
                       image: image && { src: image.currentSrc, top: image.getBoundingClientRect().top },
                       height: window.innerHeight };
            }""")
            assert first_screen["sentences"] == 2, first_screen
            assert first_screen["button"]["href"] == served_site + "simplified-attention/"
            assert first_screen["button"]["bottom"] <= first_screen["height"], f"the call to action below the fold at {viewport}"
            assert "/figures/simplified-attention/weight-heatmap" in first_screen["image"]["src"]
            if viewport is DESKTOP:
                assert first_screen["image"]["top"] < first_screen["height"], "the picture on the first screen"
        finally:
            context.close()


# Run the copied text in a fresh interpreter, as if pasted into `python`: an interactive console
# that prints the value of each expression statement, exactly as doctest compares it.
RUN_PASTED = """
import code, contextlib, io, sys
console = code.InteractiveConsole()
out = io.StringIO()
with contextlib.redirect_stdout(out):
    for line in sys.stdin.read().splitlines() + [""]:
        console.push(line)
sys.stdout.write(out.getvalue())
"""


def test_the_copy_button_copies_runnable_code(browser: Browser, served_site: str) -> None:
    """Click the copy button of the first doctest block; the clipboard holds code alone, and it runs."""
    context = browser.new_context(viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served_site)
    try:
        page = context.new_page()
        page.goto(served_site + "simplified-attention/", wait_until="networkidle")
        block = page.locator(".highlight pre").first
        shown = block.locator("code").inner_text()
        assert shown.startswith(">>> "), "the page opens with a doctest block"
        block.hover()
        block.locator("button[data-md-type='copy']").click()  # Material's ClipboardJS code path
        copied = page.evaluate("navigator.clipboard.readText()")
    finally:
        context.close()
    assert copied and not re.search(r"^(>>>|\.\.\.)( |$)", copied, re.MULTILINE), copied
    expected = "\n".join(line for line in shown.splitlines() if line and not line.startswith((">>>", "...")))
    assert expected and expected not in copied, "printed outputs are not copied"
    ran = subprocess.run([sys.executable, "-c", RUN_PASTED], input=copied, capture_output=True, text=True,
                         cwd=ROOT, timeout=120, check=False)  # fmt: skip
    assert ran.returncode == 0 and "Traceback" not in ran.stdout + ran.stderr, ran.stdout + ran.stderr
    assert ran.stdout.split() == expected.split(), "the pasted code prints what the page shows"


# The chapter and notebook pages as read at both widths in both schemes (`Reading`).


def readings(visits: dict[str, Visit]) -> dict[tuple[str, str, str], Reading]:
    """Every reading, by (page, width, scheme); every chapter and notebook page read in all four ways."""
    found = {(page, width, scheme): r for page, v in visits.items() for (width, scheme), r in v.readings.items()}
    wanted = {(page, width, scheme) for page in CHAPTER_PAGES + NOTEBOOK_PAGES
              for width in ("desktop", "phone") for scheme in ("light", "dark")}  # fmt: skip
    assert CHAPTER_PAGES and set(found) == wanted
    return found


def test_notebook_pages_weigh_at_most_the_budget(visits: dict[str, Visit]) -> None:
    read = readings(visits)
    heavy = {key: (r.bytes, r.by_type()) for key, r in read.items() if key[0] in NOTEBOOK_PAGES and r.bytes > NOTEBOOK_BUDGET_BYTES}
    assert not heavy
    assert all(r.bytes > 0 for r in read.values())
    # A dark reader downloads the dark figures, not the light ones.
    dark = read[(NOTEBOOK_PAGES[0], "desktop", "dark")]
    assert any(url.endswith("-dark.svg") for url, _, _ in dark.responses)
    assert not any(url.endswith(".svg") and "/figures/" in url and not url.endswith("-dark.svg") for url, _, _ in dark.responses)


def test_notebook_pages_look_like_the_site(visits: dict[str, Visit]) -> None:
    read = readings(visits)
    for page in NOTEBOOK_PAGES:
        layout = read[(page, "desktop", "light")].layout
        assert not layout["jupyterlabCss"] and layout["inlineStyles"] == 0, page
        assert layout["codeCells"] > 10 and layout["materialCode"] == layout["codeCells"], page
        assert layout["copyButtons"] == layout["codeCells"], page  # Material's copy button on every cell
        assert layout["blockquotes"] == 0, page  # boxes become Material's admonitions, not quotes
        assert "%matplotlib" not in layout["text"] and "%pip" not in layout["text"], page  # plumbing hidden
        assert "Every code block on this page runs in the test suite" not in layout["text"], page
        assert "http://" not in layout["text"] and "https://" not in layout["text"], page  # link text is words
    assert sum(read[(page, "desktop", "light")].layout["admonitions"] for page in NOTEBOOK_PAGES) > 0


def test_notebook_pages_keep_their_nav_label(visits: dict[str, Visit], built_site: BuiltSite) -> None:
    """The nav's label (`Chapter <n> notebook`, hooks/chapters.py) is the title, not the notebook's heading."""
    read = readings(visits)
    nav = chapters.register_chapters(chapters.read_nav(ROOT / "mkdocs.yml"), ROOT / "docs")
    labels = {f"{page}/": label for item in chapters._section(nav, chapters.NOTEBOOK_SECTION) or []
              for label, page in item.items()}  # fmt: skip
    labels = {page.removesuffix(".ipynb/") + "/": label for page, label in labels.items()}
    for page in NOTEBOOK_PAGES:
        label = labels[page]
        assert read[(page, "desktop", "light")].layout["title"] == f"{label} - Attention Lab", page
        assert f"<title>{label} - Attention Lab</title>" in built_site.page(page)
    # The page after the last notebook (Reproducibility) names it by its label in "Previous".
    assert f'aria-label="Previous: {labels[NOTEBOOK_PAGES[-1]]}"' in built_site.page("reproducibility/")


def test_notebook_pages_on_a_phone(visits: dict[str, Visit]) -> None:
    read = readings(visits)
    for page in NOTEBOOK_PAGES:
        for scheme in ("light", "dark"):
            desktop, phone = read[(page, "desktop", scheme)].layout, read[(page, "phone", scheme)].layout
            assert desktop["visiblePrompts"] == desktop["prompts"] > 0, (page, scheme)
            assert phone["visiblePrompts"] == 0, (page, scheme)
            assert phone["pageOverflow"] <= 0 and not phone["overflowing"], (page, scheme, phone["overflowing"])
            assert phone["formulasOverflowing"] == 0, (page, scheme)
            assert phone["wrappingOutputs"] == 0 and phone["scrollingOutputs"] > 0, (page, scheme)  # tensors scroll, whole


def test_every_figure_has_readable_text_at_both_widths(visits: dict[str, Visit]) -> None:
    small = {}
    for (page, width, scheme), r in readings(visits).items():
        assert r.figures or page.startswith("notebooks/"), (page, width, scheme)
        for figure in r.figures:
            assert figure["texts"] > 0, figure
            if figure["smallestPx"] < MIN_TEXT_PX[width]:
                small[(page, width, scheme, figure["src"])] = round(figure["smallestPx"], 2)
    assert not small


def test_notebook_figures_have_the_chapters_alt_text_in_both_schemes(visits: dict[str, Visit]) -> None:
    """A notebook page shows the chapter page's image figures, in order, each with the chapter's
    alt text and the scheme's variant (drawn by the notebook's code, or, like chapter 5's
    benchmark plot, attached to its prose; diagrams drawn inline: tests/test_notebooks.py)."""
    read = readings(visits)
    shown = 0
    for chapter_page, notebook_page in zip(CHAPTER_PAGES, NOTEBOOK_PAGES, strict=True):
        for scheme in ("light", "dark"):
            chapter_alts = [f["alt"] for f in read[(chapter_page, "desktop", scheme)].figures]
            notebook = read[(notebook_page, "desktop", scheme)].figures
            alts = [f["alt"] for f in notebook]
            assert alts == chapter_alts, (notebook_page, scheme)
            files = [f["src"].split("#")[0] for f in notebook]
            assert all(name.endswith("-dark.svg") == (scheme == "dark") for name in files), (notebook_page, scheme, files)
            shown += len(alts)
    assert shown > 0
