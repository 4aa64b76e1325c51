"""MkDocs hook: the notebook pages of the site, mkdocs-jupyter's HTML made to look like the rest of it.

mkdocs-jupyter renders each notebook with JupyterLab's markup, ~600 KB of inlined JupyterLab
CSS and its own code colours. `on_page_content` rewrites that HTML: no inlined CSS (a small
stylesheet of ours, docs/stylesheets/notebook.css, loaded by overrides/notebook.html), code
cells as Material code blocks (its highlighting, both schemes, its copy button), boxes as
Material admonitions, the set-up cell left out, figures as light and dark SVG files with
the chapter's alt text. No math script is kept: hooks/site.py (which runs first) drops
mkdocs-jupyter's MathJax loader, and the math is typeset at build time.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.pages import Page

try:  # `python -m mkdocs` from the repository root, and the tests
    from hooks import _notebook_runs
    from hooks.chapters import NOTEBOOK_DIR
    from hooks.notebooks import METADATA_KEY, NOTEBOOK_ONLY, page_diagram
except ImportError:  # the `mkdocs` script: MkDocs puts hooks/ itself on sys.path while loading a hook
    import _notebook_runs  # type: ignore[no-redef]
    from chapters import NOTEBOOK_DIR  # type: ignore[no-redef]
    from notebooks import METADATA_KEY, NOTEBOOK_ONLY, page_diagram  # type: ignore[no-redef]

NOTEBOOK_TEMPLATE = "notebook.html"  # overrides/notebook.html
_DARK_FOREGROUND = "#e6e6e6"  # text and lines of a figure on the dark scheme's background
_SVG_DATA = "data:image/svg+xml;base64,"


def dark_svg(svg: str) -> str:
    """A matplotlib SVG drawn for a light page, recoloured for a dark one.

    Black (matplotlib writes no fill for black) becomes light, white areas
    become transparent; heatmap cell labels (group id `heatmap-cell-label`, see
    `attention_lab.plotting`) keep their colour, chosen for the cell beneath.
    """
    style = (f"<style>svg {{ fill: {_DARK_FOREGROUND}; }} "
             'g[id^="heatmap-cell-label"] { fill: #000000; }</style>')  # fmt: skip
    svg = re.sub(r"(<svg\b[^>]*>)", lambda m: m.group(1) + style, svg, count=1)
    svg = svg.replace("stroke: #000000", f"stroke: {_DARK_FOREGROUND}")
    return re.sub(r"<path\b[^>]*>", lambda m: m.group(0).replace("fill: #ffffff", "fill: none"), svg)


def _cell_metadata(notebook: nbformat.NotebookNode) -> dict[str, dict[str, Any]]:
    return {cell["id"]: dict(cell.metadata.get(METADATA_KEY, {})) for cell in notebook.cells}


def _prompt(cell: Any, selector: str) -> str:
    prompt = cell.select_one(selector)
    text = prompt.get_text(strip=True) if prompt is not None else ""
    return f'<div class="jp-InputPrompt nb-prompt" aria-hidden="true">{text}</div>' if text else ""


def _markdown_html(cell: Any, meta: dict[str, Any], cell_id: str, out_dir: Path) -> str:
    rendered = cell.select_one(".jp-RenderedMarkdown")
    if rendered is None:
        return ""
    shown: dict[str, str] = {}  # placeholder -> the HTML of a figure attached to the cell
    for number, image in enumerate(rendered.select(f'img[src^="{_SVG_DATA}"]')):
        placeholder = f"attention-lab-figure-{number}-placeholder"
        shown[placeholder] = _attached_figure_html(image, f"{cell_id}-{number}", out_dir)
        (image.parent if image.parent is not None and image.parent.name == "p" else image).replace_with(placeholder)
    if "box" in meta:  # prose of a box: Jupyter's block quote and bold title -> the admonition's body
        quote = rendered.find("blockquote", recursive=False)
        if quote is not None:
            first = quote.find(["p"], recursive=False)
            if first is not None and first.get_text(strip=True) == meta["box"]["title"] and first.find("strong"):
                first.decompose()
            quote.unwrap()
    for anchor in rendered.select("a.anchor-link"):  # nbconvert's permalinks -> Material's, shown on hover
        anchor["class"] = ["headerlink"]
        anchor["title"] = "Permanent link"
    text = rendered.decode_contents().strip()
    for placeholder, figure in shown.items():
        text = text.replace(placeholder, figure)
    return text


def _attached_figure_html(image: Any, figure_name: str, out_dir: Path) -> str:
    """An image attached to a markdown cell (see `_FigureImages`), as the site shows it: a
    diagram drawn in the page again, styled by the site; a figure as a file for each scheme."""
    svg = base64.b64decode(str(image["src"])[len(_SVG_DATA) :]).decode("utf-8")
    if NOTEBOOK_ONLY in svg:
        return f'<div class="nb-diagram">{page_diagram(svg)}</div>'
    return _figure_html(svg, figure_name, out_dir, str(image.get("alt", "")))


def _figure_files(svg: str, name: str, out_dir: Path) -> tuple[str, str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.svg").write_text(svg, encoding="utf-8")
    (out_dir / f"{name}-dark.svg").write_text(dark_svg(svg), encoding="utf-8")
    return f"{name}.svg", f"{name}-dark.svg"


def _figure_html(svg: str, name: str, out_dir: Path, alt: str) -> str:
    """A matplotlib figure of a notebook as the site shows it: a file for each scheme."""
    light, dark = _figure_files(svg, name, out_dir)
    alt = html.escape(alt, quote=True)
    # tabindex: on a phone the figure keeps its size and scrolls sideways (docs/stylesheets/notebook.css)
    return (f'<div class="nb-figure" tabindex="0"><img src="{light}#only-light" alt="{alt}" loading="lazy">'
            f'<img src="{dark}#only-dark" alt="{alt}" loading="lazy"></div>')  # fmt: skip


def _output_html(output: Any, meta: dict[str, Any], figure_name: str, out_dir: Path) -> str:
    """One output of a code cell: text that scrolls sideways, or a figure for each scheme."""
    alt = str(meta.get("figure_alt") or "A figure drawn by the code above.")
    image = output.find("img")
    if image is not None and str(image.get("src", "")).startswith(_SVG_DATA):
        return _figure_html(base64.b64decode(str(image["src"])[len(_SVG_DATA) :]).decode("utf-8"), figure_name, out_dir, alt)
    if image is not None:
        image["alt"] = alt
        return f'<div class="nb-figure">{image}</div>'
    pre = output.find("pre")
    if pre is not None:  # a text output: scrolls, never wraps mid-number; focusable to scroll by keyboard
        return f'<pre class="nb-text" tabindex="0">{pre.decode_contents()}</pre>'
    return f'<div class="nb-rich">{output.decode_contents()}</div>'


def _code_html(cell: Any, meta: dict[str, Any], cell_id: str, out_dir: Path) -> str:
    code = cell.select_one(".highlight-ipynb pre")
    source = code.decode_contents() if code is not None else ""
    source = source.removeprefix("<span></span>")
    parts = [
        '<div class="jp-InputArea nb-input">',
        _prompt(cell, ".jp-InputPrompt"),
        f'<div class="language-python highlight"><pre><span></span><code>{source}</code></pre></div>',
        "</div>",
    ]
    for number, child in enumerate(cell.select(".jp-OutputArea-child")):
        output = child.select_one(".jp-OutputArea-output")
        if output is None:
            continue
        shown = _output_html(output, meta, f"{cell_id}-{number}", out_dir)
        if shown.startswith('<div class="nb-figure"'):  # a figure takes the whole width, no prompt
            parts += ['<div class="jp-OutputArea nb-output nb-output--figure">', shown, "</div>"]
        else:
            parts += ['<div class="jp-OutputArea nb-output">', _prompt(child, ".jp-OutputPrompt"), shown, "</div>"]
    return "".join(parts)


def _box_open(box: dict[str, Any]) -> str:
    kind, title = html.escape(box["kind"]), html.escape(box["title"])
    if box["collapsible"]:
        return f'<details class="{kind}"{" open" if box["open"] else ""}><summary>{title}</summary>'
    return f'<div class="admonition {kind}"><p class="admonition-title">{title}</p>'


def _box_close(box: dict[str, Any]) -> str:
    return "</details>" if box["collapsible"] else "</div>"


def notebook_page_html(content: str, notebook: nbformat.NotebookNode, out_dir: Path, *, status: str | None = None) -> str:
    """Rewrite mkdocs-jupyter's HTML of a notebook (see the comment above); figures go to `out_dir`.
    A `status` (make serve: the outputs are not current) is shown under the first cell, in an info box."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(content, "html.parser")
    metadata = _cell_metadata(notebook)
    widget_state = [str(s) for s in soup.find_all("script", type="application/vnd.jupyter.widget-state+json")]
    parts: list[str] = []
    box: dict[str, Any] | None = None
    for cell in soup.select('[id^="cell-id="]'):
        cell_id = str(cell["id"]).removeprefix("cell-id=")
        meta = metadata.get(cell_id, {})
        if meta.get("role") == "setup":
            continue  # plumbing: in the downloaded notebook, not on the page
        cell_box = meta.get("box")
        if box is not None and (cell_box is None or cell_box["number"] != box["number"]):
            parts.append(_box_close(box))
            box = None
        if cell_box is not None and box is None:
            box = cell_box
            parts.append(_box_open(box))
        if meta.get("role") == "box-title":
            continue
        if "jp-MarkdownCell" in cell.get("class", []):
            markdown = _markdown_html(cell, meta, cell_id, out_dir)
            parts.append(f'<div class="jp-Cell jp-MarkdownCell nb-cell">{markdown}</div>')
        else:
            parts.append(f'<div class="jp-Cell jp-CodeCell nb-cell">{_code_html(cell, meta, cell_id, out_dir)}</div>')
    if box is not None:
        parts.append(_box_close(box))
    if status is not None:  # under the first cell, the title and what the notebook is
        note = f'<div class="admonition info"><p class="admonition-title">Running</p><p>{html.escape(status)}</p></div>'
        parts.insert(1, f'<div class="jp-Cell jp-MarkdownCell nb-cell">{note}</div>')
    return "\n".join(['<div class="jp-Notebook nb-notebook">', *parts, "</div>", *widget_state])


