"""The strict site build: no warnings, the checked numbers reach the HTML, the API is complete."""

from __future__ import annotations

import re
from pathlib import Path

import attention_lab

from .conftest import ROOT, BuiltSite, search_topics

REFERENCE = ROOT / "docs" / "reference"

# Every printed output of the seed's section 1, as the seed prints it.
SEED_SECTION_1 = [
    "tensor([0.9422, 1.4754, 1.4570, 0.8296, 0.7154, 1.0605])",
    "tensor([0.1390, 0.2369, 0.2326, 0.1242, 0.1108, 0.1565])",
    "tensor([0.4431, 0.6496, 0.5671])",
    "[0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865]",
    "[0.6310, 1.0865, 1.0605, 0.6565, 0.2935, 0.9450]",
    "[0.1526, 0.1958, 0.1975, 0.1367, 0.1879, 0.1295]",
    "[0.1385, 0.2184, 0.2128, 0.1420, 0.0988, 0.1896]",
    "[0.4421, 0.5931, 0.5790]",
    "[0.4177, 0.6503, 0.5645]",
]


def visible_text(html: str) -> str:
    """The text of a page with tags and highlighting spans removed."""
    text = re.sub(r"<[^>]+>", "", html)
    return text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")


def test_strict_build_has_no_warnings(built_site: BuiltSite) -> None:
    mkdocs_warnings = [line for line in built_site.log.splitlines() if re.match(r"^WARNING\s+-", line)]
    assert not mkdocs_warnings, built_site.log
    assert (built_site.directory / "index.html").is_file()


def test_seed_section_1_numbers_are_on_the_chapter_page(built_site: BuiltSite) -> None:
    text = visible_text(built_site.page("simplified-attention"))
    missing = [number for number in SEED_SECTION_1 if number not in text]
    assert not missing


def test_doctest_blocks_are_drawn_as_console_sessions(built_site: BuiltSite) -> None:
    """A chapter's doctest blocks are highlighted by the `pycon` lexer, as the API reference's
    examples are: prompts as prompts, each printed line one output span, no Python tokens (and
    no error tokens) in what the code printed."""
    for chapter in ("simplified-attention", "causal-attention", "generation"):
        html = built_site.page(chapter)
        assert '<span class="gp">&gt;&gt;&gt; </span>' in html, chapter
        assert '<span class="go">tensor([' in html, chapter
        assert '<span class="o">&gt;&gt;&gt;</span>' not in html and '<span class="err">' not in html, chapter


def test_only_doctest_fences_are_opened_as_console_sessions() -> None:
    from hooks.site import console_fences

    page = "```python\n>>> 1\n1\n\n```\n\n    ```python\n    >>> x\n    ```\n\n```python\nimport x\n```\n\n```sh\n>>> a\n```\n"
    assert console_fences(page) == page.replace("```python\n>>>", "```pycon\n>>>", 1).replace(
        "    ```python\n    >>>", "    ```pycon\n    >>>")


def _loaded_by_the_page(html: str) -> str:
    """Drop what only loads on a reader's click (<a href>) and the canonical <link>."""
    html = re.sub(r"<a\b[^>]*>", "", html)
    return re.sub(r'<link rel="canonical"[^>]*>', "", html)


def test_math_is_typeset_from_the_site_and_no_page_names_another_host(built_site: BuiltSite) -> None:
    html = built_site.page("simplified-attention")
    assert 'class="arithmatex"><span class="katex"><math' in html, "MathML by KaTeX at build time (hooks/site.py)"
    assert "assets/katex/" not in html, "no KaTeX file where the math is already typeset"
    notebook = built_site.page("notebooks/simplified-attention")
    assert '<span class="katex"><math' in notebook, "notebook math: MathML by KaTeX at build time too"
    assert "assets/katex/" not in notebook and "text/x-mathjax-config" not in notebook
    assert not re.search(r"\$[^$\s][^$]*\$", re.sub(r"<pre.*?</pre>|<code.*?</code>", "", notebook, flags=re.DOTALL)), "raw $...$ left"
    assert "assets/katex/" not in built_site.page("reproducibility"), "no math, no KaTeX"
    for page in sorted(built_site.directory.rglob("*.html")):
        loaded = _loaded_by_the_page(page.read_text(encoding="utf-8"))
        external = re.findall(r"""(?:src|href)=["'](?:https?:)?//[^"']+""", loaded)
        assert not external, f"{page.relative_to(built_site.directory)} loads {external}"


def test_the_built_api_reference_index_links_every_chapters_api_page(built_site: BuiltSite) -> None:
    from hooks import chapters

    index = built_site.page("reference/")
    assert chapters.CHAPTER_API_MARKER not in index, "the marker is replaced"
    pages = chapters.chapter_pages(chapters.read_nav(ROOT / "mkdocs.yml"))
    missing = [c for c in pages if f'<a href="{Path(c).stem}/">Chapter' not in index]
    assert not missing, missing


def test_the_built_home_page_links_every_chapter_notebook(built_site: BuiltSite) -> None:
    from hooks import chapters

    home = built_site.page("")
    assert chapters.CHAPTER_NOTEBOOKS_MARKER not in home and chapters.CHAPTER_TABLE_MARKER not in home, "the markers are replaced"
    pages = chapters.chapter_pages(chapters.read_nav(ROOT / "mkdocs.yml"))
    missing = [c for c in pages if f'href="notebooks/{Path(c).stem}/"' not in home]
    assert not missing
    table = home[home.index("<table>"):home.index("</table>")]  # the first table: the chapters
    rows = re.findall(r'<tr>\s*<td><a href="([\w-]+)/">', table)
    assert rows == [Path(c).stem for c in pages], rows
    assert all(f'href="reference/{Path(c).stem}/"' in table for c in pages)


