r"""Chapter 1: simplified self-attention, with no trainable weights.

Every function here is one step of the chapter
[Simplified self-attention](../simplified-attention.md): scores are dot products
between embeddings, weights are the softmax of the scores, and a context vector
is the weighted sum of the embeddings.

Shape legend (used by every docstring of the package): `L` is the number of
tokens, `E` the embedding size, `H` the hidden size of the projections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from attention_lab import _checks

__all__ = [
    "TOKENS",
    "AttentionResult",
    "attention_scores_for_query",
    "attention_score_matrix",
    "context_vector",
    "context_vectors",
    "example_inputs",
    "naive_softmax",
    "simplified_attention_for_query",
    "simplified_self_attention",
    "softmax",
]

TOKENS: tuple[str, ...] = ("Your", "journey", "starts", "with", "one", "step")
"""The six tokens of the example sentence, in the order of [`example_inputs`][attention_lab.example_inputs]."""

_EXAMPLE_EMBEDDINGS: tuple[tuple[float, float, float], ...] = (
    (0.43, 0.15, 0.89),  # Your
    (0.55, 0.87, 0.66),  # journey
    (0.57, 0.85, 0.64),  # starts
    (0.22, 0.58, 0.33),  # with
    (0.77, 0.25, 0.10),  # one
    (0.05, 0.80, 0.55),  # step
)


class AttentionResult(NamedTuple):
    """The three tensors one attention step produces, in the order they are computed.

    For one query the shapes are `scores (L,)`, `weights (L,)`, `context (E,)`
    (or `(H,)` with trainable projections); for all queries they are
    `scores (L, L)`, `weights (L, L)`, `context (L, E)` (or `(L, H)`).

    Taught in [1.2.3](../simplified-attention.md#123-all-context-vectors).
    """

    scores: torch.Tensor
    """Unnormalised attention scores (dot products)."""
    weights: torch.Tensor
    """Attention weights: the softmax of the scores, summing to 1 over the keys."""
    context: torch.Tensor
    """Context vectors: attention-weighted sums of the value vectors."""


# --- unchecked kernels ----------------------------------------------------------------
# The public functions below validate their arguments once, at the boundary, then compose
# these private kernels, which check nothing (the shape of PyTorch's functional API). They
# work on any leading batch dimensions, `(..., L, H)`, so later chapters (causal masks,
# batches, heads) compose them too instead of re-validating at every step.


def _stable_softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The taught softmax, unchecked: shift by the maximum, exponentiate, normalise.

    A slice that is entirely `-inf` (nothing to attend to) gives zeros, as SDPA does.
    """
    max_score = scores.amax(dim=dim, keepdim=True)  # (..., 1) along dim
    max_score = max_score.masked_fill(torch.isneginf(max_score), 0.0)  # an all -inf slice: shift by 0
    exp_shifted = torch.exp(scores - max_score)  # exp(-inf) = 0, the maximum gives exp(0) = 1
    total = exp_shifted.sum(dim=dim, keepdim=True)  # >= 1, or 0 for an all -inf slice
    return exp_shifted / total.clamp(min=1.0)  # the clamp only turns 0 / 0 into 0 / 1


def _softmax_fused(scores: torch.Tensor, dim: int = -1, *, empty_slices: bool = True) -> torch.Tensor:
    """PyTorch's fused softmax (one kernel), unchecked: the fast path beside `_stable_softmax`.

    `torch.softmax` gives NaN for a slice that is entirely `-inf`, and NaN gradients through
    it even where the NaN is replaced afterwards. With `empty_slices`, such slices are found
    first (one reduction), given scores of 0 before the softmax and weights of 0 after it,
    so neither the weights nor the gradients hold NaN: the gradient of an empty slice is 0.
    Pass `empty_slices=False` only when no slice can be entirely `-inf` (finite scores, or a
    mask that keeps one key per query, as a causal mask does): it saves that reduction.
    """
    if empty_slices:
        empty = torch.isneginf(scores.detach().amax(dim=dim, keepdim=True))  # (..., 1) along dim
        if scores.device.type == "meta" or bool(empty.any()):  # meta: shapes only, nothing to test
            weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=dim)  # finite everywhere
            return weights.masked_fill(empty, 0.0)
    return torch.softmax(scores, dim=dim)


def _future_mask(tokens: int, device: torch.device) -> torch.Tensor:
    """`(L, L)` bool, True above the diagonal: the keys a causal query must not see (chapter 3's
    mask in the form `masked_fill` takes, shared by the kernels of chapters 3 and 5)."""
    return torch.ones(tokens, tokens, dtype=torch.bool, device=device).triu(1)


