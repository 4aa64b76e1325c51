"""MkDocs hook: the data of the attention explorer (docs/explore.md), exported from the package.

At every build the hook writes `assets/explorer/explorer-data.json` into the
site: the six tokens and their embeddings (`TOKENS`, `example_inputs`), the
chapter-2 projection matrices $W_q$, $W_k$, $W_v$ for a few seeds and hidden
sizes (`init_projection_weights`, exactly as the chapters draw them), chapter 4's
$W_q$, $W_k$, $W_v$, $W_o$ and $b_o$ with one and with three heads
(`MultiHeadAttention(3, heads, seed=7)`), and the named starting points that the
chapters link to (`explore.md#chapter-1`, ...). With fewer key/value heads than
query heads (chapter 7), the script pools chapter 4's $W_k$ and $W_v$ itself.
The explorer's script (`docs/assets/explorer/explorer.js`) computes everything
else in the browser, and `tests/test_explorer.py` checks its numbers against
the package.

The matrices are drawn in float32, as in the chapters, and travel as their exact
bytes: each one (E rows) as the base64 text of its float32 values, row by row,
little-endian (`_float32_base64`: under half the size of their shortest decimals).
The script decodes them with a `DataView`, so it computes with exactly the
chapter's matrices, widened to float64. The embeddings are written as float64
(`0.43` is the double nearest 0.43), since the explorer computes in float64.

The script is served without its comments, indentation and the spaces its code
does not need (`served_script`), the style sheet without its comments and
indentation (`served_style`): the readable sources, with their comments, stay in
the repository, and a reader downloads about a quarter less. Nothing else changes:
no name is shortened and every line break stays, so a line of the served script is
a line of the source.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import torch
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from attention_lab._chapter_seeds import CHAPTER_2_HIDDEN_DIM, CHAPTER_2_SEED, CHAPTER_4_SEED
from attention_lab import ROPE_BASE, TOKENS, MultiHeadAttention, example_inputs, init_projection_weights

DATA_PATH = "assets/explorer/explorer-data.json"
SCRIPT_PATH = "assets/explorer/explorer.js"
STYLE_PATH = "assets/explorer/explorer.css"
SEEDS = (CHAPTER_2_SEED, 7, 42)  # 7: the "other seed" of chapter 2's module section
HIDDEN_SIZES = (2, 3, CHAPTER_2_HIDDEN_DIM, 8)  # 2: the source notebook's d_out
HEAD_COUNTS = (1, 3)  # chapter 4's MultiHeadAttention(3, heads, seed=CHAPTER_4_SEED): the head counts that divide E = 3

# Named starting points: the fragment `#<name>` of the Explore page selects the configuration.
# Keys as in the page's URL fragment (see explorer.js): mode 1 (no weights), 2 (Wq, Wk, Wv) or
# 4 (heads, then Wo), query (token index), seed, hidden (H), heads, kv (key/value heads, chapter 7:
# each the mean of its group's in Wk and Wv), scaled, causal (mask), tau
# (temperature), block (online softmax's T), rope and shift (RoPE from that position), window
# (a sliding window of that many keys, 0 for none); the embeddings are the chapters' own.
_CHAPTER_4 = {"mode": 4, "query": 4, "heads": 3, "scaled": 1, "causal": 1, "tau": 1}
_CHAPTER_2 = {"mode": 2, "query": 1, "seed": CHAPTER_2_SEED, "hidden": CHAPTER_2_HIDDEN_DIM, "causal": 0, "tau": 1}
PRESETS: dict[str, dict[str, int]] = {
    "chapter-1": {"mode": 1, "query": 2, "causal": 0, "tau": 1},  # 1.1: the query "starts"
    "chapter-2": {**_CHAPTER_2, "scaled": 0},  # 2.2, 2.3: unscaled, the query "journey"
    "chapter-2-scaled": {**_CHAPTER_2, "scaled": 1},  # scaled dot-product attention
    "chapter-3": {**_CHAPTER_2, "scaled": 1, "causal": 1},  # causal: query i attends to tokens 0..i
    "chapter-4": _CHAPTER_4,  # 4.1: the row of "one"
    "chapter-5": {**_CHAPTER_2, "scaled": 1, "block": 2},  # 5.2.2: the trace of "journey", two keys a block
    "chapter-6": {**_CHAPTER_2, "scaled": 1, "causal": 1, "rope": 1, "shift": 0},  # 6.3: chapter 3 with RoPE
    "chapter-7": {**_CHAPTER_2, "scaled": 1, "causal": 1, "window": 3},  # 7.6: a sliding window of 3 keys
    "chapter-7-mqa": {**_CHAPTER_4, "kv": 1},  # 7.5: chapter 4's three query heads share one key/value head
}


def _float32_base64(tensor: torch.Tensor) -> str:
    """The tensor's float32 values, row by row, as the base64 text of their little-endian bytes
    (a matrix's row length is its size over E: every exported matrix has E rows)."""
    return base64.b64encode(tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()).decode("ascii")


def explorer_data() -> dict[str, Any]:
    """Everything the explorer needs from the package, as JSON-ready Python values."""
    inputs = example_inputs(torch.float64)  # (L, E)
    embed_dim = inputs.shape[1]
    weights: dict[str, dict[str, dict[str, str]]] = {}
    for seed in SEEDS:
        weights[str(seed)] = {}
        for hidden_dim in HIDDEN_SIZES:
            drawn = init_projection_weights(embed_dim, hidden_dim, seed=seed)  # float32, as the chapters
            weights[str(seed)][str(hidden_dim)] = {name: _float32_base64(m) for name, m in drawn._asdict().items()}
    multihead = {
        str(heads): {name: _float32_base64(m) for name, m in
                     MultiHeadAttention(embed_dim, heads, seed=CHAPTER_4_SEED).multihead_weights()._asdict().items()}
        for heads in HEAD_COUNTS
    }  # fmt: skip
    return {
        "tokens": list(TOKENS),
        "embeddings": inputs.tolist(),
        "seeds": list(SEEDS),
        "hidden_sizes": list(HIDDEN_SIZES),
        "weights": weights,  # [seed][H] -> {"query", "key", "value"}, each (E, H), float32 bytes in base64
        "head_counts": list(HEAD_COUNTS),
        "multihead_seed": CHAPTER_4_SEED,
        "multihead": multihead,  # [heads] -> {"query", "key", "value", "out"}, each (E, E), and "out_bias" (E,), as above
        "rope_base": ROPE_BASE,
        "presets": PRESETS,
    }


def render_json() -> str:
    """The data file's text: compact, keys in a fixed order, identical on every build."""
    return json.dumps(explorer_data(), separators=(",", ":"), allow_nan=False)


# --- the served script ------------------------------------------------------------------------------
# A `/` after one of these (or at the start) begins a regular expression; after anything else
# (a name, a number, `)` or `]`) it divides.
_BEFORE_A_REGEX = tuple("(,=:[!&|?{};+-*%<>~^")
_WORDS_BEFORE_A_REGEX = re.compile(r"\b(return|typeof|case|do|else|in|of|new|delete|void|throw|yield|await)$")
SERVED_HEADER = "/* The attention explorer. Its source, with comments: docs/assets/explorer/explorer.js in the repository. */\n"


def _script_pieces(source: str) -> list[tuple[bool, str]]:
    """The script as (is_code, text) pieces, comments dropped: code, and literals verbatim (a
    string, a regular expression, or the text of a template literal up to its end or to `${`).

    Raises `ValueError` on what the scan cannot follow (an unterminated literal), so that a script
    it would misread fails the build instead of being served broken.
    """
    pieces: list[tuple[bool, str]] = []
    code: list[str] = []
    nesting: list[str] = []  # "`": in a template's text; "${": in its expression; "{": a block inside that

    def literal(text: str) -> None:
        pieces.append((True, "".join(code)))
        code.clear()
        pieces.append((False, text))

    def code_before() -> str:
        return "".join(code).rstrip() or next((text.rstrip() for _, text in reversed(pieces) if text.strip()), "")

    i = 0
    try:
        while i < len(source):
            c = source[i]
            if nesting and nesting[-1] == "`":  # a template's text, up to its end or its next ${
                j = i
                while source[j] != "`" and not source.startswith("${", j):
                    j += 2 if source[j] == "\\" else 1
                if source[j] == "`":
                    nesting.pop()
                    literal(source[i : j + 1])
                    i = j + 1
                else:
                    nesting.append("${")
                    literal(source[i : j + 2])
                    i = j + 2
            elif c in "\"'":
                j = i + 1
                while source[j] != c:
                    if source[j] == "\n":
                        raise ValueError(f"explorer.js: unterminated string at character {i}")
                    j += 2 if source[j] == "\\" else 1
                literal(source[i : j + 1])
                i = j + 1
            elif c == "`":
                nesting.append("`")
                code.append(c)
                i += 1
            elif c in "{}" and nesting:
                if c == "{":
                    nesting.append("{")
                else:
                    nesting.pop()  # a block's end, or the end of a ${ }: back in the template's text
                code.append(c)
                i += 1
            elif source.startswith("//", i):
                i = source.find("\n", i) if "\n" in source[i:] else len(source)
            elif source.startswith("/*", i):
                i = source.index("*/", i + 2) + 2
                code.append(" ")
            elif c == "/" and (not (before := code_before()) or before.endswith(_BEFORE_A_REGEX) or _WORDS_BEFORE_A_REGEX.search(before)):
                j, in_class = i + 1, False
                while in_class or source[j] != "/":
                    if source[j] == "\n":
                        raise ValueError(f"explorer.js: unterminated regular expression at character {i}")
                    in_class = (in_class or source[j] == "[") and source[j] != "]"
                    j += 2 if source[j] == "\\" else 1
                literal(source[i : j + 1])
                i = j + 1
            else:
                code.append(c)
                i += 1
    except IndexError:  # a literal that runs to the end of the script
        raise ValueError("explorer.js: a string, regular expression or template literal is not closed at the end") from None
    if nesting:
        raise ValueError("explorer.js: a template literal or block is not closed")
    pieces.append((True, "".join(code)))
    return pieces


# Spaces in code go where a neighbour is one of these, or where one side is a name or number
# and the other is not: `a = b(c, d)` -> `a=b(c,d)`. They stay between two names (`return x`),
# between two other signs (`a + +b`, `x = -1`), where removing one could make a new token, and
# before a dot after a number (`1 .5` is not `1.5`): a dot counts as part of a name.
_NEEDS_NO_SPACE = set("(){}[];,:")
_NAME_CHARACTER = re.compile(r"[\w$.]")


def _tightened(code: str, before: str, after: str) -> str:
    """One piece of code without the spaces it does not need; `before` and `after` are the
    characters around it (from the neighbouring pieces, a line break at the ends)."""
    code = re.sub(r"[ \t]*\n\s*", "\n", code)  # indentation, trailing spaces and blank lines
    text = before + code + after

    def space(match: re.Match[str]) -> str:
        left, right = text[match.start()], text[match.end() + 1]
        if "\n" in (left, right) or left in _NEEDS_NO_SPACE or right in _NEEDS_NO_SPACE:
            return ""
        return "" if bool(_NAME_CHARACTER.match(left)) != bool(_NAME_CHARACTER.match(right)) else " "

    return re.sub(r"[ \t]+", space, code)


def served_script(source: str) -> str:
    """The explorer's script as served: without comments, indentation, blank lines and the
    spaces code does not need (`_tightened`).

    In the text of a template literal, the indentation after a line break goes (that text is
    HTML, where a line break renders as the one space the indentation made). Strings and
    regular expressions stay as written, and so does every line break.
    """
    pieces = _script_pieces(source)
    served = []
    for k, (is_code, text) in enumerate(pieces):
        if is_code:
            before = next((t[-1] for _, t in reversed(pieces[:k]) if t), "\n")
            after = next((t[0] for _, t in pieces[k + 1 :] if t), "\n")
            served.append(_tightened(text, before, after))
        else:
            served.append(re.sub(r"\n[ \t]+", "\n", text))
    return SERVED_HEADER + "".join(served).strip() + "\n"


def served_style(source: str) -> str:
    """The explorer's style sheet as served: without its comments, indentation and blank lines.
    Read left to right, a string (`[type="radio"]`) is kept whole and a comment dropped."""
    without_comments = re.sub(r'/\*.*?\*/|"[^"\n]*"|\'[^\'\n]*\'',
                              lambda m: "" if m[0].startswith("/*") else m[0], source, flags=re.DOTALL)  # fmt: skip
    return re.sub(r"[ \t]*\n\s*", "\n", without_comments).strip() + "\n"


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    files.append(File.generated(config, DATA_PATH, content=render_json()))
    for path, served in ((SCRIPT_PATH, served_script), (STYLE_PATH, served_style)):
        source = files.get_file_from_path(path)
        if source is not None and source.abs_src_path is not None:
            files.remove(source)
            files.append(File.generated(config, path, content=served(Path(source.abs_src_path).read_text(encoding="utf-8"))))
    return files
