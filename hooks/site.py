"""MkDocs hook: the site's own finishing touches on top of Material.

- Figures load lazily (`loading="lazy"`): a page shows each figure once, for the colour
  scheme the reader has (Material hides the other variant with `display: none`), and a
  lazy image that is never displayed is never downloaded.
- Notebook pages: mkdocs-jupyter always writes a MathJax loader and a MathJax config script
  into the notebook's HTML; the site's math is typeset at build time, so both are removed.
- Math is typeset at build time: the formulas pymdownx.arithmatex leaves (`\\(...\\)`,
  `\\[...\\]`, and `$...$` written inside HTML blocks such as figure captions), and the `$...$`
  a notebook page's Markdown cells keep (Jupyter's notation), are converted by the site's own
  KaTeX (docs/assets/katex/katex.min.js) running in an embedded V8 (the `mini-racer` package),
  after the search plugin has read the page, into MathML, which every current browser lays out
  natively and screen readers read. No page loads a KaTeX script, stylesheet or font (about
  170 KB less on chapter 2, and on each notebook page, where KaTeX's HTML also doubled the
  elements the browser lays out); a formula KaTeX cannot parse fails the build.
- The search index shows readable text for math (`√H`, `ω_ij`), not LaTeX source, and holds
  the prose, headings and inline code of each section but not its code blocks: results read
  as sentences, not `>>>` transcripts and source listings, and the index every page loads
  is about half as heavy.
- Search answers a topic word with the section that teaches it: a chapter lists its topic words
  in its front matter (`search_topics`, word -> section anchor), and that section's entry in
  the index gets the word as a tag, which Material's search ranks above any title or text
  match (and shows under the result). Without this, "causal" offered the exercises' API page
  first and "softmax" the online softmax of chapter 5. A topic word must occur in its
  section's title or text, and the section must exist, or the build fails.
- A doctest block is drawn as a console session, as the API reference draws its examples:
  a chapter writes ```` ```python ```` (what sybil runs and the notebooks turn into cells),
  and a block that starts with `>>>` is highlighted by Pygments' `pycon` lexer. The prompts
  are prompts and each printed line is one output span in the output colour, not Python
  tokens (the Python lexer marked `×` or `−` in a printed line as errors); a page holds about
  a fifth fewer elements, which the browser and the accessibility audit walk.
"""

from __future__ import annotations

import atexit
import html as html_lib
import json
import re
from pathlib import Path
from typing import Any

KATEX_JS = Path(__file__).resolve().parent.parent / "docs" / "assets" / "katex" / "katex.min.js"

# mkdocs-jupyter's nbconvert template (base/mathjax.html.j2): the loader, then the config script.
_MATHJAX_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.DOTALL)
_IMG_WITHOUT_LOADING = re.compile(r"<img(?![^>]*\sloading=)(?=[\s/>])")
# Math as pymdownx.arithmatex (generic) leaves it; raw `$...$` (a notebook's Markdown cells, an
# HTML block's) is found by has_raw_math below, with the pattern that typesets it.
_ARITHMATEX = 'class="arithmatex"'


def page_has_math(html: str) -> bool:
    """Whether the rendered page holds math for KaTeX to typeset."""
    return _ARITHMATEX in html or has_raw_math(html)


def _is_notebook(page: Any) -> bool:
    return bool(getattr(page, "nb_url", None)) or page.file.src_uri.endswith(".ipynb")


def on_page_content(html: str, page: Any, **_: Any) -> str:
    notebook = _is_notebook(page)
    if notebook:
        html = _MATHJAX_BLOCK.sub("", html)
    page.meta["math"] = page_has_math(html)
    return _IMG_WITHOUT_LOADING.sub('<img loading="lazy"', html)


# pymdownx.arithmatex (generic mode): inline `<span class="arithmatex">\(...\)</span>`,
# display `<div class="arithmatex">\[...\]</div>`, the TeX HTML-escaped.
_ARITHMATEX_ELEMENT = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*\\(?P<open>[(\[])(?P<tex>.*?)\\[)\]]\s*</(?P=tag)>', re.DOTALL
)


