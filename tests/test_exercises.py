"""attention_lab.exercises: the checker, the exercises on the pages, and their notebooks.

The learner's mistakes below are written out here, as a learner would write
them (plain torch), and never taken from the spec modules: a test that asked a
spec module for its own mistakes could not fail.
"""

from __future__ import annotations

import doctest
import math
import re
import textwrap
from collections.abc import Callable
from html import unescape
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import conftest
from attention_lab import (
    MultiHeadAttention,
    ProjectionWeights,
    SelfAttentionLinear,
    SelfAttentionParams,
    example_inputs,
    init_projection_weights,
    trainable_self_attention,
)
from attention_lab.exercises import (
    CheckResult,
    UnreadableAnswer,
    check,
    exercise,
    exercises,
    mistaken_value,
    read_tensor,
    spec_modules,
    value_exercise,
)
from hooks import chapters, notebooks

from .conftest import ROOT, BuiltSite

DOCS = ROOT / "docs"
SITE = "https://example.org/lab/"
INF = float("-inf")


# --- the learner's material: the chapters' tensors, written with plain torch ------------------


def inputs() -> torch.Tensor:
    return example_inputs()  # (L, E)


def scores_1() -> torch.Tensor:
    x = inputs()
    return x @ x.T  # (L, L)


def big_scores() -> torch.Tensor:
    return scores_1()[2] + 1000.0  # (L,)


def longer_scores() -> torch.Tensor:
    longer = 3 * inputs()
    return longer @ longer.T


def cosine() -> torch.Tensor:
    unit = inputs() / inputs().norm(dim=1, keepdim=True)
    return unit @ unit.T


def chapter_weights() -> ProjectionWeights:
    return init_projection_weights(3, 4, seed=123)


QUARTER_TURN = torch.tensor([[0.0, 1.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, -1.0, 0.0]])


def turned_scores() -> torch.Tensor:
    """Exercise 2.3, unscaled: keys are the queries turned, K = Q R."""
    q = inputs() @ chapter_weights().query  # (L, H)
    return q @ (q @ QUARTER_TURN).T


def scaled_scores() -> torch.Tensor:
    w = chapter_weights()
    q, k = inputs() @ w.query, inputs() @ w.key
    return q @ k.T / 2.0  # sqrt(H) = 2


def lower(diagonal: int = 0) -> torch.Tensor:
    return torch.tril(torch.ones(6, 6, dtype=torch.bool), diagonal=diagonal)


def copied_linear(transform: Callable[[torch.Tensor], torch.Tensor], order: tuple[int, int, int] = (0, 1, 2)) -> SelfAttentionLinear:
    """`SelfAttentionLinear(3, 4, seed=7)` with `transform(W)` of the chapter's W copied in, in `order`."""
    params = SelfAttentionParams(3, 4, seed=123)
    linear = SelfAttentionLinear(3, 4, seed=7)
    sources = (params.W_query, params.W_key, params.W_value)
    with torch.no_grad():
        for layer, source in zip((linear.W_query, linear.W_key, linear.W_value), order):
            layer.weight.copy_(transform(sources[source]))
    return linear


def attend_along(direction: list[float], factor: float, hidden: int = 4) -> ProjectionWeights:
    """W_q with every row `factor * direction` then zero columns, W_k = W_v = I padded: (3, hidden) each.

    Every query is a positive multiple of `direction` (for the six positive embeddings), so every
    token attends to the token whose embedding leads along `direction`.
    """
    d = torch.tensor(direction)
    w_q = torch.zeros(3, hidden)
    w_q[:, :3] = factor * torch.ones(3, 1) * d
    return ProjectionWeights(w_q, torch.eye(3, hidden), torch.eye(3, hidden))


def one_to_step(factor: float) -> ProjectionWeights:
    """Exercise 2.4 as a learner solves it: keys x_1 - x_0, the query of 'one' `factor` * x_0."""
    w_q, w_k = torch.zeros(3, 4), torch.zeros(3, 4)
    w_q[0, 0] = factor
    w_k[:, 0] = torch.tensor([-1.0, 1.0, 0.0])
    return ProjectionWeights(w_q, w_k, torch.eye(3, 4))


def chapter_4_module() -> MultiHeadAttention:
    return MultiHeadAttention(3, 3, seed=7)


def heads_weights(torch_mask: torch.Tensor | None) -> torch.Tensor:
    """Per-head weights (heads, L, L) of chapter 4's module, from nn.MultiheadAttention (True = masked out)."""
    mha = copied_mha(lambda w: w.T)
    with torch.no_grad():
        _, weights = mha(inputs(), inputs(), inputs(), attn_mask=torch_mask, average_attn_weights=False)
    return weights


def copied_mha(
    transform: Callable[[torch.Tensor], torch.Tensor],
    *,
    out: Callable[[torch.Tensor], torch.Tensor] | None = None,
    order: tuple[int, int, int] = (0, 1, 2),
    in_bias: float = 0.0,
) -> nn.MultiheadAttention:
    """An nn.MultiheadAttention(3, 3) holding chapter 4's module, copied by hand as a learner would."""
    ours = chapter_4_module()
    mha = nn.utils.skip_init(nn.MultiheadAttention, 3, 3, batch_first=True)  # every parameter is set below
    matrices = (ours.W_query, ours.W_key, ours.W_value)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([transform(matrices[i]) for i in order]))
        mha.in_proj_bias.fill_(in_bias)
        mha.out_proj.weight.copy_((out or transform)(ours.W_out))
        mha.out_proj.bias.copy_(ours.out_bias)
    return mha


def qkv() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Chapter 2's Q, K, V of the six words, each (L, H), as chapter 5 uses them."""
    w = chapter_weights()
    return inputs() @ w.query, inputs() @ w.key, inputs() @ w.value


def padded_loop(*, mask: bool = True, blocks: int = 2, rescale_output: bool = True) -> torch.Tensor:
    """Exercise 5.4 as a learner writes it: K and V padded with zero rows to 8, key blocks of 4."""
    q, k, v = qkv()
    k_pad, v_pad = torch.cat([k, torch.zeros(2, 4)]), torch.cat([v, torch.zeros(2, 4)])
    m, ell, o = torch.full((6, 1), INF), torch.zeros(6, 1), torch.zeros(6, 4)
    for start in range(0, 4 * blocks, 4):
        s = q @ k_pad[start : start + 4].T / 2.0
        if mask:
            s = s.masked_fill(torch.arange(start, start + 4) >= 6, INF)
        new_m = torch.maximum(m, s.max(dim=1, keepdim=True).values)
        p = torch.exp(s - new_m)
        ell = ell * torch.exp(m - new_m) + p.sum(dim=1, keepdim=True)
        o = (o * torch.exp(m - new_m) if rescale_output else o) + p @ v_pad[start : start + 4]
        m = new_m
    return o / ell