def test_the_home_and_reproducibility_pages_link_the_wheel_the_notebooks_install(built_site: BuiltSite) -> None:
    from hooks import package_wheel

    wheel = f"{package_wheel.DOWNLOAD_DIR}/{package_wheel.wheel_filename()}"
    assert (built_site.directory / wheel).is_file()
    assert f'href="{wheel}"' in built_site.page("")
    assert f'href="../{wheel}"' in built_site.page("reproducibility")
    assert package_wheel.WHEEL_LINK_MARKER not in built_site.page("") + built_site.page("reproducibility")


def test_every_public_name_is_in_the_api_reference_once() -> None:
    entries = [
        match
        for page in sorted(REFERENCE.glob("*.md"))
        for match in re.findall(r"^::: attention_lab\.(\w+)\s*$", page.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert sorted(entries) == sorted(attention_lab.__all__)


def test_every_public_function_has_a_doctested_example() -> None:
    functions = [name for name in attention_lab.__all__ if callable(getattr(attention_lab, name))]
    functions = [name for name in functions if not isinstance(getattr(attention_lab, name), type)]
    missing = [name for name in functions if ">>> " not in (getattr(attention_lab, name).__doc__ or "")]
    assert not missing


def test_reference_pages_link_back_to_the_chapters(built_site: BuiltSite) -> None:
    html = built_site.page("reference/simplified-attention")
    assert 'href="../../simplified-attention/#111-attention-scores"' in html


def test_search_text_reads_math_as_plain_text() -> None:
    """The search index holds no raw LaTeX: known commands become symbols, any other its name."""
    from hooks import site

    assert site.readable_math(r"\frac{q K^\top}{\sqrt{H}}") == "(q Kᵀ)/(√H)"
    assert site.readable_math(r"\ell_i = \max(m, \omega_{ij}) \le \tau") == "ℓ_i = max(m, ω_ij) ≤ τ"
    assert site.readable_math(r"\mathbf{X} \, \unknowncommand") == "X unknowncommand"
    assert "\\" not in site.readable_search_text(r"scores \(\omega_{ij}\) and \[\ell \leq \sqrt{d_k}\]")


def test_bold_matrices_are_mathematical_bold_letters_which_browsers_draw_bold() -> None:
    """MathML Core ignores mathvariant="bold" (Chromium draws an italic W): the hook writes 𝐖."""
    from hooks import site

    assert [site.bold_letter(c) for c in "WqΩ"] == ["𝐖", "𝐪", "𝛀"]
    mathml = site._render_or_fail(r"\mathbf{W}_q = \mathbf{\Omega} \mathbb{R}", display=False, where="a test")
    assert "<mi>𝐖</mi>" in mathml and "<mi>𝛀</mi>" in mathml and "<mi>ℝ</mi>" in mathml
    assert "mathvariant=\"bold\"" not in mathml
    assert mathml.count("<math") == 1 and "<annotation" not in mathml and "<semantics>" not in mathml


def test_api_and_exercise_entries_are_indexed_by_name_and_first_sentence() -> None:
    """Every page downloads the search index: API entries and exercises keep a one-sentence summary."""
    from hooks import site

    text = "Set the scores that are masked out to -inf. Then softmax gives them weight 0, " + "and more. " * 50
    assert site.summary(text) == "Set the scores that are masked out to -inf."
    assert site.summary("x" * 500).endswith("…") and len(site.summary("x" * 500)) == site.SUMMARY_CHARACTERS


def test_a_topic_word_tags_the_section_that_teaches_it_and_a_wrong_one_fails_the_build() -> None:
    import pytest

    from hooks import site

    def documents() -> list[dict]:
        return [{"location": "causal-attention/", "title": "3. Causal attention", "text": "<p>Masks.</p>"},
                {"location": "causal-attention/#31-why-mask", "title": "3.1 Why mask", "text": "<p>A causal mask.</p>"}]  # fmt: skip

    tagged = documents()
    site.tag_search_topics(tagged, {"causal-attention/": {"causal": "31-why-mask", "mask": "31-why-mask"}})
    assert [d.get("tags") for d in tagged] == [None, ["causal", "mask"]]
    wrong = {
        "one lower-case search term": {"multi-head": "31-why-mask"},
        "no section with that anchor": {"causal": "39-nowhere"},
        "never use the word": {"softmax": "31-why-mask"},
    }
    for message, topics in wrong.items():
        with pytest.raises(ValueError, match=message) as raised:
            site.tag_search_topics(documents(), {"causal-attention/": topics})
        assert "search_topics of causal-attention/" in str(raised.value)


def test_the_built_index_tags_every_topic_the_chapters_declare(built_site: BuiltSite) -> None:
    import json

    index = json.loads((built_site.directory / "search" / "search_index.json").read_text(encoding="utf-8"))
    tags = {word: d["location"] for d in index["docs"] for word in d.get("tags", [])}
    assert tags == search_topics()


def test_the_built_search_index_holds_no_solution_and_no_whole_docstring(built_site: BuiltSite) -> None:
    import json

    index = json.loads((built_site.directory / "search" / "search_index.json").read_text(encoding="utf-8"))
    entries = [d for d in index["docs"] if d["location"].startswith("reference/") or d["title"].startswith("Exercise ")]
    assert len(entries) > 50
    assert all(len(d["text"]) <= 160 for d in entries)
    assert any(d["title"] == "masked_softmax" for d in index["docs"])  # API names stay searchable