class _KaTeX:
    """KaTeX in an embedded V8, started on first use and closed at the end of the build."""

    def __init__(self) -> None:
        self._context: Any = None

    def render(self, tex: str, *, display: bool) -> str:
        if self._context is None:
            from py_mini_racer import (
                MiniRacer,  # the `mini-racer` package, pinned in requirements.lock
            )

            self._context = MiniRacer()
            self._context.eval(KATEX_JS.read_text(encoding="utf-8"))
        options = {"displayMode": display, "throwOnError": True, "output": "mathml"}
        mathml = str(self._context.call("katex.renderToString", tex, options))
        # MathML Core (what browsers implement) has no mathvariant but "normal": ℝ, not styled R,
        # and bold letters as Unicode's mathematical bold ones (𝐖, 𝛀), which Chromium shows bold.
        mathml = _DOUBLE_STRUCK.sub(lambda m: f"<mi>{_BLACKBOARD.get(m.group(1), m.group(1))}</mi>", mathml)
        mathml = _BOLD.sub(lambda m: f"<mi>{bold_letter(m.group(1))}</mi>", mathml)
        # The TeX source rides along as an invisible <annotation>: a second copy of every formula
        # that no reader sees and no screen reader reads (they read the MathML). Dropped.
        return _TEX_ANNOTATION.sub(r"\1", mathml)

    def close(self) -> None:
        if self._context is not None:
            self._context.close()  # an open V8 context keeps the interpreter from exiting
            self._context = None


_DOUBLE_STRUCK = re.compile(r'<mi mathvariant="double-struck">([A-Z])</mi>')
_BOLD = re.compile(r'<mi mathvariant="bold">([A-Za-zΑ-Ω])</mi>')
_TEX_ANNOTATION = re.compile(r'<semantics>(.*)<annotation encoding="application/x-tex">.*?</annotation></semantics>', re.DOTALL)


def bold_letter(letter: str) -> str:
    """The Unicode mathematical bold (upright) form of a Latin or capital Greek letter: W -> 𝐖."""
    if "A" <= letter <= "Z":
        return chr(0x1D400 + ord(letter) - ord("A"))
    if "a" <= letter <= "z":
        return chr(0x1D41A + ord(letter) - ord("a"))
    return chr(0x1D6A8 + ord(letter) - ord("Α"))  # Greek capitals, Alpha to Omega
_katex = _KaTeX()
atexit.register(_katex.close)


def _render_or_fail(tex: str, *, display: bool, where: str) -> str:
    try:
        return _katex.render(tex, display=display)
    except Exception as error:  # noqa: BLE001 (KaTeX's ParseError arrives as a JS error from V8)
        raise ValueError(f"{where}: KaTeX cannot typeset {tex!r}: {error}") from None


# Math written straight into HTML blocks (a <figcaption>, say), which arithmatex does not see:
# the delimiters KaTeX's auto-render would take, in text outside code, scripts and rendered math.
_RAW_MATH = re.compile(r"\$\$(?P<display>.+?)\$\$|\\\[(?P<display2>.+?)\\\]|\\\((?P<inline2>.+?)\\\)"
                       r"|(?<![\\$\w])\$(?P<inline>[^$\s](?:[^$]*?[^$\s])?)\$(?![\w$])", re.DOTALL)  # fmt: skip
_TAG = re.compile(r"(<[^>]*>)")
_NOT_PROSE = {"pre", "code", "script", "style", "textarea", "math", "svg"}


def _prose_segments(html: str) -> list[tuple[str, bool]]:
    """`html` cut at its tags: (piece, whether it is prose text that may hold raw math)."""
    pieces, skipping = [], 0
    for piece in _TAG.split(html):
        if piece.startswith("<"):
            name = re.match(r"</?\s*([A-Za-z0-9]+)", piece)
            if name and name.group(1).lower() in _NOT_PROSE and not piece.endswith("/>"):
                skipping = max(0, skipping + (-1 if piece.startswith("</") else 1))
            pieces.append((piece, False))
        else:
            pieces.append((piece, not skipping and not piece.isspace()))
    return pieces


def has_raw_math(html: str) -> bool:
    return any(prose and _RAW_MATH.search(html_lib.unescape(piece)) for piece, prose in _prose_segments(html))