def _score_matrix(queries: torch.Tensor, keys: torch.Tensor, *, scaled: bool) -> torch.Tensor:
    """Every query against every key, `Q K^T`, divided by `sqrt(H)` when `scaled`; unchecked.

    Shapes: `queries (..., Lq, H)`, `keys (..., Lk, H)`, returns `(..., Lq, Lk)`.
    """
    scores = queries @ keys.mT  # (..., Lq, H) @ (..., H, Lk) -> (..., Lq, Lk); mT: the last two axes swapped
    if scaled:
        scores = scores.div_(math.sqrt(keys.shape[-1]))  # in place: a fresh tensor, one (L, L) fewer
    return scores


def _attend(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, *, scaled: bool) -> AttentionResult:
    """`softmax(Q K^T [/ sqrt(H)]) V` with its scores and weights; unchecked, any leading batch dims.

    Chapters 1 and 2 attend with it; from chapter 3 on, masks and dropout come in, and
    `causal_attention._attend` composes the same steps (`_score_matrix`, `_softmax_fused`).

    Shapes: `queries (..., Lq, H)`, `keys (..., Lk, H)`, `values (..., Lk, Hv)`,
    returns `AttentionResult((..., Lq, Lk), (..., Lq, Lk), (..., Lq, Hv))`.
    """
    scores = _score_matrix(queries, keys, scaled=scaled)  # (..., Lq, Lk)
    weights = _softmax_fused(scores, empty_slices=False)  # (..., Lq, Lk); nothing masked, no row empty
    return AttentionResult(scores, weights, weights @ values)  # context (..., Lq, Hv)


def _score_culprits(queries: torch.Tensor, keys: torch.Tensor) -> tuple[tuple[str, tuple[torch.Tensor]], ...]:
    """Who to name when the scores `Q K^T` overflow: the queries and the keys they came from."""
    return (("queries", (queries,)), ("keys", (keys,)))


def _scores_in_range(queries: torch.Tensor, keys: torch.Tensor, scores: torch.Tensor | None) -> bool:
    """True when surely no score of `queries @ keys^T` (or partial sum of one) left the float range.

    `scores` are those scores before any mask, where an `-inf` can only be an overflow, or
    `None` where the caller never holds them all (tiled attention). One reduction and one host
    sync: with no more scores than entries of Q and K (`L <= 2H`), a finite sum of the scores
    proves them finite; with more, or none given, every score and every partial sum of it is
    at most `H * max|q| * max|k|` in magnitude, so a bound well inside the dtype's range
    proves it at the cost of reading Q and K once. The converse can fail (a bound above the
    range, finite scores), so False means "look closer", not "bad".
    """
    if scores is not None and scores.numel() <= queries.numel() + keys.numel():
        return _checks.finite_flag(scores)
    accumulate = _checks.accumulation_dtype(queries.dtype)
    largest_query, largest_key = torch.stack(
        (queries.detach().abs().amax().to(accumulate), keys.detach().abs().amax().to(accumulate))
    ).tolist()  # the one host sync
    bound: float = largest_query * largest_key * queries.shape[-1]  # a Python float: float64, no overflow here
    return bound <= torch.finfo(queries.dtype).max / 4


def _check_attention_overflow(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    result: AttentionResult,
    culprits: Sequence[tuple[str, Sequence[torch.Tensor]]],
    *,
    unchecked: Sequence[tuple[str, torch.Tensor]] = (),
    projection_stage: str = "the projections (queries, keys, values)",
) -> None:
    """Raise an error if `_attend` left the float range: an argument's NaN or inf, else an overflow.

    `result.scores` must be the scores before any mask (there an `-inf` can only be an
    overflow). `unchecked` names the arguments whose values the caller did not check: a
    non-finite result blames the first non-finite one of them
    (`_checks.require_finite_arguments`); otherwise an overflow names `culprits`, at the
    first stage that left the range (`projection_stage` names the first).

    The happy path costs two reductions: the scores' (`_scores_in_range`), then a finite sum
    of the context, which rules out the rest (values, weights). With `Q = K = V = X` (chapter
    1) and `L <= 2H`, the finite scores alone suffice: the diagonal score `x_i . x_i` is a
    sum of squares; finite, it bounds every `|x_ie|` by the square root of the dtype's
    largest value, and each context vector is a weighted average of rows of X (weights >= 0
    summing to 1), no larger.
    """
    if queries.is_meta:
        return
    if _scores_in_range(queries, keys, result.scores) and (
        (queries is keys is values and result.scores.numel() <= queries.numel() + keys.numel())
        or _checks.finite_flag(result.context)
    ):
        return
    _checks.require_finite_arguments(unchecked)
    stages = (
        (projection_stage, (queries, keys, values)),
        ("the scores Q K^T", (result.scores,)),
        ("the context vectors", (result.context,)),
    )
    for stage, tensors in stages:
        _checks.require_no_overflow(stage, tensors, culprits)


