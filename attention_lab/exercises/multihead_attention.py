"""Exercises of chapter 4, [Multi-head attention](../multihead-attention.md#47-exercises).

Expected answers are computed with `attention_lab.multihead_attention` from the
chapter's heads (`MultiHeadAttention(3, 3, seed=7)`: three heads of size 1 on
the six embeddings of [`example_inputs`][attention_lab.example_inputs]); every
known mistake is written out with the package, so it is recognised by value.
"""

from __future__ import annotations

import torch
from torch import nn

from attention_lab._chapter_seeds import CHAPTER_4_SEED
from attention_lab.causal_attention import causal_mask
from attention_lab.exercises._core import Exercise, Mistake, UnreadableAnswer, mistaken_value, require_module, value_exercise
from attention_lab.multihead_attention import (
    MultiHeadAttention,
    MultiHeadWeights,
    merge_heads,
    multihead_parameter_count,
    multihead_self_attention,
    split_heads,
)
from attention_lab.simplified_attention import TOKENS, example_inputs

__all__ = ["CHAPTER", "EXERCISES", "PAGE"]

CHAPTER = 4
"""The chapter these exercises belong to."""
PAGE = "multihead-attention.md"
"""The page under `docs/` whose "Exercises" section poses them."""

EMBED_DIM, NUM_HEADS = 3, 3  # the chapter's model: E = 3, three heads of H = 1 (its seed: CHAPTER_4_SEED)
QUERY = 4  # exercise 4.4: the row of 'one'


def _chapter_weights() -> MultiHeadWeights:
    return MultiHeadAttention(EMBED_DIM, NUM_HEADS, seed=CHAPTER_4_SEED).multihead_weights()


# --- 4.1 -----------------------------------------------------------------------------------------

_E, _HEADS = 1024, 16  # GPT-2 medium
_H = _E // _HEADS

_COUNTING = value_exercise(
    "4.1",
    "Counting the parameters of a layer",
    lambda: multihead_parameter_count(_E, _HEADS, qkv_bias=True, out_bias=True),
    atol=0.0,
    mistakes=[
        mistaken_value("no_biases", "that counts the four matrices only: each projection has a bias of E numbers too.", lambda: 4 * _E * _E, atol=0.0),
        mistaken_value(
            "out_bias_only",
            "that is the chapter's layer, with an output bias only; this one has a bias on W_q, W_k and W_v as well.",
            lambda: 4 * _E * _E + _E,
            atol=0.0,
        ),
        mistaken_value(
            "no_out_projection",
            "you left out the output projection W_o (E × E) and its bias.",
            lambda: 3 * _E * _E + 3 * _E,
            atol=0.0,
        ),
        mistaken_value(
            "head_squares",
            "a head's W_q is E × H, not H × H: it reads all E features of each token.",
            lambda: 4 * _HEADS * _H * _H + 4 * _E,
            atol=0.0,
        ),
        mistaken_value(
            "per_head_full_size",
            "each head's matrices are E × H, not E × E: the heads share out the E columns, so W_q, W_k, W_v are E × E in all.",
            lambda: _HEADS * 3 * (_E * _E + _E) + _E * _E + _E,
            atol=0.0,
        ),
    ],
    solved="The number of heads does not change it: 16 heads of 64 cost what 1 head of 1024 costs.",
)


# --- 4.2 -----------------------------------------------------------------------------------------


def _features() -> torch.Tensor:
    """The exercise's queries of all heads: (L, heads*H) = (6, 4), 2 heads of 2."""
    return torch.arange(24.0).reshape(6, 4)


