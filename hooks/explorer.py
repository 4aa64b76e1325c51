"""MkDocs hook: the data of the attention explorer (docs/explore.md), exported from the package.

At every build the hook writes `assets/explorer/explorer-data.json` into the
site: the six tokens and their embeddings (`TOKENS`, `example_inputs`), the
chapter-2 projection matrices $W_q$, $W_k$, $W_v$ for a few seeds and hidden
sizes (`init_projection_weights`, exactly as the chapters draw them), and the
named starting points that the chapters link to (`explore.md#chapter-1`, ...).
The explorer's script (`docs/assets/explorer/explorer.js`) computes everything
else in the browser, and `tests/test_explorer.py` checks its numbers against
the package.

The matrices are drawn in float32, as in the chapters, and written as the
shortest decimal that identifies each float32 value: the script reads them back
with `Math.fround`, so it computes with exactly the chapter's matrices, widened
to float64. The embeddings are written as float64 (`0.43` is the double nearest
0.43), since the explorer computes in float64.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from attention_lab import TOKENS, example_inputs, init_projection_weights

DATA_PATH = "assets/explorer/explorer-data.json"
CHAPTER_2_SEED = 123  # docs/self-attention.md draws Wq, Wk, Wv with this seed ...
CHAPTER_2_HIDDEN_SIZE = 4  # ... and this hidden size H
SEEDS = (CHAPTER_2_SEED, 7, 42)  # 7: the "other seed" of chapter 2's module section
HIDDEN_SIZES = (2, 3, CHAPTER_2_HIDDEN_SIZE, 8)  # 2: the source notebook's d_out

# Named starting points: the fragment `#<name>` of the Explore page selects the configuration.
# Keys as in the page's URL fragment (see explorer.js): mode 1 (no weights) or 2 (Wq, Wk, Wv),
# query (token index), seed, hidden (H), scaled, causal (mask), tau (temperature); the embeddings
# are the chapters' own.
_CHAPTER_2 = {"mode": 2, "query": 1, "seed": CHAPTER_2_SEED, "hidden": CHAPTER_2_HIDDEN_SIZE, "causal": 0, "tau": 1}
PRESETS: dict[str, dict[str, int]] = {
    "chapter-1": {"mode": 1, "query": 2, "causal": 0, "tau": 1},  # 1.1: the query "starts"
    "chapter-2": {**_CHAPTER_2, "scaled": 0},  # 2.2, 2.3: unscaled, the query "journey"
    "chapter-2-scaled": {**_CHAPTER_2, "scaled": 1},  # scaled dot-product attention
    "chapter-3": {**_CHAPTER_2, "scaled": 1, "causal": 1},  # causal: query i attends to tokens 0..i
}


def _float32_list(matrix: torch.Tensor) -> list[list[float]]:
    """Each float32 entry as the double of its shortest decimal, e.g. -0.11150944 (not -0.111509442329...)."""
    return [[float(np.format_float_positional(np.float32(v), unique=True)) for v in row] for row in matrix.tolist()]


def explorer_data() -> dict[str, Any]:
    """Everything the explorer needs from the package, as JSON-ready Python values."""
    inputs = example_inputs(torch.float64)  # (L, E)
    embed_dim = inputs.shape[1]
    weights: dict[str, dict[str, dict[str, list[list[float]]]]] = {}
    for seed in SEEDS:
        weights[str(seed)] = {}
        for hidden_dim in HIDDEN_SIZES:
            drawn = init_projection_weights(embed_dim, hidden_dim, seed=seed)  # float32, as the chapters
            weights[str(seed)][str(hidden_dim)] = {name: _float32_list(m) for name, m in drawn._asdict().items()}
    return {
        "tokens": list(TOKENS),
        "embeddings": inputs.tolist(),
        "seeds": list(SEEDS),
        "hidden_sizes": list(HIDDEN_SIZES),
        "weights": weights,  # [seed][H] -> {"query", "key", "value"}, each (E, H), float32 values
        "presets": PRESETS,
    }


def render_json() -> str:
    """The data file's text: compact, keys in a fixed order, identical on every build."""
    return json.dumps(explorer_data(), separators=(",", ":"), allow_nan=False)


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    files.append(File.generated(config, DATA_PATH, content=render_json()))
    return files