def typeset(html: str, where: str) -> str:
    """Every formula of `html` as MathML, by KaTeX."""

    def render(match: re.Match[str]) -> str:
        tex = html_lib.unescape(match.group("tex")).strip()
        rendered = _render_or_fail(tex, display=match.group("open") == "[", where=where)
        return f'<{match.group("tag")} class="arithmatex">{rendered}</{match.group("tag")}>'

    def render_raw(match: re.Match[str]) -> str:
        display = match.group("display") or match.group("display2")
        tex = html_lib.unescape(display or match.group("inline") or match.group("inline2")).strip()
        rendered = _render_or_fail(tex, display=display is not None, where=where)
        # A display formula outside arithmatex's <div> (a notebook's $$...$$, a caption's) gets
        # KaTeX's own wrapper, a block that scrolls sideways (extra.css) rather than widen the page.
        return rendered if display is None else f'<span class="katex-display">{rendered}</span>'

    html = _ARITHMATEX_ELEMENT.sub(render, html)
    start, end = html.find("<article"), html.rfind("</article>")
    if start < 0 or end < 0:
        return html
    article = "".join(
        _RAW_MATH.sub(render_raw, piece) if prose and _RAW_MATH.search(piece) else piece
        for piece, prose in _prose_segments(html[start:end])
    )
    return html[:start] + article + html[end:]


def on_post_page(output: str, page: Any, **_: Any) -> str:
    """Typeset after the search plugin has read the page (it indexes the TeX, made readable below)."""
    if page.meta.get("math"):
        return typeset(output, page.file.src_uri)
    return output


def on_build_error(**_: Any) -> None:
    _katex.close()


# LaTeX -> plain text for search results: the commands this site's formulas use.
_SYMBOLS = {
    r"\omega": "ω", r"\Omega": "Ω", r"\alpha": "α", r"\delta": "δ", r"\partial": "∂", r"\infty": "∞",
    r"\cdot": "·", r"\times": "×", r"\pm": "±", r"\in": "∈", r"\sum": "Σ", r"\dots": "…", r"\ldots": "…",
    r"\top": "ᵀ", r"\exp": "exp", r"\max": "max", r"\log": "log", r"\qquad": "  ", r"\quad": " ",
    r"\ell": "ℓ", r"\le": "≤", r"\leq": "≤", r"\ge": "≥", r"\geq": "≥", r"\neq": "≠", r"\approx": "≈",
    r"\to": "→", r"\rightarrow": "→", r"\leftarrow": "←", r"\mapsto": "↦", r"\sigma": "σ", r"\tau": "τ",
    r"\lambda": "λ", r"\mu": "μ", r"\beta": "β", r"\gamma": "γ", r"\epsilon": "ε", r"\theta": "θ",
    r"\,": " ", r"\;": " ", r"\ ": " ", r"\!": "", r"\Big": "", r"\big": "", r"\left": "", r"\right": "",
}  # fmt: skip
_ONE_ARGUMENT = re.compile(r"\\(operatorname|mathrm|mathbf|text|tilde|mathbb|sqrt)\{([^{}]*)\}")
_FRACTION = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
_BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ"}
_INLINE_OR_DISPLAY = re.compile(r"\\\((.*?)\\\)|\\\[(.*?)\\\]", re.DOTALL)


def _one_argument(match: re.Match[str]) -> str:
    command, argument = match.groups()
    if command == "mathbb":
        return _BLACKBOARD.get(argument, argument)
    if command == "sqrt":
        return f"√{argument}" if len(argument) == 1 else f"√({argument})"
    return argument


def readable_math(latex: str) -> str:
    """A LaTeX formula as plain text: `\\frac{q K^\\top}{\\sqrt{H}}` -> `(q Kᵀ)/(√H)`."""
    text = latex
    for _ in range(4):  # nested braces resolve from the inside out
        text = re.sub(r"([_^])\{([^{}]*)\}", r"\1\2", text)  # x_{ij} -> x_ij, K^{(j)} -> K^(j)
        text = _ONE_ARGUMENT.sub(_one_argument, text)
        text = _FRACTION.sub(lambda m: f"({m.group(1).strip()})/({m.group(2).strip()})", text)
    for command in sorted(_SYMBOLS, key=len, reverse=True):
        text = re.sub(re.escape(command) + (r"(?![A-Za-z])" if command[-1].isalpha() else ""), _SYMBOLS[command], text)
    text = text.replace("^ᵀ", "ᵀ").replace("{", "").replace("}", "")
    text = re.sub(r"\\[,;:! ]", " ", text)  # LaTeX spacing commands
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text)  # any command not mapped above reads as its name
    return re.sub(r"\s+", " ", text).strip()