_SPLITTING = value_exercise(
    "4.2",
    "Splitting heads by hand",
    lambda: split_heads(_features(), 2)[1],
    axes=("token", "feature"),
    mistakes=[
        mistaken_value(
            "view_only",
            "that is the reshape trap: view(2, 6, 2) alone cuts the numbers in memory order, so 'head 1' holds "
            "the last three tokens' features of both heads. View as (6, 2, 2), then transpose(0, 1).",
            lambda: _features().view(2, 6, 2)[1],
        ),
        mistaken_value(
            "head_0",
            "these are head 0's queries (features 0 and 1); head 1 has features 2 and 3 of every token.",
            lambda: split_heads(_features(), 2)[0],
        ),
        mistaken_value(
            "no_transpose",
            "after view(6, 2, 2) the first axis is still the tokens: [1] picks token 1's two heads. "
            "Transpose(0, 1) first, so that the first axis is the heads.",
            lambda: _features().view(6, 2, 2)[1],
        ),
    ],
    solved="Head 1 keeps one row per token: the columns 2 and 3 of every row.",
)


# --- 4.3 -----------------------------------------------------------------------------------------


def _heads_context() -> torch.Tensor:
    """The exercise's per-head context: (heads, L, H) = (2, 3, 2)."""
    return torch.arange(12.0).reshape(2, 3, 2)


_MERGING = value_exercise(
    "4.3",
    "Merging heads by hand",
    lambda: merge_heads(_heads_context()),
    axes=("token", "feature"),
    mistakes=[
        mistaken_value(
            "reshape_only",
            "that is the reshape trap when merging: reshape(3, 4) alone takes the numbers in memory order, head "
            "by head, so row 0 holds tokens 0 and 1 of head 0. Transpose(0, 1) first, then reshape.",
            lambda: _heads_context().reshape(3, 4),
        ),
        mistaken_value(
            "heads_reversed",
            "the heads are in reverse order: head 0 comes first, in columns 0 and 1.",
            lambda: merge_heads(_heads_context().flip(0)),
        ),
        mistaken_value(
            "stacked_down",
            "you put the heads one below the other (more rows); they go side by side: one row per token, "
            "heads · H columns.",
            lambda: _heads_context().reshape(6, 2),
        ),
    ],
    solved="Row i holds token i's context in head 0, then in head 1: 4.2's concatenation.",
)


# --- 4.4 -----------------------------------------------------------------------------------------


def _head_rows(mask: torch.Tensor | None, *, causal: bool, query: int = QUERY) -> torch.Tensor:
    """Row `query` of each head's weights, (heads, L), with the package's mask convention."""
    result = multihead_self_attention(example_inputs(), _chapter_weights(), NUM_HEADS, mask=mask, causal=causal)
    return result.weights[:, query]


def _one_head(answer: torch.Tensor) -> bool:
    rows = _head_rows(None, causal=True).to(torch.float64)
    return answer.shape == rows[0].shape and any(bool(torch.allclose(answer, row, atol=1e-4)) for row in rows)


_AVERAGING = value_exercise(
    "4.4",
    "What the default weights of nn.MultiheadAttention hide",
    lambda: _head_rows(None, causal=True).mean(dim=0),
    axes=("key",),
    mistakes=[
        Mistake(
            "one_head",
            "that is one head's row; nn.MultiheadAttention returns by default the mean over the heads "
            "(average_attn_weights=True).",
            _one_head,
        ),
        mistaken_value(
            "summed",
            "your row sums to 3, one per head: the default is the mean over heads, not the sum.",
            lambda: _head_rows(None, causal=True).sum(dim=0),
        ),
        mistaken_value(
            "not_causal",
            "'one' attends to 'step', which comes after it: pass the causal mask, attn_mask=~causal_mask(6).",
            lambda: _head_rows(None, causal=False).mean(dim=0),
        ),
        mistaken_value(
            "polarity",
            "'one' attends only to 'step': you passed causal_mask(6) itself, and nn.MultiheadAttention reads True "
            "as masked out. Pass its complement, ~causal_mask(6).",
            lambda: _head_rows(~causal_mask(6), causal=False).mean(dim=0),
        ),
        mistaken_value(
            "counted_from_1",
            f"that is the row of query {QUERY - 1}, {TOKENS[QUERY - 1]!r}: indices count from 0, "
            f"so {TOKENS[QUERY]!r} is query {QUERY}.",
            lambda: _head_rows(None, causal=True, query=QUERY - 1).mean(dim=0),
        ),
    ],
    solved="One averaged row hides that head 1 looks at 'one' itself and head 2 at 'with'.",
)