def halves() -> tuple[tuple[float, float, torch.Tensor], tuple[float, float, torch.Tensor]]:
    """(max, sum of exp(s - max), softmax(s) @ v) of each half of the keys of query 1."""
    q, k, v = qkv()
    row = q[1] @ k.T / 2.0
    found = []
    for part in (slice(0, 3), slice(3, 6)):
        s = row[part]
        top = float(s.max())
        found.append((top, float(torch.exp(s - top).sum()), F.softmax(s, dim=0) @ v[part]))
    return found[0], found[1]


def merged(sign: float = 1.0, rescale: bool = True) -> torch.Tensor:
    (m1, l1, z1), (m2, l2, z2) = halves()
    top = max(m1, m2)
    a1 = l1 * math.exp(sign * (m1 - top)) if rescale else l1
    a2 = l2 * math.exp(sign * (m2 - top)) if rescale else l2
    return (a1 * z1 + a2 * z2) / (a1 + a2)


def full_weights_3() -> torch.Tensor:
    """Chapter 3's starting point: chapter 2's scaled weights, no mask, (L, L)."""
    return F.softmax(scaled_scores(), dim=1)


def renormalising_factor(row: int) -> torch.Tensor:
    return 1.0 / full_weights_3()[row, : row + 1].sum()


def real_keys(lengths: list[int], tokens: int) -> torch.Tensor:
    return torch.arange(tokens) < torch.tensor(lengths)[:, None]  # (B, L)


def batch_mask(*, causal: bool = True, padding: str = "keys") -> torch.Tensor:
    """Exercise 3.4 as a learner writes it: lengths (4, 2, 5), L = 5."""
    real = real_keys([4, 2, 5], 5)
    mask = torch.ones(3, 5, 5, dtype=torch.bool)
    if causal:
        mask = mask & torch.tril(torch.ones(5, 5, dtype=torch.bool))
    if padding == "keys":
        mask = mask & real[:, None, :]
    elif padding == "queries":
        mask = mask & real[:, :, None]
    return mask


def from_mha(*, attn: str = "~", padding: str = "~", combine: str = "&", axis: str = "keys") -> torch.Tensor:
    """Exercise 3.5 as a learner writes it, from nn.MultiheadAttention's two masks."""
    attn_mask = torch.ones(5, 5, dtype=torch.bool).triu(diagonal=1)
    key_padding_mask = torch.tensor([[False, False, False, True, True], [False] * 5])
    a = ~attn_mask if attn == "~" else attn_mask
    k = ~key_padding_mask if padding == "~" else key_padding_mask
    k = k[:, None, :] if axis == "keys" else k[:, :, None]
    return a & k if combine == "&" else a | k


def turned(x: torch.Tensor, *, interleaved: bool = False) -> torch.Tensor:
    """RoPE written out with 2-d rotation matrices, one pair at a time (H = 4, base 10,000)."""
    pairs = [(0, 1), (2, 3)] if interleaved else [(0, 2), (1, 3)]
    out = x.clone()
    for m in range(x.shape[0]):
        for i, (a, b) in enumerate(pairs):
            angle = m * 10_000 ** (-2 * i / 4)
            c, s = math.cos(angle), math.sin(angle)
            out[m, a], out[m, b] = c * x[m, a] - s * x[m, b], s * x[m, a] + c * x[m, b]
    return out


def rope_score(*, scale: float = 2.0, turn_query: bool = True, turn_key: bool = True, interleaved: bool = False) -> float:
    """Exercise 6.4: the score of query 5 ("step") against key 2 ("starts"), chapter 2's projections."""
    weights = chapter_weights()
    queries, keys = inputs() @ weights.query, inputs() @ weights.key  # (L, H)
    queries = turned(queries, interleaved=interleaved) if turn_query else queries
    keys = turned(keys, interleaved=interleaved) if turn_key else keys
    return float(queries[5] @ keys[2]) / scale


def checkpoint_query() -> torch.Tensor:
    """Exercise 6.5's W_q, (E, H) = (3, 6)."""
    return init_projection_weights(3, 6, seed=123).query


# Right answers, computed here independently of the pages and of the spec modules.
RIGHT: dict[str, Callable[[], object]] = {
    "1.1": lambda: 0.77 * 0.55 + 0.25 * 0.87 + 0.10 * 0.66,
    "1.2": lambda: F.softmax(scores_1()[4], dim=0)[1],
    "1.3": lambda: F.softmax(big_scores(), dim=0),
    "1.4": lambda: F.softmax(longer_scores(), dim=1),
    "1.5": lambda: F.softmax(cosine(), dim=1),
    "2.1": lambda: (3 * 768 * 64, 3 * (768 * 64 + 64)),
    "2.2": lambda: copied_linear(lambda w: w.T),
    "2.3": lambda: turned_scores() / 2.0,
    "2.4": lambda: one_to_step(30.0),
    "2.5": lambda: F.softmax(scaled_scores().masked_fill(~lower(), INF), dim=1),
    "3.1": lambda: 10 * 9 // 2,
    "3.2": lambda: renormalising_factor(3),
    "3.3": lambda: (0.3 / 0.75, 0.75 * (0.3 / 0.75)),
    "3.4": lambda: batch_mask(),
    "3.5": lambda: from_mha(),
    "4.1": lambda: 4 * 1024 * 1024 + 4 * 1024,
    "4.2": lambda: torch.arange(24.0).reshape(6, 4)[:, 2:4],
    "4.3": lambda: torch.tensor([[0.0, 1, 6, 7], [2, 3, 8, 9], [4, 5, 10, 11]]),
    "4.4": lambda: heads_weights(~lower())[:, 4].mean(dim=0),
    "4.5": lambda: copied_mha(lambda w: w.T),
    "5.1": lambda: 2 * 32768**2 * 2 / 2**30,
    "5.2": lambda: (4.0, 3 * math.exp(-2) + math.exp(-3) + 1.0),
    "5.3": lambda: (8 * 8, 8 * 9 // 2),
    "5.4": lambda: F.softmax(qkv()[0] @ qkv()[1].T / 2.0, dim=1) @ qkv()[2],
    "5.5": lambda: F.scaled_dot_product_attention(*qkv())[1],
    "6.1": lambda: 0.01,
    "6.2": lambda: 1.0,
    "6.3": lambda: [math.sin(2), math.cos(2), math.sin(0.02), math.cos(0.02)],
    "6.4": lambda: rope_score(),
    "6.5": lambda: checkpoint_query()[:, [0, 2, 4, 1, 3, 5]],
    "7.1": lambda: 2 * 32 * 8 * 128 * 8192 * 2 / 2**30,
    "7.2": lambda: torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]).bool(),
    "7.3": lambda: 9,
    "7.4": lambda: 3,
    "7.5": lambda: 4095,
}