# Every page downloads the search index, so API entries are indexed by their name (the title)
# and the first sentence of their docstring; the whole docstring is one click away. Exercises are
# indexed by their title and first sentence: their hints and solutions stay out of the results.
API_PAGES = "reference/"
EXERCISE_TITLE = "Exercise "
SUMMARY_CHARACTERS = 160


def summary(text: str) -> str:
    """The first sentence of a search entry's text, at most `SUMMARY_CHARACTERS` long."""
    plain = re.sub(r"<[^>]+>", " ", text)
    plain = re.sub(r"\s+", " ", plain).strip()
    sentence = re.split(r"(?<=[.!?])\s", plain, maxsplit=1)[0]
    return sentence if len(sentence) <= SUMMARY_CHARACTERS else sentence[: SUMMARY_CHARACTERS - 1].rstrip() + "…"


_CODE_BLOCK = re.compile(r"\s*<pre\b.*?</pre>\s*", re.DOTALL)


def readable_search_text(text: str) -> str:
    """A search entry's text: math as plain text, code blocks left out."""
    text = _CODE_BLOCK.sub(" ", text).strip()
    return _INLINE_OR_DISPLAY.sub(lambda m: readable_math(m.group(1) or m.group(2) or ""), text)


# page URL -> {topic word: section anchor}, from the chapters' front matter, for this build.
_search_topics: dict[str, dict[str, str]] = {}
# A topic is one search term: Material splits queries at spaces and hyphens.
_TOPIC_WORD = re.compile(r"[a-z0-9_]+")


def on_pre_build(**_: Any) -> None:
    _search_topics.clear()  # `mkdocs serve` rebuilds in one process


# A ```python fence (at any indent, in a box too) whose first line is a doctest prompt.
_DOCTEST_FENCE = re.compile(r"^(?P<opening>[ \t]*(?:`{3,}|~{3,}))python(?P<rest>[ \t]*\n)(?=[ \t]*>>>(?: |$))", re.MULTILINE)


def console_fences(markdown: str) -> str:
    """`markdown` with each doctest block's ```` ```python ```` fence opened as ```` ```pycon ````."""
    return _DOCTEST_FENCE.sub(r"\g<opening>pycon\g<rest>", markdown)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if topics := page.meta.get("search_topics"):
        _search_topics[page.url] = dict(topics)
    return console_fences(markdown)


def tag_search_topics(documents: list[dict[str, Any]], topics: dict[str, dict[str, str]]) -> None:
    """Give each topic word, as a tag, to the index entry of the section that teaches it.

    Raises ValueError, naming the page, for a topic that is not one search term, a section
    that is not in the index, or a section whose title and text never use the word.
    """
    by_location = {document["location"]: document for document in documents}
    for url, words in topics.items():
        for word, anchor in words.items():
            where = f"search_topics of {url or 'the home page'}: {word!r} -> #{anchor}"
            if not _TOPIC_WORD.fullmatch(str(word)):
                raise ValueError(f"{where}: a topic is one lower-case search term (letters, digits, _), got {word!r}")
            document = by_location.get(f"{url}#{anchor}")
            if document is None:
                raise ValueError(f"{where}: no section with that anchor in the search index")
            words_there = set(_TOPIC_WORD.findall(f"{document['title']} {document['text']}".lower()))
            if word not in words_there:
                raise ValueError(f"{where}: the section's title and text never use the word")
            document.setdefault("tags", []).append(word)


def on_post_build(config: Any, **_: Any) -> None:
    _katex.close()
    index = Path(config["site_dir"]) / "search" / "search_index.json"
    if not index.is_file():
        return
    data = json.loads(index.read_text(encoding="utf-8"))
    tag_search_topics(data["docs"], _search_topics)
    for document in data["docs"]:
        document["title"] = readable_search_text(document["title"])
        document["text"] = readable_search_text(document["text"])
        if document["location"].startswith(API_PAGES) or document["title"].startswith(EXERCISE_TITLE):
            document["text"] = summary(document["text"])
    index.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