# --- 4.5 -----------------------------------------------------------------------------------------


def _read_torch_module(answer: object) -> torch.Tensor:
    """in_proj_weight (3E, E), out_proj.weight (E, E), in_proj_bias as (3, E), out_proj.bias: (16, 3)."""
    answer = require_module(
        answer, nn.MultiheadAttention, "torch.nn.MultiheadAttention", "an nn.MultiheadAttention",
        embed_dim=EMBED_DIM, num_heads=NUM_HEADS,
    )
    if answer.in_proj_weight is None or answer.in_proj_bias is None or answer.out_proj.bias is None:
        raise UnreadableAnswer("expected a module built with bias=True (the default): it has no in_proj_bias")
    parts = (
        answer.in_proj_weight,  # (3E, E)
        answer.out_proj.weight,  # (E, E)
        answer.in_proj_bias.view(3, EMBED_DIM),  # (3, E)
        answer.out_proj.bias.view(1, EMBED_DIM),  # (1, E)
    )
    return torch.cat([part.detach().to(torch.float64) for part in parts])  # (16, E)


def _layout(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, out: torch.Tensor, in_bias: torch.Tensor) -> torch.Tensor:
    weights = _chapter_weights()
    assert weights.out_bias is not None
    return torch.cat([query, key, value, out, in_bias.view(3, EMBED_DIM), weights.out_bias.view(1, EMBED_DIM)])


def _copied() -> torch.Tensor:
    w = _chapter_weights()
    return _layout(w.query.T, w.key.T, w.value.T, w.out.T, torch.zeros(3 * EMBED_DIM))


def _transposed_or_not(*, inputs_transposed: bool, out_transposed: bool) -> torch.Tensor:
    w = _chapter_weights()
    query, key, value = (matrix.T if inputs_transposed else matrix for matrix in (w.query, w.key, w.value))
    return _layout(query, key, value, w.out.T if out_transposed else w.out, torch.zeros(3 * EMBED_DIM))


def _bias_kept(answer: torch.Tensor) -> bool:
    expected = _copied().to(answer.dtype)
    rows = list(range(12)) + [15]
    return bool(torch.allclose(answer[rows], expected[rows], atol=1e-6)) and bool(answer[12:15].ne(0).any())


_COPYING = value_exercise(
    "4.5",
    "Copying our weights into nn.MultiheadAttention",
    _copied,
    axes=("row", "column"),
    read=_read_torch_module,
    mistakes=[
        mistaken_value(
            "not_transposed",
            "nn.MultiheadAttention computes x @ W.T, like nn.Linear: copy W_q.T, W_k.T, W_v.T into in_proj_weight "
            "and W_o.T into out_proj.weight.",
            lambda: _transposed_or_not(inputs_transposed=False, out_transposed=False),
        ),
        mistaken_value(
            "out_not_transposed",
            "in_proj_weight is right, but out_proj.weight must hold W_o.T: it is an nn.Linear.",
            lambda: _transposed_or_not(inputs_transposed=True, out_transposed=False),
        ),
        mistaken_value(
            "order",
            "in_proj_weight stacks the query, then the key, then the value projection; yours has another order.",
            lambda: _layout(
                _chapter_weights().key.T, _chapter_weights().query.T, _chapter_weights().value.T,
                _chapter_weights().out.T, torch.zeros(3 * EMBED_DIM),
            ),  # fmt: skip
        ),
        Mistake(
            "bias_kept",
            "the weights are right, but in_proj_bias is not zero: our module has no bias on W_q, W_k, W_v, "
            "so set it to 0 with in_proj_bias.zero_().",
            _bias_kept,
        ),
    ],
    solved="Same outputs, same per-head weights: PyTorch's module is our one-matrix form.",
)

EXERCISES: tuple[Exercise, ...] = (_COUNTING, _SPLITTING, _MERGING, _AVERAGING, _COPYING)
"""The exercises of chapter 4, in page order."""
