"""Collect every Python example of the docs and of the package's docstrings.

- ``docs/**/*.md``: each fenced block whose info string is exactly ``python`` is
  one or more examples. A block starting with ``>>>`` is a doctest whose printed
  output is compared; any other block runs as plain code. Blocks of one page run
  in order in one namespace; pages never share names.
- ``attention_lab/*.py``: the ``>>>`` examples of every docstring.

``tests/test_docs_harness.py`` fails if a Python-looking fence is not collected
or a page's example count changes, so nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE
from pathlib import Path

from sybil import Document, Region, Sybil
from sybil.parsers.markdown import PythonCodeBlockParser
from sybil.parsers.rest import DocTestParser

DOCTEST_FLAGS = ELLIPSIS | NORMALIZE_WHITESPACE


class IndentedFenceLines:
    """sybil's Python code block parser, with true line numbers in indented fences.

    sybil strips the indentation of a fence inside a `???` block before it finds
    the `>>>` examples, and then places them by their offsets in the stripped
    text: 4 characters short per line, so a failure was reported lines too early.
    Each doctest example is moved to where its first line really is.
    """

    def __init__(self, parser: PythonCodeBlockParser) -> None:
        self.parser = parser

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.parser(document):
            source = getattr(region.parsed, "source", None)
            if isinstance(source, str) and source.strip():
                first_line = ">>> " + source.splitlines()[0]
                start = document.text.find(first_line, region.start)
                if start != -1 and start != region.start:
                    region = Region(start, start + len(first_line), region.parsed, region.evaluator)
            yield region


MARKDOWN_EXAMPLES = Sybil(
    parsers=[IndentedFenceLines(PythonCodeBlockParser(doctest_optionflags=DOCTEST_FLAGS))],
    path="docs",
    patterns=["*.md"],
    name="docs",
)

def failing_examples(page: Path) -> list[tuple[int, str]]:
    """Run a page's doc examples in order, as the suite does: (line, message) of each that fails."""
    failures = []
    for example in MARKDOWN_EXAMPLES.parse(page):
        try:
            example.evaluate()
        except Exception as error:  # sybil raises SybilFailure for a mismatch
            failures.append((example.line, str(error)))
    return failures


DOCSTRING_EXAMPLES = Sybil(
    parsers=[DocTestParser(optionflags=DOCTEST_FLAGS)],
    path="attention_lab",
    patterns=["*.py"],
    name="docstrings",
)

pytest_collect_file = (MARKDOWN_EXAMPLES + DOCSTRING_EXAMPLES).pytest()