def example_inputs(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Return the 3-d embeddings of "Your journey starts with one step".

    A new tensor is built on every call, so changing it cannot affect later calls.

    Args:
        dtype: Floating-point dtype of the returned tensor.

    Returns:
        The embeddings, one row per token of [`TOKENS`][attention_lab.TOKENS].

    Raises:
        TypeError: If `dtype` is not one of torch.float16, torch.bfloat16,
            torch.float32 and torch.float64.

    Shapes:
        returns `(L, E)` with `L = 6`, `E = 3`.

    Taught in [1. Simplified self-attention](../simplified-attention.md#the-example-sentence).

    Examples:
        >>> from attention_lab import example_inputs
        >>> example_inputs()[2]
        tensor([0.5700, 0.8500, 0.6400])
    """
    dtype = _checks.check_float_dtype("dtype", dtype)
    return torch.tensor(_EXAMPLE_EMBEDDINGS, dtype=dtype)


def attention_scores_for_query(query: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    r"""Score one query against every input with a dot product.

    $$\omega_i = x^{(q)} \cdot x^{(i)} = \sum_{e=0}^{E-1} x^{(q)}_e \, x^{(i)}_e$$

    Args:
        query: The embedding of the token we focus on.
        inputs: The embeddings of all tokens.

    Returns:
        One score per token: how similar that token is to the query.

    Raises:
        TypeError: If an argument is not a floating-point tensor, or their dtypes differ.
        ValueError: On a wrong rank, an empty tensor, different embedding sizes,
            NaN/inf values, or values so large that a score overflows.

    Shapes:
        `query (E,)`, `inputs (L, E)`, returns `(L,)`.

    Taught in [1.1.1](../simplified-attention.md#111-attention-scores).

    Examples:
        >>> from attention_lab import attention_scores_for_query, example_inputs
        >>> inputs = example_inputs()
        >>> attention_scores_for_query(inputs[2], inputs)
        tensor([0.9422, 1.4754, 1.4570, 0.8296, 0.7154, 1.0605])
    """
    query = _checks.check_vector("query", query, "E")
    inputs = _checks.check_matrix("inputs", inputs, ("L", "E"))
    _checks.require_same_size("query", query.shape[0], "inputs", inputs.shape[1], "embedding size E")
    _checks.require_same_dtype("query", query, "inputs", inputs)
    scores = inputs @ query  # (L, E) @ (E,) -> (L,)
    _checks.require_no_overflow("the scores inputs @ query", (scores,), (("query", (query,)), ("inputs", (inputs,))))
    return scores


def naive_softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Softmax exactly as the formula reads; for teaching only.

    $$\alpha_i = \frac{\exp(\omega_i)}{\sum_j \exp(\omega_j)}$$

    `exp` overflows to `inf` for scores above about 88 in float32, and
    `inf / inf` is NaN: use [`softmax`][attention_lab.softmax] for real work.

    Args:
        scores: Attention scores (finite or `-inf`).
        dim: The dimension that is normalised to sum to 1.

    Returns:
        Weights of the same shape as `scores`; NaN along a slice where `exp` overflows.

    Raises:
        TypeError: As [`softmax`][attention_lab.softmax], which checks its arguments the same way.
        ValueError: As [`softmax`][attention_lab.softmax].

    Shapes:
        As `softmax`: `scores (L,)` or `(L, L)`, returns the same shape.

    Taught in [1.1.2](../simplified-attention.md#112-attention-weights).

    Examples:
        >>> import torch
        >>> from attention_lab import naive_softmax
        >>> naive_softmax(torch.tensor([1.0, 2.0, 3.0]))
        tensor([0.0900, 0.2447, 0.6652])
        >>> naive_softmax(torch.tensor([1000.0, 1000.0]))
        tensor([nan, nan])
    """
    scores = _checks.check_scores(scores, dim=dim)
    exp_scores = torch.exp(scores)
    return exp_scores / exp_scores.sum(dim=dim, keepdim=True)


def softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Numerically stable softmax: subtract the maximum before exponentiating.

    $$\alpha_i = \frac{\exp(\omega_i - m)}{\sum_j \exp(\omega_j - m)}, \qquad m = \max_j \omega_j$$

    Subtracting `m` changes nothing mathematically (it cancels), but the largest
    exponent becomes `exp(0) = 1`, so nothing overflows. Agrees with
    `torch.softmax`, except on a slice that is entirely `-inf` (a query with
    nothing to attend to): `torch.softmax` gives NaN there, this function gives
    zeros, as `torch.nn.functional.scaled_dot_product_attention` does.

    Args:
        scores: Attention scores (finite or `-inf`).
        dim: The dimension that is normalised to sum to 1.

    Returns:
        Weights of the same shape as `scores`, each slice along `dim` summing to 1,
        or all zeros where the slice is entirely `-inf`.

    Raises:
        TypeError: If `scores` is not a floating-point tensor, or `dim` not an int.
        ValueError: If `scores` is 0-D or empty, holds NaN or `+inf`, or `dim` is out of range.

    Shapes:
        `scores (L,)` or `(L, L)`, returns the same shape.

    Taught in [1.1.2](../simplified-attention.md#112-attention-weights).

    Examples:
        >>> import torch
        >>> from attention_lab import softmax
        >>> softmax(torch.tensor([1000.0, 1000.0]))
        tensor([0.5000, 0.5000])
        >>> softmax(torch.tensor([float("-inf"), float("-inf")]))  # nothing to attend to
        tensor([0., 0.])
    """
    scores = _checks.check_scores(scores, dim=dim)
    return _stable_softmax(scores, dim)


def context_vector(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    r"""The attention-weighted sum of the value vectors for one query.

    $$z = \sum_{i=0}^{L-1} \alpha_i \, x^{(i)}$$

    In chapter 1 the values are the embeddings themselves; in chapter 2 they
    are the projected value vectors.

    Args:
        weights: One attention weight per token.
        values: One vector per token.

    Returns:
        The context vector.

    Raises:
        TypeError: If an argument is not a floating-point tensor, or their dtypes differ.
        ValueError: On a wrong rank, an empty tensor, a token-count mismatch, NaN/inf values,
            or values so large that the result overflows.

    Shapes:
        `weights (L,)`, `values (L, E)`, returns `(E,)`; in chapter 2 the values
        are projected, `(L, H)`, and so is the result, `(H,)`.

    Taught in [1.1.3](../simplified-attention.md#113-the-context-vector).

    Examples:
        >>> import torch
        >>> from attention_lab import context_vector
        >>> context_vector(torch.tensor([0.25, 0.75]), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        tensor([0.2500, 0.7500])
    """
    weights = _checks.check_vector("weights", weights, "L")
    values = _checks.check_matrix("values", values, ("L", "E"))
    _checks.require_same_size("weights", weights.shape[0], "values", values.shape[0], "number of tokens L")
    _checks.require_same_dtype("weights", weights, "values", values)
    context = weights @ values  # (L,) @ (L, E) -> (E,)
    _checks.require_no_overflow("the context vector weights @ values", (context,), _culprits(weights, values))
    return context


def attention_score_matrix(inputs: torch.Tensor) -> torch.Tensor:
    r"""Scores of every query against every input: all dot products at once.

    $$\Omega = \mathbf{X} \mathbf{X}^\top, \qquad \Omega_{ij} = x^{(i)} \cdot x^{(j)}$$

    Args:
        inputs: The embeddings of all tokens.

    Returns:
        Row `i` holds the scores of query `i`; the matrix is symmetric.

    Raises:
        TypeError: If `inputs` is not a floating-point tensor.
        ValueError: On a wrong rank, an empty tensor, NaN/inf values, or values so
            large that a score overflows.

    Shapes:
        `inputs (L, E)`, returns `(L, L)`.

    Taught in [1.2.1](../simplified-attention.md#121-the-score-matrix).

    Examples:
        >>> from attention_lab import attention_score_matrix, example_inputs
        >>> attention_score_matrix(example_inputs())[2]
        tensor([0.9422, 1.4754, 1.4570, 0.8296, 0.7154, 1.0605])
    """
    inputs = _checks.check_matrix("inputs", inputs, ("L", "E"))
    scores = _score_matrix(inputs, inputs, scaled=False)  # (L, E) @ (E, L) -> (L, L)
    _checks.require_no_overflow("the scores inputs @ inputs.T", (scores,), (("inputs", (inputs,)),))
    return scores


def context_vectors(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    r"""Context vectors of all queries: one matrix product.

    $$\mathbf{Z} = \mathbf{A} \mathbf{X}, \qquad z^{(i)} = \sum_j \mathbf{A}_{ij} \, x^{(j)}$$

    Args:
        weights: Attention weights, row `i` for query `i`.
        values: One vector per token.

    Returns:
        Row `i` is the context vector of query `i`.

    Raises:
        TypeError: If an argument is not a floating-point tensor, or their dtypes differ.
        ValueError: On a wrong rank, an empty tensor, `weights` that are not square,
            a token-count mismatch, NaN/inf values, or values so large that the result overflows.

    Shapes:
        `weights (L, L)`, `values (L, E)`, returns `(L, E)`; in chapter 2 the
        values are projected, `(L, H)`, and so is the result, `(L, H)`.

    Taught in [1.2.3](../simplified-attention.md#123-all-context-vectors).

    Examples:
        >>> import torch
        >>> from attention_lab import context_vectors
        >>> context_vectors(torch.eye(2), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor([[1., 2.],
                [3., 4.]])
    """
    weights = _checks.check_matrix("weights", weights, ("L", "L"))
    values = _checks.check_matrix("values", values, ("L", "E"))
    _checks.require_square("weights", weights)
    _checks.require_same_size("weights", weights.shape[1], "values", values.shape[0], "number of tokens L")
    _checks.require_same_dtype("weights", weights, "values", values)
    context = weights @ values  # (L, L) @ (L, E) -> (L, E)
    _checks.require_no_overflow("the context vectors weights @ values", (context,), _culprits(weights, values))
    return context


def simplified_attention_for_query(inputs: torch.Tensor, query_index: int) -> AttentionResult:
    """Sections 1.1.1 to 1.1.3 in one call: scores, weights and context of one query.

    Args:
        inputs: The embeddings of all tokens.
        query_index: Which token is the query (negative values count from the end).

    Returns:
        `scores (L,)`, `weights (L,)` and `context (E,)` of that query.

    Raises:
        TypeError: If `inputs` is not a floating-point tensor or `query_index` not an int.
        ValueError: On a wrong rank, an empty tensor, NaN/inf values, or values so
            large that a score overflows.
        IndexError: If `query_index` is out of range.

    Shapes:
        `inputs (L, E)`, returns `AttentionResult((L,), (L,), (E,))`.

    Taught in [1.1](../simplified-attention.md#11-one-query).

    Examples:
        >>> from attention_lab import example_inputs, simplified_attention_for_query
        >>> simplified_attention_for_query(example_inputs(), 2).context
        tensor([0.4431, 0.6496, 0.5671])
    """
    inputs = _checks.check_matrix("inputs", inputs, ("L", "E"))
    index = _checks.check_index("query_index", query_index, inputs.shape[0])
    query = inputs[index].unsqueeze(0)  # (1, E): one query, as a batch of one
    result = _attend(query, inputs, inputs, scaled=False)  # scores (1, L), weights (1, L), context (1, E)
    _check_attention_overflow(query, inputs, inputs, result, (("inputs", (inputs,)),))
    return AttentionResult(*(tensor.squeeze(0) for tensor in result))  # (L,), (L,), (E,)


def simplified_self_attention(inputs: torch.Tensor) -> AttentionResult:
    """Sections 1.2.1 to 1.2.3 in one call: score matrix, weight matrix, context vectors.

    Args:
        inputs: The embeddings of all tokens.

    Returns:
        `scores (L, L)`, `weights (L, L)` (each row sums to 1) and `context (L, E)`.

    Raises:
        TypeError: If `inputs` is not a floating-point tensor.
        ValueError: On a wrong rank, an empty tensor, NaN/inf values, or values so
            large that a score overflows.

    Shapes:
        `inputs (L, E)`, returns `AttentionResult((L, L), (L, L), (L, E))`.

    Taught in [1.2](../simplified-attention.md#12-all-queries-at-once).

    Examples:
        >>> from attention_lab import example_inputs, simplified_self_attention
        >>> result = simplified_self_attention(example_inputs())
        >>> result.weights.sum(dim=1)
        tensor([1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000])
    """
    inputs = _checks.check_matrix("inputs", inputs, ("L", "E"), check_values=False)  # values: through the result
    result = _attend(inputs, inputs, inputs, scaled=False)  # (L, L), (L, L), (L, E)
    _check_attention_overflow(inputs, inputs, inputs, result, (("inputs", (inputs,)),), unchecked=(("inputs", inputs),))
    return result


def _culprits(weights: torch.Tensor, values: torch.Tensor) -> tuple[tuple[str, tuple[torch.Tensor]], ...]:
    """The arguments an overflow of `weights @ values` comes from, for its error message."""
    return (("weights", (weights,)), ("values", (values,)))