def _is_notebook_page(page: Page) -> bool:
    return page.file.src_uri.startswith(f"{NOTEBOOK_DIR}/") and page.file.src_uri.endswith(".ipynb")


@event_priority(-50)  # after mkdocs-jupyter has rendered the notebook
def on_page_content(content: str, page: Page, config: MkDocsConfig, **_: Any) -> str:
    if not _is_notebook_page(page) or page.file.abs_src_path is None:
        return content
    notebook = nbformat.read(page.file.abs_src_path, as_version=4)
    page.meta["template"] = NOTEBOOK_TEMPLATE
    out_dir = Path(config.site_dir) / Path(page.file.dest_uri).parent
    name = Path(page.file.src_uri).name
    status = _notebook_runs.status_to_show(name)
    return notebook_page_html(content, notebook, out_dir, status=status)


@event_priority(50)  # before Material's search plugin indexes the page
def on_page_context(context: dict[str, Any], page: Page, **_: Any) -> dict[str, Any]:
    """Keep notebook pages out of the search index: they repeat their chapter word for word.

    Every page downloads the index, so the duplicates would cost each reader about 100 KB.
    """
    if page.file.src_uri.startswith(f"{NOTEBOOK_DIR}/"):
        page.meta["search"] = {**(page.meta.get("search") or {}), "exclude": True}
    return context