# Every recognised mistake, made the way a learner makes it.
MISTAKES: dict[tuple[str, str], Callable[[], object]] = {
    ("1.1", "counted_from_1"): lambda: float(inputs()[3] @ inputs()[0]),
    ("1.1", "not_summed"): lambda: inputs()[4] * inputs()[1],
    ("1.1", "weight_not_score"): lambda: F.softmax(scores_1(), dim=1)[4, 1],
    ("1.1", "self_score"): lambda: inputs()[4] @ inputs()[4],
    ("1.2", "swapped"): lambda: F.softmax(scores_1(), dim=0)[4, 1],  # a softmax down the columns
    ("1.2", "scores"): lambda: scores_1()[4, 1],
    ("1.2", "softmax_of_one_score"): lambda: F.softmax(scores_1()[4, 1:2], dim=0),
    ("1.2", "divided_by_sum"): lambda: scores_1()[4, 1] / scores_1()[4].sum(),
    ("1.2", "counted_from_1"): lambda: F.softmax(scores_1()[3], dim=0)[0],
    ("1.3", "overflow"): lambda: torch.exp(big_scores()) / torch.exp(big_scores()).sum(),
    ("1.3", "not_normalised"): lambda: torch.exp(big_scores() - big_scores().max()),
    ("1.3", "no_exp"): lambda: big_scores() - big_scores().max(),
    ("1.3", "divided_by_sum"): lambda: big_scores() / big_scores().sum(),
    ("1.4", "scores_times_3"): lambda: F.softmax(3 * scores_1(), dim=1),
    ("1.4", "unchanged"): lambda: F.softmax(scores_1(), dim=1),
    ("1.4", "columns"): lambda: F.softmax(longer_scores(), dim=0),
    ("1.4", "scores"): longer_scores,
    ("1.5", "dot_product"): lambda: F.softmax(scores_1(), dim=1),
    ("1.5", "columns"): lambda: F.softmax(cosine(), dim=0),
    ("1.5", "scores"): cosine,
    ("1.5", "normalised_dimensions"): lambda: F.softmax(
        (inputs() / inputs().norm(dim=0, keepdim=True)) @ (inputs() / inputs().norm(dim=0, keepdim=True)).T, dim=1
    ),
    ("1.5", "pairs_on_the_diagonal_only"): lambda: F.cosine_similarity(inputs(), inputs()),
    ("2.1", "one_number"): lambda: 3 * 768 * 64,
    ("2.1", "one_projection"): lambda: (768 * 64, 768 * 64 + 64),
    ("2.1", "forgot_bias"): lambda: [3 * 768 * 64, 3 * 768 * 64],
    ("2.1", "one_bias"): lambda: torch.tensor([3 * 768 * 64, 3 * 768 * 64 + 64]),
    ("2.1", "square"): lambda: (3 * 768 * 768, 3 * (768 * 768 + 768)),
    ("2.2", "reshaped"): lambda: copied_linear(lambda w: w.reshape(4, 3)),
    ("2.2", "untouched"): lambda: SelfAttentionLinear(3, 4, seed=7),
    ("2.2", "mixed_up"): lambda: copied_linear(lambda w: w.T, order=(0, 2, 1)),
    ("2.3", "unscaled"): turned_scores,
    ("2.3", "sign_flipped"): lambda: (inputs() @ chapter_weights().query @ QUARTER_TURN) @ (inputs() @ chapter_weights().query).T / 2.0,  # K Qᵀ
    ("2.3", "symmetric"): lambda: (inputs() @ chapter_weights().query @ QUARTER_TURN) @ (inputs() @ chapter_weights().query @ QUARTER_TURN).T / 2.0,
    ("2.3", "original_keys"): scaled_scores,
    ("2.3", "weights"): lambda: F.softmax(turned_scores() / 2.0, dim=1),
    ("2.3", "divided_by_H"): lambda: turned_scores() / 4.0,
    ("2.4", "reversed"): lambda: ProjectionWeights(  # keys x_0 - x_1, led by 'one'; query 40 x_1, long for 'step'
        torch.tensor([[0.0, 0.0, 0.0, 0.0], [40.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]),
        torch.tensor([[1.0, 0.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]),
        torch.eye(3, 4),
    ),
    ("2.4", "counted_from_1"): lambda: ProjectionWeights(  # keys x_0 - x_1 - x_2, led by 'one'; query 40 x_0
        40.0 * torch.eye(3, 4)[:, :1] * torch.eye(1, 4), torch.tensor([[1.0], [-1.0], [-1.0]]) * torch.eye(1, 4), torch.eye(3, 4)
    ),
    ("2.4", "chapter_pair"): lambda: ProjectionWeights(  # section 2.6's columns in hidden coordinate 2, padded to H = 4
        torch.tensor([[0.0], [2.0], [2.0]]) * torch.eye(1, 4)[:, [3, 1, 0, 2]], torch.tensor([[1.0], [-1.0], [0.0]]) * torch.eye(1, 4)[:, [3, 1, 0, 2]], torch.eye(3, 4)
    ),
    ("2.4", "unscaled_only"): lambda: one_to_step(20.0),
    ("2.5", "future_kept"): lambda: F.softmax(
        scaled_scores().masked_fill(~torch.triu(torch.ones(6, 6, dtype=torch.bool)), INF), dim=1
    ),
    ("2.5", "zero_not_inf"): lambda: F.softmax(scaled_scores() * torch.tril(torch.ones(6, 6)), dim=1),
    ("2.5", "zeroed_after_softmax"): lambda: F.softmax(scaled_scores(), dim=1) * torch.tril(torch.ones(6, 6)),
    ("2.5", "diagonal_hidden"): lambda: F.softmax(scaled_scores().masked_fill(~lower(-1), INF), dim=1),
    ("2.5", "polarity"): lambda: F.softmax(scaled_scores().masked_fill(lower(), INF), dim=1),
    ("2.5", "unscaled"): lambda: F.softmax((scaled_scores() * 2.0).masked_fill(~lower(), INF), dim=1),
    ("2.5", "transposed"): lambda: F.softmax(scaled_scores().masked_fill(~lower(), INF), dim=1).T,
    ("2.5", "columns"): lambda: F.softmax(scaled_scores().masked_fill(~lower(), INF), dim=0),
    ("3.1", "kept"): lambda: int(torch.tril(torch.ones(10, 10)).sum()),
    ("3.1", "half"): lambda: 10 * 10 / 2,
    ("3.1", "one_row"): lambda: 10 - 1,
    ("3.1", "diagonal_only"): lambda: 10 * 10 - 10,
    ("3.2", "kept_sum"): lambda: full_weights_3()[3, :4].sum(),
    ("3.2", "future_weight"): lambda: full_weights_3()[3, 4:].sum(),
    ("3.2", "inverse_future"): lambda: 1.0 / full_weights_3()[3, 4:].sum(),
    ("3.2", "wrong_row"): lambda: renormalising_factor(2),
    ("3.3", "one_number"): lambda: 0.3,
    ("3.3", "unscaled"): lambda: (0.3, 0.75 * 0.3),
    ("3.3", "times_keep"): lambda: (0.3 * 0.75, 0.75 * 0.3 * 0.75),
    ("3.3", "divided_by_p"): lambda: (0.3 / 0.25, 0.75 * 0.3 / 0.25),
    ("3.3", "survivors_only"): lambda: (0.4, 0.4),
    ("3.4", "polarity"): lambda: ~batch_mask(),
    ("3.4", "causal_only"): lambda: batch_mask(padding="none"),
    ("3.4", "padding_only"): lambda: batch_mask(causal=False),
    ("3.4", "queries_masked"): lambda: batch_mask(padding="queries"),
    ("3.4", "transposed"): lambda: batch_mask().transpose(1, 2),
    ("3.5", "not_inverted"): lambda: from_mha(attn="", padding="", combine="|"),
    ("3.5", "or_not_and"): lambda: from_mha(combine="|"),
    ("3.5", "padding_on_queries"): lambda: from_mha(axis="queries"),
    ("3.5", "padding_not_inverted"): lambda: from_mha(padding=""),
    ("3.5", "attn_not_inverted"): lambda: from_mha(attn=""),
    ("3.5", "transposed"): lambda: from_mha().transpose(1, 2),
    ("4.1", "no_biases"): lambda: 4 * 1024**2,
    ("4.1", "out_bias_only"): lambda: 4 * 1024**2 + 1024,
    ("4.1", "no_out_projection"): lambda: 3 * (1024**2 + 1024),
    ("4.1", "head_squares"): lambda: 16 * 4 * 64 * 64 + 4 * 1024,
    ("4.1", "per_head_full_size"): lambda: 16 * 3 * (1024**2 + 1024) + 1024**2 + 1024,
    ("4.2", "view_only"): lambda: torch.arange(24.0).reshape(6, 4).view(2, 6, 2)[1],
    ("4.2", "head_0"): lambda: torch.arange(24.0).reshape(6, 4)[:, :2],
    ("4.2", "no_transpose"): lambda: torch.arange(24.0).reshape(6, 4).view(6, 2, 2)[1],
    ("4.3", "reshape_only"): lambda: torch.arange(12.0).reshape(3, 4),
    ("4.3", "heads_reversed"): lambda: torch.tensor([[6.0, 7, 0, 1], [8, 9, 2, 3], [10, 11, 4, 5]]),
    ("4.3", "stacked_down"): lambda: torch.cat(list(torch.arange(12.0).reshape(2, 3, 2))),
    ("4.4", "one_head"): lambda: heads_weights(~lower())[2, 4],
    ("4.4", "summed"): lambda: heads_weights(~lower())[:, 4].sum(dim=0),
    ("4.4", "not_causal"): lambda: heads_weights(None)[:, 4].mean(dim=0),
    ("4.4", "polarity"): lambda: heads_weights(lower())[:, 4].mean(dim=0),
    ("4.4", "counted_from_1"): lambda: heads_weights(~lower())[:, 3].mean(dim=0),
    ("4.5", "not_transposed"): lambda: copied_mha(lambda w: w),
    ("4.5", "out_not_transposed"): lambda: copied_mha(lambda w: w.T, out=lambda w: w),
    ("4.5", "order"): lambda: copied_mha(lambda w: w.T, order=(1, 0, 2)),
    ("4.5", "bias_kept"): lambda: copied_mha(lambda w: w.T, in_bias=0.1),
    ("5.1", "one_matrix"): lambda: 32768**2 * 2 / 2**30,
    ("5.1", "float32"): lambda: 2 * 32768**2 * 4 / 2**30,
    ("5.1", "bytes"): lambda: 2 * 32768**2 * 2,
    ("5.1", "gigabytes"): lambda: 2 * 32768**2 * 2 / 1e9,
    ("5.2", "one_number"): lambda: 3 * math.exp(-2) + math.exp(-3) + 1.0,
    ("5.2", "not_rescaled"): lambda: (4.0, 3.0 + math.exp(-3) + 1.0),
    ("5.2", "factor_inverted"): lambda: (4.0, 3.0 * math.exp(2) + math.exp(-3) + 1.0),
    ("5.2", "max_not_updated"): lambda: (2.0, 3.0 + math.exp(1.0 - 2.0) + math.exp(4.0 - 2.0)),
    ("5.2", "old_sum_dropped"): lambda: [4.0, math.exp(-3) + 1.0],
    ("5.3", "one_number"): lambda: 64,
    ("5.3", "floor"): lambda: ((1000 // 128) ** 2, (1000 // 128) * (1000 // 128 + 1) // 2),
    ("5.3", "half"): lambda: (64, 64 // 2),
    ("5.3", "diagonal_skipped"): lambda: (64, 8 * 7 // 2),
    ("5.3", "blocks_not_tiles"): lambda: (math.ceil(1000 / 128), math.ceil(1000 / 128)),
    ("5.4", "padding_attended"): lambda: padded_loop(mask=False),
    ("5.4", "last_block_dropped"): lambda: padded_loop(blocks=1),
    ("5.4", "output_not_rescaled"): lambda: padded_loop(rescale_output=False),
    ("5.4", "unscaled"): lambda: F.softmax(qkv()[0] @ qkv()[1].T, dim=1) @ qkv()[2],
    ("5.5", "averaged"): lambda: (halves()[0][2] + halves()[1][2]) / 2,
    ("5.5", "sums_not_rescaled"): lambda: merged(rescale=False),
    ("5.5", "factor_inverted"): lambda: merged(sign=-1.0),
    ("5.5", "first_half_only"): lambda: halves()[0][2],
    ("5.5", "second_half_only"): lambda: halves()[1][2],
    ("5.5", "unscaled"): lambda: (F.softmax(qkv()[0] @ qkv()[1].T, dim=1) @ qkv()[2])[1],
    ("5.5", "counted_from_1"): lambda: F.scaled_dot_product_attention(*qkv())[0],
    ("6.1", "no_two"): lambda: 10_000 ** (-16 / 64),
    ("6.1", "positive_exponent"): lambda: 10_000 ** (32 / 64),
    ("6.1", "llama_3_base"): lambda: 500_000 ** (-32 / 64),
    ("6.1", "pairs_from_one"): lambda: 10_000 ** (-34 / 64),
    ("6.2", "pair_zero"): lambda: 100 * 1.0,
    ("6.2", "positions_from_one"): lambda: 101 * 0.01,
    ("6.2", "degrees"): lambda: math.degrees(100 * 0.01),
    ("6.3", "cos_first"): lambda: [math.cos(2), math.sin(2), math.cos(0.02), math.sin(0.02)],
    ("6.3", "halves"): lambda: [math.sin(2), math.sin(0.02), math.cos(2), math.cos(0.02)],
    ("6.3", "positions_from_one"): lambda: [math.sin(3), math.cos(3), math.sin(0.03), math.cos(0.03)],
    ("6.4", "unscaled"): lambda: rope_score(scale=1.0),
    ("6.4", "queries_only"): lambda: rope_score(turn_key=False),
    ("6.4", "no_rope"): lambda: rope_score(turn_query=False, turn_key=False),
    ("6.4", "interleaved"): lambda: rope_score(interleaved=True),
    ("6.5", "unchanged"): lambda: checkpoint_query(),
    ("6.5", "inverse"): lambda: checkpoint_query()[:, [0, 3, 1, 4, 2, 5]],
    ("7.1", "query_heads"): lambda: 2 * 32 * 32 * 128 * 8192 * 2 / 2**30,
    ("7.1", "keys_only"): lambda: 32 * 8 * 128 * 8192 * 2 / 2**30,
    ("7.1", "float32"): lambda: 2 * 32 * 8 * 128 * 8192 * 4 / 2**30,
    ("7.1", "gigabytes"): lambda: 2 * 32 * 8 * 128 * 8192 * 2 / 1e9,
    ("7.2", "top_left"): lambda: torch.tensor([[1, 0, 0, 0, 0], [1, 1, 0, 0, 0]]).bool(),
    ("7.2", "no_mask"): lambda: torch.ones(2, 5, dtype=torch.bool),
    ("7.2", "upper_triangle"): lambda: torch.tensor([[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]).bool(),
    ("7.3", "from_one"): lambda: 10,
    ("7.3", "prompt_forgotten"): lambda: 2,
    ("7.3", "rank"): lambda: 3,
    ("7.4", "tiled"): lambda: 6 % 4,
    ("7.4", "divided_by_kv_heads"): lambda: 6 // 4,
    ("7.5", "window"): lambda: 4096,
    ("7.5", "everything"): lambda: 10_000,
    ("7.5", "w_plus_one"): lambda: 4097,
}


def ids() -> list[str]:
    return [item.id for item in exercises()]


# --- the registry ------------------------------------------------------------------------------


def test_chapters_1_and_2_have_at_least_five_exercises_each_with_two_mistakes() -> None:
    assert [module.CHAPTER for module in spec_modules()][:2] == [1, 2]
    for module in spec_modules():
        assert len(module.EXERCISES) >= 5, f"chapter {module.CHAPTER} needs at least 5 exercises"
        assert (DOCS / module.PAGE).is_file()
    for item in exercises():
        assert len(item.mistakes) >= 2, f"exercise {item.id} knows fewer than 2 mistakes"
        names = [mistake.name for mistake in item.mistakes]
        assert len(set(names)) == len(names), f"exercise {item.id} names two mistakes alike"


def test_every_recognised_mistake_is_made_by_a_test() -> None:
    registered = {(item.id, mistake.name) for item in exercises() for mistake in item.mistakes}
    assert registered == set(MISTAKES)
    assert set(RIGHT) == set(ids())


def test_no_chapter_module_imports_the_exercises() -> None:
    for module in sorted((ROOT / "attention_lab").glob("*.py")):
        assert "exercises" not in re.findall(r"^\s*(?:from|import) attention_lab\.(\w+)", module.read_text(encoding="utf-8"), re.MULTILINE)


def test_an_unknown_or_badly_typed_exercise_id_raises_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"no exercise has the id '1\.9'; the exercises are 1\.1, 1\.2"):
        check("1.9", 0.5)
    with pytest.raises(TypeError, match="exercise_id must be a str such as '1.1', got float"):
        check(1.1, 0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="chapter must be an int or None, got str"):
        exercises("1")  # type: ignore[arg-type]


# --- the checker -------------------------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", list(RIGHT))
def test_a_right_answer_is_right(exercise_id: str) -> None:
    result = check(exercise_id, RIGHT[exercise_id]())
    assert result.verdict == "right" and result and result.correct
    assert repr(result).startswith(f"✓ {exercise_id} is right.")


@pytest.mark.parametrize(("exercise_id", "name"), list(MISTAKES), ids=[f"{i}-{n}" for i, n in MISTAKES])
def test_each_common_mistake_gets_its_own_message(exercise_id: str, name: str) -> None:
    result = check(exercise_id, MISTAKES[(exercise_id, name)]())
    expected = next(mistake for mistake in exercise(exercise_id).mistakes if mistake.name == name)
    assert (result.verdict, result.mistake) == ("mistake", name), repr(result)
    assert repr(result) == f"✗ {exercise_id} is not right yet: {expected.message}"


def transposed(exercise_id: str) -> Callable[[], object]:
    """The right answer of a matrix exercise with its last two axes swapped, as a learner's `.T` gives it."""
    return lambda: torch.as_tensor(RIGHT[exercise_id]()).mT


# The four mistakes every exercise must recognise where they apply (issue 35): the answer
# transposed, the softmax over the wrong axis, the scores not divided by √H, the wrong query
# (indices counted from 1). Where a named mistake of the exercise is that mistake, its
# learner-written form above; a transposed matrix of another shape is named by its shape.
TYPICAL_MISTAKES: dict[tuple[str, str], Callable[[], object]] = {
    **{(i, "transposed"): transposed(i) for i in ("1.4", "1.5", "2.3", "2.5", "3.4", "3.5", "4.2", "4.3", "5.4", "6.5", "7.2")},
    ("4.5", "transposed"): MISTAKES[("4.5", "not_transposed")],
    ("1.2", "wrong axis"): MISTAKES[("1.2", "swapped")],
    **{(i, "wrong axis"): MISTAKES[(i, "columns")] for i in ("1.4", "1.5", "2.5")},
    **{(i, "unscaled"): MISTAKES[(i, "unscaled")] for i in ("2.3", "2.5", "5.4", "5.5", "6.4")},
    ("2.4", "unscaled"): MISTAKES[("2.4", "unscaled_only")],
    **{(i, "wrong query"): MISTAKES[(i, "counted_from_1")] for i in ("1.1", "1.2", "4.4", "5.5")},
    ("3.2", "wrong query"): MISTAKES[("3.2", "wrong_row")],
    ("6.3", "wrong query"): MISTAKES[("6.3", "positions_from_one")],
    ("7.3", "wrong query"): MISTAKES[("7.3", "from_one")],
}


@pytest.mark.parametrize(("exercise_id", "kind"), list(TYPICAL_MISTAKES), ids=[f"{i}-{k}" for i, k in TYPICAL_MISTAKES])
def test_the_typical_mistakes_get_a_named_diagnosis(exercise_id: str, kind: str) -> None:
    """Not the generic "largest difference at ...": a message that names what was done."""
    result = check(exercise_id, TYPICAL_MISTAKES[(exercise_id, kind)]())
    named = result.verdict == "mistake" or (kind == "transposed" and result.message.endswith("did you transpose?"))
    assert named, repr(result)


def test_the_messages_name_what_went_wrong() -> None:
    """The wording the issue asks for, on the mistakes it names."""
    assert "your columns sum to 1, not your rows" in repr(check("1.4", MISTAKES[("1.4", "columns")]()))
    assert "did you forget the softmax?" in repr(check("1.4", longer_scores()))
    assert "divide by √H" in repr(check("2.3", turned_scores()))
    assert "indices count from 0" in repr(check("1.1", MISTAKES[("1.1", "counted_from_1")]()))


def perturbed(value: torch.Tensor, seed: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """`value` plus random noise, and the index of the largest change."""
    noise = 0.05 * torch.randn(value.shape, generator=torch.Generator().manual_seed(seed), dtype=value.dtype)
    index = tuple(int(i) for i in torch.unravel_index(noise.abs().argmax(), value.shape))
    return value + noise, index


@pytest.mark.parametrize("exercise_id", ["1.3", "1.4", "1.5", "2.3", "2.5", "5.4", "5.5"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_random_wrong_tensor_gets_where_it_differs_most(exercise_id: str, seed: int) -> None:
    right = torch.as_tensor(RIGHT[exercise_id]())
    wrong, index = perturbed(right, seed)
    result = check(exercise_id, wrong)
    assert result.verdict == "wrong", repr(result)
    given = float(wrong[index])
    off = abs(given - float(right[index]))
    position = "[" + ", ".join(str(i) for i in index) + "]"
    assert f"the largest difference is at {position}" in result.message
    assert f"you have {given:.4f}, which is {off:.4f} too" in result.message


@pytest.mark.parametrize("exercise_id", ["3.4", "3.5"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_mask_with_random_entries_flipped_gets_where_it_differs(exercise_id: str, seed: int) -> None:
    right = torch.as_tensor(RIGHT[exercise_id]())
    generator = torch.Generator().manual_seed(seed)
    flips = torch.randperm(right.numel(), generator=generator)[: 1 + seed]  # 1 to 3 entries
    wrong = right.flatten().clone()
    wrong[flips] = ~wrong[flips]
    result = check(exercise_id, wrong.reshape(right.shape))
    assert result.verdict == "wrong", repr(result)
    first = tuple(int(i) for i in torch.unravel_index(flips.min(), right.shape))
    given = int(wrong[flips.min()])
    assert result.message.startswith(
        f"the largest difference is at [{first[0]}, {first[1]}, {first[2]}] "
        f"(sentence {first[0]}, row {first[1]}, column {first[2]}): you have {given}, which is 1 too "
    )
    assert result.message.endswith(f"{1 + seed} of {right.numel()} entries differ by more than 0.0001")

def test_a_wrong_number_gets_how_far_off_it_is() -> None:
    assert repr(check("1.1", 0.6)) == "✗ 1.1 is not right yet: you have 0.6000, which is 0.1070 too small"
    assert check("2.1", (147456 + 7, 147648)).message.startswith(
        "the largest difference is at [0]: you have 147463, which is 7 too large"
    )
    assert repr(check("3.1", 44)) == "✗ 3.1 is not right yet: you have 44, which is 1 too small"
    assert check("3.3", (0.4, 0.35)).message.startswith("the largest difference is at [1]: you have 0.3500, which is 0.0500 too large")
    assert repr(check("5.1", 3.5)) == "✗ 5.1 is not right yet: you have 3.5000, which is 0.5000 too small"
    assert check("5.2", (4.0, 1.5)).message.startswith("the largest difference is at [1]: you have 1.5000, which is 0.0442 too large")
    assert check("5.3", (64, 37)).message.startswith("the largest difference is at [1]: you have 37, which is 1 too large")


def test_a_module_with_one_wrong_weight_is_named_by_layer_row_and_column() -> None:
    linear = copied_linear(lambda w: w.T)
    with torch.no_grad():
        linear.W_key.weight[2, 1] += 0.5
    assert check("2.2", linear).message.startswith(
        "the largest difference is at [1, 2, 1] (W_key, row 2, column 1): you have"
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_projection_weights_get_how_far_short_they_fall(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    answer = ProjectionWeights(*(torch.randn(3, 4, generator=generator) for _ in range(3)))
    weight = float(trainable_self_attention(inputs(), answer).weights[4, 5])
    result = check("2.4", answer)
    assert result.verdict == "wrong", repr(result)
    assert result.message.startswith(f"with your matrices 'one' gives 'step' a weight of {weight:.4f}")
    assert f"{0.9 - weight:.4f} short of 0.9" in result.message


def test_a_query_too_short_for_0_9_is_told_to_grow() -> None:
    result = check("2.4", one_to_step(10.0))  # 'step' leads, with 0.6234 scaled and 0.8982 unscaled
    assert result.verdict == "wrong"
    assert result.message == (
        "with your matrices 'one' gives 'step' a weight of 0.6234 (α_45, scaled attention), 0.2766 short of 0.9; "
        "'step' already gets its largest weight, but the other scores are too close: make the query longer."
    )


BAD_ANSWERS: list[tuple[object, str]] = [
    ("0.7", "expected a number or a torch.Tensor, got a str ('0.7'): write the number itself, without quotes"),
    ({"a": 1}, "expected a number or a torch.Tensor, got a dict"),
    (True, "expected a number or a torch.Tensor, got the bool True"),
    ([[1.0, 2.0], [3.0]], "expected a torch.Tensor, a number or a list of numbers, got a list that is not a rectangular list of numbers"),
    (torch.tensor([1j]), "expected a real tensor, got dtype torch.complex64"),
    (None, "answer is None: assign the result to answer (a function that only prints returns None)."),
]


@pytest.mark.parametrize("exercise_id", ["1.1", "1.4", "2.1", "2.3", "3.3", "3.4", "5.2", "5.4"])
@pytest.mark.parametrize(("answer", "message"), BAD_ANSWERS, ids=[type(a).__name__ for a, _ in BAD_ANSWERS])
def test_an_answer_of_the_wrong_type_gets_a_clear_message(exercise_id: str, answer: object, message: str) -> None:
    result = check(exercise_id, answer)
    assert (result.verdict, result.message) == ("unreadable", message)
    assert "Traceback" not in repr(result)


@pytest.mark.parametrize(
    ("exercise_id", "answer", "message"),
    [
        ("1.4", torch.zeros(6), "expected shape (6, 6), got (6,)"),
        ("1.1", torch.zeros(2, 3), "expected one number, got a tensor of shape (2, 3)"),
        ("2.1", (1, 2, 3), "expected shape (2,), got (3,)"),
        ("2.2", SelfAttentionParams(3, 4, seed=123), "expected your SelfAttentionLinear module (the one you copied the weights into), got a SelfAttentionParams"),
        ("2.2", SelfAttentionLinear(3, 5, seed=0), "expected a SelfAttentionLinear(3, 4), got embed_dim=3, hidden_dim=5"),
        ("2.4", torch.eye(3), "expected ProjectionWeights(W_q, W_k, W_v), three (3, H) matrices, got a Tensor"),
        ("2.4", (torch.eye(3), torch.eye(3), [1.0]), "expected ProjectionWeights(W_q, W_k, W_v) holding three torch.Tensor matrices"),
        ("2.4", ProjectionWeights(torch.eye(2), torch.eye(2), torch.eye(2)), "these projection weights cannot be used: inputs and projection_weights must have the same embedding size E, got 3 and 2"),
        ("2.4", ProjectionWeights(torch.ones(3, 1), torch.ones(3, 1), torch.ones(3, 1)), "the exercise asks for H = 4: W_q and W_k must be (3, 4), got W_q of shape (3, 1); pad unused hidden coordinates with zero columns"),
    ],
)
def test_a_wrong_shape_or_kind_gets_a_clear_message(exercise_id: str, answer: object, message: str) -> None:
    result = check(exercise_id, answer)
    assert result.message == message
    assert not result


def test_a_transposed_matrix_is_named_as_such() -> None:
    """The generic check every chapter's value exercise gets, on a non-square answer."""
    context = value_exercise("0.1", "Context vectors", lambda: F.softmax(scores_1(), dim=1) @ inputs())  # (6, 3)
    result = context.assess((F.softmax(scores_1(), dim=1) @ inputs()).T)
    assert repr(result) == "✗ 0.1 is not right yet: you have shape (3, 6), expected (6, 3): did you transpose?"


def test_nan_in_an_answer_is_reported_where_it_first_appears() -> None:
    answer = F.softmax(scaled_scores().masked_fill(lower(), INF), dim=1)  # row 5 is all NaN
    result = exercise("2.5").judge(read_tensor(answer))
    assert result is not None and result.startswith("your answer holds NaN, first at [5, 0] (query 'step', key 'Your')")


@pytest.mark.parametrize("exercise_id", ["1.1", "2.2", "2.4"])
def test_the_empty_answer_cell_says_there_is_no_answer_yet(exercise_id: str) -> None:
    result = check(exercise_id, ...)
    assert result.verdict == "missing"
    assert repr(result) == f"… {exercise_id} has no answer yet: replace the ... in `answer = ...` with your answer, then run the check again."


def test_a_mistake_that_fails_on_an_odd_shape_does_not_match() -> None:
    picky = value_exercise(
        "0.2", "Picky", lambda: torch.ones(2),
        mistakes=[mistaken_value("halves", "halved", lambda: torch.full((2,), 0.5))],
    )  # fmt: skip
    assert picky.assess(torch.full((2,), 0.5)).mistake == "halves"
    assert picky.assess(torch.zeros(7)).verdict == "wrong"
    assert CheckResult("0.2", "wrong", "x").correct is False
    with pytest.raises(UnreadableAnswer):
        read_tensor(object())


# --- the pages ---------------------------------------------------------------------------------

_EXERCISE_HEADING = re.compile(r"^### Exercise (\d+\.\d+): (.+)$", re.MULTILINE)


def exercises_section(page: str) -> tuple[str, str]:
    """(heading, body) of the page's `## N.M Exercises` section."""
    match = re.search(r"^(## \d+\.\d+ Exercises)\n(.*)\Z", page, re.MULTILINE | re.DOTALL)
    assert match, "the page needs a '## <n>.<m> Exercises' section"
    return match.group(1), match.group(2)


@pytest.mark.parametrize("module", spec_modules(), ids=lambda module: module.PAGE)
def test_the_exercises_close_the_page_each_with_a_hint_and_a_solution_that_checks(module: object) -> None:
    page = (DOCS / module.PAGE).read_text(encoding="utf-8")  # type: ignore[attr-defined]
    heading, body = exercises_section(page)
    assert heading.startswith(f"## {module.CHAPTER}.")  # type: ignore[attr-defined]
    assert "\n## " not in body, "the Exercises section must be the last section of the page"
    found = _EXERCISE_HEADING.findall(body)
    assert found == [(item.id, item.title) for item in module.EXERCISES]  # type: ignore[attr-defined]
    parts = _EXERCISE_HEADING.split(body)[1:]
    for exercise_id, _, text in zip(parts[0::3], parts[1::3], parts[2::3]):
        hint, solution = text.find('??? tip "Hint"'), text.find('??? success "Solution"')
        assert 0 < hint < solution, f"exercise {exercise_id}: a hint, then a solution"
        checks = [(source, want) for source, want in solution_statements(text[solution:]) if source.startswith("check(")]
        assert [source for source, _ in checks] == [f'check("{exercise_id}", answer)'], f"exercise {exercise_id}: one check"
        assert checks[0][1].startswith(f"✓ {exercise_id} is right."), f"exercise {exercise_id}: the check must print right"


def solution_statements(solution: str) -> list[tuple[str, str]]:
    """(source, expected output) of the doctest statements of one `??? success` block, in order."""
    lines = solution.split("\n")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() and not lines[i].startswith("    ")), len(lines))
    block = textwrap.dedent("\n".join(lines[1:end]))
    statements = []
    for body in re.findall(r"^```python\n(.*?)^```$", block, re.MULTILINE | re.DOTALL):
        statements += [(ex.source.strip(), ex.want.strip()) for ex in doctest.DocTestParser().get_examples(body)]
    return statements


def test_a_wrong_solution_on_the_page_fails_the_doc_tests_at_its_check(tmp_path: Path) -> None:
    source = (DOCS / "self-attention.md").read_text(encoding="utf-8")
    right = ">>> answer = trainable_self_attention(inputs, turned).scores  # (L, L), scaled"
    assert source.count(right) == 1
    broken = tmp_path / "broken.md"
    broken.write_text(source.replace(right, right.replace("turned)", "turned, scaled=False)")), encoding="utf-8")
    failures = conftest.failing_examples(broken)
    assert len(failures) == 1
    line, message = failures[0]
    assert broken.read_text(encoding="utf-8").splitlines()[line - 1].strip() == '>>> check("2.3", answer)'
    assert "✗ 2.3 is not right yet: these are the unscaled scores: divide by √H (here √4 = 2)" in message


# --- the notebooks -----------------------------------------------------------------------------


def exercise_notebook(module: object) -> nbformat.NotebookNode:
    page = (DOCS / module.PAGE).read_text(encoding="utf-8")  # type: ignore[attr-defined]
    return notebooks.chapter_to_notebook(
        chapters.strip_front_matter(page), chapter_url=SITE + "x/", site_url=SITE,
        api_pages=notebooks.api_reference_pages(DOCS),
    )  # fmt: skip


CHECK_CELL = re.compile(r'check\("(\d+\.\d+)", answer\)')  # an exercise's check, as the notebook hook writes it


def check_cells(notebook: nbformat.NotebookNode) -> list[tuple[str, nbformat.NotebookNode]]:
    """(exercise id, cell) of every check cell."""
    found = []
    for cell in notebook.cells:
        match = CHECK_CELL.fullmatch(cell.source)
        if cell.cell_type == "code" and match:
            found.append((match.group(1), cell))
    return found


def shown(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("data", {}).get("text/plain", "") + output.get("text", "") for output in cell.outputs)


@pytest.mark.parametrize("module", spec_modules(), ids=lambda module: module.PAGE)
def test_the_notebook_holds_empty_answers_and_checks_but_no_solution(module: object) -> None:
    notebook = exercise_notebook(module)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    ids_ = [item.id for item in module.EXERCISES]  # type: ignore[attr-defined]
    assert code.count(notebooks.ANSWER_CELL) == len(ids_)
    assert [exercise_id for exercise_id, _ in check_cells(notebook)] == ids_
    text = "\n".join(cell.source for cell in notebook.cells)
    assert "Solution" not in text and "is right." not in text
    page = (DOCS / module.PAGE).read_text(encoding="utf-8")  # type: ignore[attr-defined]
    for solution in page.split('??? success "Solution"')[1:]:
        for statement, _ in solution_statements('??? success "Solution"' + solution):
            if statement.startswith("answer ="):
                assert statement not in "\n".join(code)


def executed_cells(built_site: BuiltSite, page: str) -> list[tuple[str, str]]:
    """(code, what it printed) of every code cell of a chapter's notebook page, as the strict
    build ran it (mkdocs-jupyter executes each notebook, and fails the build on any error)."""
    html = built_site.page(f"notebooks/{Path(page).stem}/")
    text = lambda fragment: unescape(re.sub(r"<[^>]+>", "", fragment))
    cells = []
    for cell in html.split('<div class="jp-Cell jp-CodeCell nb-cell">')[1:]:
        code = re.search(r"<code>(.*?)</code>", cell, re.DOTALL)
        assert code, cell[:300]
        printed = re.findall(r'<pre class="nb-text"[^>]*>(.*?)</pre>', cell, re.DOTALL)
        cells.append((text(code.group(1)).strip(), "".join(text(output) for output in printed)))
    return cells


@pytest.mark.parametrize("module", spec_modules(), ids=lambda module: module.PAGE)
def test_the_notebook_with_blanks_runs_and_only_its_checks_say_no_answer_yet(module: object, built_site: BuiltSite) -> None:
    """The notebook readers download, as the build ran it (not run again here)."""
    cells = executed_cells(built_site, module.PAGE)  # type: ignore[attr-defined]
    ids_ = [item.id for item in module.EXERCISES]  # type: ignore[attr-defined]
    checks = {match.group(1): shown for code, shown in cells if (match := CHECK_CELL.fullmatch(code))}
    assert list(checks) == ids_
    for exercise_id, shown in checks.items():
        assert shown.strip() == repr(check(exercise_id, ...))
    assert [code for code, _ in cells].count(notebooks.ANSWER_CELL) == len(ids_)
    others = [shown for code, shown in cells if "check(" not in code]
    assert any(others), "the cells' printed outputs are read"
    assert not any("no answer yet" in shown or "not right yet" in shown for shown in others)


def fill_in_solutions(notebook: nbformat.NotebookNode, page: str) -> list[str]:
    """Type each exercise's solution from the chapter page (its `??? success` block, without its
    check) into the notebook's empty answer cell, in order, as a reader would; return the ids of
    the exercises whose check cells should then say right. (tests/test_notebooks.py runs the
    downloaded notebooks so filled in, in a reader's environment.)"""
    solutions = [
        "\n".join(source for source, _ in solution_statements('??? success "Solution"' + text) if not source.startswith("check("))
        for text in page.split('??? success "Solution"')[1:]
    ]
    answer_cells = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source == notebooks.ANSWER_CELL]
    assert len(answer_cells) == len(solutions) > 0
    for cell, solution in zip(answer_cells, solutions, strict=True):
        cell.source = solution
    return [exercise_id for exercise_id, _ in check_cells(notebook)]


def test_filling_in_the_solutions_replaces_every_answer_cell_and_keeps_the_checks() -> None:
    for module in spec_modules():
        notebook = exercise_notebook(module)
        page = (DOCS / module.PAGE).read_text(encoding="utf-8")  # type: ignore[attr-defined]
        ids_ = fill_in_solutions(notebook, page)
        assert ids_ == [item.id for item in module.EXERCISES]  # type: ignore[attr-defined]
        code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
        assert notebooks.ANSWER_CELL not in code
        assert sum(source.startswith("answer =") or "\nanswer =" in source for source in code) >= len(ids_)


def test_a_solution_without_its_check_cannot_become_a_notebook() -> None:
    page = '### Exercise 9.1: X\n\n??? success "Solution"\n\n    ```python\n    >>> answer = 1\n\n    ```\n'
    with pytest.raises(ValueError, match=r'line 3: a \?\?\? success "Solution" block must contain its check'):
        notebooks.blank_exercise_solutions(page)


def test_blanking_keeps_the_hint_and_replaces_the_solution_by_two_cells() -> None:
    page = (
        "Do it.\n\n??? tip \"Hint\"\n\n    Think.\n\n??? success \"Solution\"\n\n    Because.\n\n"
        "    ```python\n    >>> answer = 2\n    >>> check(\"9.1\", answer)\n    ✓ 9.1 is right.\n\n    ```\n\nAfter.\n"
    )
    assert notebooks.blank_exercise_solutions(page) == (
        "Do it.\n\n??? tip \"Hint\"\n\n    Think.\n\n"
        f"```python\n{notebooks.ANSWER_CELL}\n```\n\n```python\ncheck(\"9.1\", answer)\n```\n\nAfter.\n"
    )


def test_math_in_messages_is_plain_text() -> None:
    """Messages print in a terminal and a notebook: no LaTeX."""
    for item in exercises():
        for mistake in item.mistakes:
            assert "$" not in mistake.message and "\\" not in mistake.message


def test_every_public_name_of_the_exercises_is_in_its_api_page_once() -> None:
    import attention_lab.exercises as package

    page = (DOCS / "reference" / "exercises.md").read_text(encoding="utf-8")
    page = chapters.write_chapter_lists(page, chapters.chapter_pages(chapters.read_nav(DOCS.parent / "mkdocs.yml")), DOCS)
    documented = re.findall(r"^::: attention_lab\.exercises\.(\w+)\s*$", page, re.MULTILINE)
    modules = [module.__name__.rsplit(".", 1)[1] for module in spec_modules()]
    assert sorted(documented) == sorted([*package.__all__, *modules])
