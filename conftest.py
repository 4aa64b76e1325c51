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

from doctest import ELLIPSIS, NORMALIZE_WHITESPACE

from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser
from sybil.parsers.rest import DocTestParser

DOCTEST_FLAGS = ELLIPSIS | NORMALIZE_WHITESPACE

MARKDOWN_EXAMPLES = Sybil(
    parsers=[PythonCodeBlockParser(doctest_optionflags=DOCTEST_FLAGS)],
    path="docs",
    patterns=["*.md"],
    name="docs",
)

DOCSTRING_EXAMPLES = Sybil(
    parsers=[DocTestParser(optionflags=DOCTEST_FLAGS)],
    path="attention_lab",
    patterns=["*.py"],
    name="docstrings",
)

pytest_collect_file = (MARKDOWN_EXAMPLES + DOCSTRING_EXAMPLES).pytest()
