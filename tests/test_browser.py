"""The built site in a real browser: every page, offline, typeset, light and dark.

The strict build (`built_site`) is served on 127.0.0.1 under its project path
(`/attention-lab/`, as GitHub Pages serves it) and every page of it, found from
its `index.html` files, so pages added later are checked too, is loaded in
headless Chromium, each in a fresh browser context (a cold cache, so the bytes
counted are what a first-time reader downloads). Any request for another host
is blocked and recorded. Screenshots land in `build/screenshots/`, the requests
and bytes of every page in `build/browser-report.json`; the terminal summary
prints the page weights (see `tests/conftest.py`).

No browser: the test skips with a loud message, except under `CI=true`, where
it fails: CI can install Chromium (`scripts/install-browser.sh`, which
`make test` runs), so a skip there would hide that nothing was checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Route, sync_playwright

from .conftest import ROOT, SITE_URL, BuiltSite
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

# The numbering of each chapter's sections in the seed document, plus the closing Exercises
# section (1.3, 2.4) of issue 9. A page is a chapter
# when its title is numbered ("2. The 'self' in self-attention"), so chapter 2 is
# checked once its page exists, and the notebook of a chapter is checked too.
SEED_NUMBERING = {
    1: ["1.1", "1.1.1", "1.1.2", "1.1.3", "1.2", "1.2.1", "1.2.2", "1.2.3", "1.3"],
    2: [
        "2.1",
        "2.2", "2.2.1", "2.2.2", "2.2.3", "2.2.4", "2.2.5", "2.2.6",
        "2.3", "2.3.2", "2.3.3", "2.3.4", "2.3.5",
        "2.4",
    ],
}  # fmt: skip
CHAPTER_TITLE = re.compile(r"^(\d+)\.\s")
SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)+)\s")
CHAPTER_BUDGET_BYTES = 1_500_000  # 1.5 MB a chapter page (not its notebook), everything it loads included
MISSING_PAGE = "no/such/page/"  # nested, so the 404 page's absolute links are put to the test
MIN_CONTRAST = 3.0  # WCAG 2 minimum for graphics against their background

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
  };
}"""

# Load every image now, lazy ones included, and wait until each has loaded or failed.
LOAD_IMAGES_JS = """() => Promise.all([...document.images].map((img) => {
  img.loading = "eager";
  return img.complete ? null : new Promise((done) => { img.onload = img.onerror = done; });
}))"""

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


@dataclass
class Visit:
    """What one page did in the browser."""

    page: str
    url: str
    status: int | None = None
    responses: list[tuple[str, int, int]] = field(default_factory=list)  # (url, status, bytes)
    failed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # requests for another host, refused
    console_errors: list[str] = field(default_factory=list)
    schemes: list[str] = field(default_factory=list)  # body[data-md-color-scheme], before and after each toggle
    figures: dict[str, list[dict]] = field(default_factory=dict)  # by scheme
    screenshots: list[str] = field(default_factory=list)
    inspection: dict = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self.responses)

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


def visit(browser: Browser, base_url: str, page_path: str) -> Visit:
    """Load one page cold, inspect it, toggle the palette to dark and back, screenshot both."""
    result = Visit(page_path, base_url + page_path)
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(base_url))
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    responses = []

    def block(route: Route) -> None:
        result.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    context.route(lambda url: not url.startswith(origin), block)
    context.on("response", lambda response: responses.append(response))
    context.on("requestfailed", lambda request: request.url.startswith(origin) and result.failed.append(
        f"{request.url}: {request.failure}"))  # fmt: skip
    try:
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and result.console_errors.append(
            f"{message.text} (at {message.location.get('url')})"))  # fmt: skip
        page.on("pageerror", lambda error: result.console_errors.append(f"uncaught: {error}"))
        response = page.goto(result.url, wait_until="networkidle")
        # networkidle can come before a large notebook page has parsed its closing scripts (KaTeX):
        # wait for the load event too, or the math is inspected before it is typeset (a flake).
        page.wait_for_load_state("load")
        result.status = response.status if response else None
        page.evaluate(LOAD_IMAGES_JS)
        page.wait_for_load_state("networkidle")
        result.inspection = page.evaluate(INSPECT_JS)
        result.responses = [(r.url, r.status, len(r.body()) if r.status < 300 or r.status >= 400 else 0)
                            for r in responses]  # fmt: skip
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = screenshot_name(page_path)
        scheme = "document.body.getAttribute('data-md-color-scheme')"
        for suffix in ("", "-dark"):
            result.schemes.append(page.evaluate(scheme))
            result.figures[result.schemes[-1]] = page.evaluate(FIGURES_JS, MIN_CONTRAST)
            page.screenshot(path=SCREENSHOTS / f"{name}{suffix}.png", full_page=True)
            result.screenshots.append(f"{name}{suffix}.png")
            page.locator('[data-md-component="palette"] label:visible').click()
            page.wait_for_function(f"{scheme} !== {json.dumps(result.schemes[-1])}")
        result.schemes.append(page.evaluate(scheme))
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


@pytest.fixture(scope="module")
def visits(browser: Browser, served_site: str, built_site: BuiltSite) -> dict[str, Visit]:
    """Every page of the site, plus a missing one (the 404 page), visited once; the report written."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    REPORT.unlink(missing_ok=True)
    pages = site_pages(built_site.directory) + [MISSING_PAGE]
    result = {page: visit(browser, served_site, page) for page in pages}
    report = {
        "server": urlsplit(served_site).netloc,
        "hosts": sorted({host for v in result.values() for host in v.hosts}),
        "bytes_are": "response bodies of a cold load (a fresh browser context per page), "
        "as served by Python's http.server: uncompressed",
        "pages": [
            {"page": v.page, "status": v.status, "bytes": v.bytes, "requests": len(v.responses), "hosts": v.hosts,
             "chapter": v.chapter, "notebook": v.inspection["notebook"],
             "budget_bytes": CHAPTER_BUDGET_BYTES if v.is_chapter_page else None, "screenshots": v.screenshots, "figures": v.figures,
             "responses": v.responses, "blocked": v.blocked}
            for v in result.values()
        ],
    }  # fmt: skip
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return result


def failures(visits: dict[str, Visit], check: Callable[[Visit], object]) -> dict[str, object]:
    """The pages for which `check(visit)` returns something truthy, with what it returned."""
    return {page: found for page, v in visits.items() if (found := check(v))}


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
    chapters = {page: v for page, v in visits.items() if v.is_chapter_page}
    assert "simplified-attention/" in chapters
    assert not failures(chapters, lambda v: v.bytes > CHAPTER_BUDGET_BYTES and v.bytes)
    assert all(v.bytes > 0 for v in visits.values())


def test_code_blocks_have_copy_buttons(visits: dict[str, Visit]) -> None:
    assert not failures(visits, lambda v: v.inspection["codeBlocksWithoutCopy"])
    assert not failures(visits, lambda v: v.chapter and not v.inspection["codeBlocks"]), "a chapter without code"


def test_the_404_page_is_materials_with_its_assets(visits: dict[str, Visit]) -> None:
    missing = visits[MISSING_PAGE]
    assert missing.status == 404
    assert missing.inspection["h1"] == "404 - Not found"
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


def test_search_finds_softmax(browser: Browser, served_site: str) -> None:
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
    finally:
        context.close()
