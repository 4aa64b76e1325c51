"""MkDocs hook: the site's own finishing touches on top of Material.

- Figures load lazily (`loading="lazy"`): a page shows each figure once, for the colour
  scheme the reader has (Material hides the other variant with `display: none`), and a
  lazy image that is never displayed is never downloaded.
- Notebook pages: mkdocs-jupyter always writes a MathJax loader and a MathJax config script
  into the notebook's HTML; the site typesets with its own KaTeX (loaded once, by
  `overrides/main.html`), so both are removed.
- `page.meta["math"]` says whether a page has math, so `overrides/main.html` loads KaTeX's
  script, CSS and fonts only where there is something to typeset.
- The search index shows readable text for math (`√H`, `ω_ij`), not LaTeX source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

# mkdocs-jupyter's nbconvert template (base/mathjax.html.j2): the loader, then the config script.
_MATHJAX_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.DOTALL)
_IMG_WITHOUT_LOADING = re.compile(r"<img(?![^>]*\sloading=)(?=[\s/>])")
# Math as pymdownx.arithmatex (generic) leaves it, and as Jupyter Markdown cells keep it.
_ARITHMATEX = 'class="arithmatex"'
_NOTEBOOK_MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$\w])\$[^$\s][^$\n]*?(?<!\s)\$(?![\w$])", re.DOTALL)


def page_has_math(html: str, *, notebook: bool) -> bool:
    """Whether the rendered page holds math for KaTeX to typeset."""
    if _ARITHMATEX in html:
        return True
    return notebook and bool(_NOTEBOOK_MATH.search(re.sub(r"<pre.*?</pre>", "", html, flags=re.DOTALL)))


def on_page_content(html: str, page: Any, **_: Any) -> str:
    notebook = bool(getattr(page, "nb_url", None)) or page.file.src_uri.endswith(".ipynb")
    if notebook:
        html = _MATHJAX_BLOCK.sub("", html)
    page.meta["math"] = page_has_math(html, notebook=notebook)
    return _IMG_WITHOUT_LOADING.sub('<img loading="lazy"', html)


# LaTeX -> plain text for search results: the commands this site's formulas use.
_SYMBOLS = {
    r"\omega": "ω", r"\Omega": "Ω", r"\alpha": "α", r"\delta": "δ", r"\partial": "∂", r"\infty": "∞",
    r"\cdot": "·", r"\times": "×", r"\pm": "±", r"\in": "∈", r"\sum": "Σ", r"\dots": "…", r"\ldots": "…",
    r"\top": "ᵀ", r"\exp": "exp", r"\max": "max", r"\log": "log", r"\qquad": "  ", r"\quad": " ",
    r"\,": " ", r"\;": " ", r"\ ": " ", r"\!": "", r"\Big": "", r"\big": "", r"\left": "", r"\right": "",
}  # fmt: skip
_ONE_ARGUMENT = re.compile(r"\\(operatorname|mathrm|mathbf|text|tilde|mathbb|sqrt)\{([^{}]*)\}")
_FRACTION = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
_BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ"}
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
    return re.sub(r"\s+", " ", text).strip()


def readable_search_text(text: str) -> str:
    return _INLINE_OR_DISPLAY.sub(lambda m: readable_math(m.group(1) or m.group(2) or ""), text)


def on_post_build(config: Any, **_: Any) -> None:
    index = Path(config["site_dir"]) / "search" / "search_index.json"
    if not index.is_file():
        return
    data = json.loads(index.read_text(encoding="utf-8"))
    for document in data["docs"]:
        document["title"] = readable_search_text(document["title"])
        document["text"] = readable_search_text(document["text"])
    index.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
