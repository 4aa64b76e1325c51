r"""Chapter 5: attention without the L×L matrix.

Every function here is one step of the chapter
[Attention without the L×L matrix](../memory-efficient-attention.md). The
attention of chapters 1 to 3 builds an `(L, L)` matrix of scores and another of
weights; at `L = 16384` tokens each is 1 GiB in float32, for one head. This
module computes exactly the same context vectors while holding only small
`(T, T)` tiles of those matrices at a time:

- **online softmax** keeps, for each query, a running maximum $m$ and a running
  sum $\ell$ of exponentials, and rescales the sum whenever the maximum grows, so
  that softmax needs a single pass over the scores;
- **tiled attention** walks over blocks of `T` keys and values (and blocks of
  `T` queries), keeping a running output beside $m$ and $\ell$; with a causal
  mask it skips every block that lies entirely in the future.

[`full_attention`][attention_lab.full_attention] is
the `(L, L)` form beside it, built on chapter 1's
[`softmax`][attention_lab.softmax], so that the two can be compared.

Shapes follow the package legend: `B` batch size, `L` tokens, `H` hidden size
(of queries and keys; values may have their own, written `Hv`), `T` block size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import torch

from attention_lab import _checks
from attention_lab.simplified_attention import (
    _future_mask,
    _score_culprits,
    _score_matrix,
    _scores_in_range,
    _softmax_fused,
)

__all__ = [
    "AttentionBlock",
    "OnlineSoftmaxStep",
    "attention_blocks",
    "attention_working_memory",
    "full_attention",
    "online_softmax",
    "online_softmax_trace",
    "tiled_attention",
]

_NEG_INF = float("-inf")


# --- 5.1 the cost ---------------------------------------------------------------------------


def attention_working_memory(
    tokens: int, hidden_dim: int, *, block_size: int | None = None, element_size: int = 4
) -> int:
    r"""Bytes of the intermediate tensors of one attention head, besides its inputs and output.

    With the full matrix (`block_size=None`) these are the `(L, L)` scores and
    the `(L, L)` weights, which exist together while softmax runs:

    $$M_\text{full} = 2 L^2 s$$

    Tiled (`block_size=T`), one `(T, T)` tile of scores and one of weights, the
    running maximum and sum `(T,)` and the running output `(T, H)` of one query
    block, with $T' = \min(T, L)$:

    $$M_\text{tiled} = (2 T'^2 + 2 T' + T' H)\, s$$

    which does not grow with `L` at all. `s` is `element_size`, 4 bytes for
    float32. These are formulas, not measurements: the benchmark of
    [5.4](../memory-efficient-attention.md#54-what-it-costs-and-saves) measures
    what a real run allocates.

    Args:
        tokens: The number of tokens `L`.
        hidden_dim: The hidden size `H` of the values (the running output's width).
        block_size: The tile size `T`, or `None` for the full-matrix form.
        element_size: Bytes per number (4 for float32, 8 for float64).

    Returns:
        The number of bytes.

    Raises:
        TypeError: If a size is not an int.
        ValueError: If a size is below 1.

    Shapes:
        counts `(L, L)` twice, or `(T, T)` twice, `(T,)` twice and `(T, H)` once.

    Taught in [5.1](../memory-efficient-attention.md#51-what-the-full-matrix-costs).

    Examples:
        >>> from attention_lab import attention_working_memory
        >>> attention_working_memory(16_384, 64) / 2**30  # GiB, float32
        2.0
        >>> attention_working_memory(16_384, 64, block_size=128) / 2**10  # KiB
        161.0
    """
    tokens = _checks.check_size("tokens", tokens)
    hidden_dim = _checks.check_size("hidden_dim", hidden_dim)
    element_size = _checks.check_size("element_size", element_size)
    if block_size is None:
        return 2 * tokens * tokens * element_size
    tile = min(_checks.check_size("block_size", block_size), tokens)
    return (2 * tile * tile + 2 * tile + tile * hidden_dim) * element_size


# --- 5.2 online softmax ----------------------------------------------------------------------


def _absorb_block(
    running_max: torch.Tensor, block_scores: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One online-softmax step: the new maximum, the factor for the old sums, the block's exponentials.

    Shapes (leading dims `...` broadcast): `running_max (..., 1)`, `block_scores (..., n)`;
    returns `(..., 1)`, `(..., 1)`, `(..., n)`. A row that has seen only -inf keeps
    a maximum of -inf, and its exponentials and correction are 0 rather than NaN.
    """
    new_max = torch.maximum(running_max, block_scores.amax(dim=-1, keepdim=True))  # (..., 1)
    shift = new_max.masked_fill(new_max == _NEG_INF, 0.0)  # (..., 1): no -inf - -inf = NaN
    correction = torch.exp(running_max - shift)  # (..., 1): exp(m_old - m_new) <= 1
    block_exp = torch.exp(block_scores - shift)  # (..., n)
    return new_max, correction, block_exp


def _check_block_size(block_size: object) -> int:
    return _checks.check_size("block_size", block_size)


def online_softmax(scores: torch.Tensor, *, block_size: int) -> torch.Tensor:
    r"""Softmax over the last dimension, its maximum and sum found in one pass over blocks.

    Reading the scores `T` at a time, keep the largest score so far $m$ and the
    sum so far $\ell$ of $\exp(\omega_j - m)$. When a block raises the maximum
    from $m$ to $m'$, every term already in the sum shrinks by
    $\exp(m - m')$, so the sum is rescaled once instead of recomputed:

    $$m' = \max\big(m, \max_{j \in \text{block}} \omega_j\big), \qquad
    \ell' = \ell\, e^{m - m'} + \sum_{j \in \text{block}} e^{\omega_j - m'}$$

    After the last block, $\alpha_j = e^{\omega_j - m} / \ell$. Equal to
    chapter 1's [`softmax`][attention_lab.softmax] for every block size; a row
    that is entirely `-inf` (nothing to attend to) gives zeros.

    Args:
        scores: Attention scores (finite or `-inf`), normalised over the last dimension.
        block_size: How many scores `T` each step reads.

    Returns:
        Weights of the same shape as `scores`; each row sums to 1 (or is all 0).

    Raises:
        TypeError: If `scores` is not a floating-point tensor or `block_size` not an int.
        ValueError: If `scores` is 0-D or empty, holds NaN or `+inf`, or `block_size` is below 1.

    Shapes:
        `scores (..., L)`, returns `(..., L)`.

    Taught in [5.2.1](../memory-efficient-attention.md#521-softmax-in-one-pass).

    Examples:
        >>> import torch
        >>> from attention_lab import online_softmax
        >>> online_softmax(torch.tensor([1.0, 3.0, 2.0, 5.0]), block_size=2)
        tensor([0.0152, 0.1125, 0.0414, 0.8310])
        >>> online_softmax(torch.tensor([float("-inf"), float("-inf")]), block_size=1)
        tensor([0., 0.])
    """
    scores = _checks.check_scores(scores)  # normalised over the last dimension
    block_size = _check_block_size(block_size)
    running_max = scores.new_full((*scores.shape[:-1], 1), _NEG_INF)  # (..., 1)
    running_sum = scores.new_zeros((*scores.shape[:-1], 1))  # (..., 1)
    for start in range(0, scores.shape[-1], block_size):
        block = scores[..., start : start + block_size]  # (..., T)
        running_max, correction, block_exp = _absorb_block(running_max, block)
        running_sum = running_sum * correction + block_exp.sum(dim=-1, keepdim=True)  # (..., 1)
    shift = running_max.masked_fill(running_max == _NEG_INF, 0.0)  # (..., 1)
    denominator = running_sum.masked_fill(running_sum == 0, 1.0)  # (..., 1): all -inf rows give 0
    return torch.exp(scores - shift) / denominator  # (..., L)


class OnlineSoftmaxStep(NamedTuple):
    """The state of online attention for one query after one block of keys.

    Shapes:
        `running_max ()`, `running_sum ()`, `output (Hv,)`.

    Taught in [5.2.2](../memory-efficient-attention.md#522-the-trace-of-one-row).

    Examples:
        >>> import torch
        >>> from attention_lab import online_softmax_trace
        >>> step = online_softmax_trace(torch.tensor([0.0, 0.0]), torch.eye(2), block_size=1)[0]
        >>> step.keys_seen, step.running_max, step.running_sum, step.output
        (1, tensor(0.), tensor(1.), tensor([1., 0.]))
    """

    keys_seen: int
    """How many keys have been read: the block ends at this position."""
    running_max: torch.Tensor
    """$m$: the largest score so far."""
    running_sum: torch.Tensor
    r"""$\ell$: the sum so far of $\exp(\omega_j - m)$."""
    output: torch.Tensor
    """The partial context vector: attention over the keys seen so far, normalised."""


def online_softmax_trace(
    scores: torch.Tensor, values: torch.Tensor, *, block_size: int
) -> list[OnlineSoftmaxStep]:
    r"""Follow online attention for one query, block by block: the trace table of 5.2.2.

    Besides $m$ and $\ell$ (see [`online_softmax`][attention_lab.online_softmax]),
    keep the running weighted sum of values $o = \sum_j e^{\omega_j - m} v^{(j)}$,
    rescaled by the same factor as $\ell$:

    $$o' = o\, e^{m - m'} + \sum_{j \in \text{block}} e^{\omega_j - m'} v^{(j)}$$

    After each block, $o / \ell$ is the attention output over the keys seen so
    far; after the last, it is the context vector $z$.

    Args:
        scores: The scores of one query against every key (finite or `-inf`).
        values: One value vector per key.
        block_size: How many keys `T` each step reads.

    Returns:
        One [`OnlineSoftmaxStep`][attention_lab.OnlineSoftmaxStep] per block;
        a partial output with nothing to attend to yet is all zeros.

    Raises:
        TypeError: If a tensor is not floating-point, their dtypes differ, or
            `block_size` is not an int.
        ValueError: On a wrong rank, an empty tensor, a token-count mismatch,
            NaN or `+inf` (or `-inf` in `values`), or `block_size` below 1.

    Shapes:
        `scores (L,)`, `values (L, Hv)`, returns `ceil(L / T)` steps.

    Taught in [5.2.2](../memory-efficient-attention.md#522-the-trace-of-one-row).

    Examples:
        >>> import torch
        >>> from attention_lab import online_softmax_trace
        >>> steps = online_softmax_trace(torch.tensor([1.0, 3.0, 2.0, 5.0]), torch.eye(4), block_size=2)
        >>> [step.running_max.item() for step in steps]
        [3.0, 5.0]
        >>> steps[-1].output
        tensor([0.0152, 0.1125, 0.0414, 0.8310])
    """
    scores = _checks.check_scores(scores)  # normalised over the last dimension
    _checks.require_dims("scores", scores, ("L",))
    values = _checks.check_matrix("values", values, ("L", "Hv"))
    _checks.require_same_size("scores", scores.shape[0], "values", values.shape[0], "number of tokens L")
    _checks.require_same_dtype("scores", scores, "values", values)
    block_size = _check_block_size(block_size)
    running_max = scores.new_full((1,), _NEG_INF)  # (1,)
    running_sum = scores.new_zeros(1)  # (1,)
    running_output = values.new_zeros(values.shape[1])  # (Hv,)
    steps = []
    for start in range(0, scores.shape[0], block_size):
        stop = min(start + block_size, scores.shape[0])
        running_max, correction, block_exp = _absorb_block(running_max, scores[start:stop])  # block_exp (T,)
        running_sum = running_sum * correction + block_exp.sum()  # (1,)
        running_output = running_output * correction + block_exp @ values[start:stop]  # (Hv,)
        denominator = running_sum.masked_fill(running_sum == 0, 1.0)  # (1,)
        steps.append(OnlineSoftmaxStep(stop, running_max[0], running_sum[0], running_output / denominator))
    return steps


# --- 5.3 tiled attention ---------------------------------------------------------------------


class AttentionBlock(NamedTuple):
    """One tile of the `(L, L)` score matrix that tiled attention computes.

    Queries `query_start:query_stop` against keys `key_start:key_stop`.
    `masked` is true for a tile that straddles the diagonal of a causal mask:
    some of its keys are in the future of some of its queries, so those scores
    are set to `-inf`. Tiles entirely in the future are never listed.

    Taught in [5.3.3](../memory-efficient-attention.md#533-causal-masking-by-blocks).

    Examples:
        >>> from attention_lab import AttentionBlock
        >>> AttentionBlock(0, 2, 0, 2, masked=True)
        AttentionBlock(query_start=0, query_stop=2, key_start=0, key_stop=2, masked=True)
    """

    query_start: int
    """First query of the tile."""
    query_stop: int
    """One past the last query of the tile."""
    key_start: int
    """First key of the tile."""
    key_stop: int
    """One past the last key of the tile."""
    masked: bool
    """Whether some scores of the tile are in the future and set to `-inf` (causal only)."""


def _query_blocks(tokens: int, block_size: int, causal: bool) -> Iterator[tuple[int, int, list[AttentionBlock]]]:
    """For each block of queries, its range and the key tiles it reads, in order."""
    for query_start in range(0, tokens, block_size):
        query_stop = min(query_start + block_size, tokens)
        last_key = query_stop if causal else tokens  # a causal query i reads keys 0..i only
        tiles = [
            AttentionBlock(
                query_start,
                query_stop,
                key_start,
                min(key_start + block_size, last_key),
                masked=causal and min(key_start + block_size, last_key) - 1 > query_start,
            )
            for key_start in range(0, last_key, block_size)
        ]
        yield query_start, query_stop, tiles


def attention_blocks(tokens: int, *, block_size: int, causal: bool = False) -> list[AttentionBlock]:
    r"""The tiles of the score matrix that tiled attention visits, in the order it visits them.

    Queries and keys are both cut into blocks of `T`; with `L` tokens there are
    $\lceil L/T \rceil^2$ tiles. With `causal=True`, tiles whose keys all come
    after their queries are skipped, about half of them, and only the tiles on
    the diagonal need an element-wise mask.
    [`tiled_attention`][attention_lab.tiled_attention] walks exactly this list.

    Args:
        tokens: The number of tokens `L`.
        block_size: The tile size `T` (the last block is shorter when `T` does not divide `L`).
        causal: Skip the tiles that lie entirely in the future.

    Returns:
        One [`AttentionBlock`][attention_lab.AttentionBlock] per tile computed.

    Raises:
        TypeError: If `tokens` or `block_size` is not an int, or `causal` not a bool.
        ValueError: If `tokens` or `block_size` is below 1.

    Shapes:
        describes tiles of an `(L, L)` matrix; at most `(T, T)` each.

    Taught in [5.3.3](../memory-efficient-attention.md#533-causal-masking-by-blocks).

    Examples:
        >>> from attention_lab import attention_blocks
        >>> len(attention_blocks(6, block_size=2)), len(attention_blocks(6, block_size=2, causal=True))
        (9, 6)
        >>> attention_blocks(6, block_size=4, causal=True)[-1]
        AttentionBlock(query_start=4, query_stop=6, key_start=4, key_stop=6, masked=True)
    """
    tokens = _checks.check_size("tokens", tokens)
    block_size = _check_block_size(block_size)
    causal = _checks.check_flag("causal", causal)
    return [tile for _, _, tiles in _query_blocks(tokens, block_size, causal) for tile in tiles]


def _check_qkv(
    queries: object, keys: object, values: object, *, check_values: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Q, K, V: all `(L, H)` or all `(B, L, H)`, one L, one B, one dtype and device; H shared by Q and K.
    Their values are checked only if `check_values`."""
    if (
        _checks.is_usual(queries, 2, 3)
        and _checks.is_usual(keys, 2, 3)
        and _checks.is_usual(values, 2, 3)
        and (
            queries.shape == keys.shape == values.shape  # Hv = H: one comparison, no slices (0.5 us at L = 6)
            or (queries.shape[:-1] == keys.shape[:-1] == values.shape[:-1] and queries.shape[-1] == keys.shape[-1])
        )
        and queries.dtype == keys.dtype == values.dtype
        and queries.device == keys.device == values.device
    ):  # the usual call, nothing to explain
        if check_values:
            _checks.require_finite_arguments((("queries", queries), ("keys", keys), ("values", values)))
        return queries, keys, values
    q = _checks.check_tokens_maybe_batched("queries", queries, ("L", "H"), check_values=check_values)
    k = _checks.check_tokens_maybe_batched("keys", keys, ("L", "H"), check_values=check_values)
    v = _checks.check_tokens_maybe_batched("values", values, ("L", "Hv"), check_values=check_values)
    for name, tensor in (("keys", k), ("values", v)):
        if tensor.dim() != q.dim():
            raise ValueError(
                f"queries and {name} must both be 2-D (L, H) or both 3-D (B, L, H), "
                f"got {q.dim()}-D and {tensor.dim()}-D"
            )
        if q.dim() == 3:
            _checks.require_same_size("queries", q.shape[0], name, tensor.shape[0], "batch size B")
        _checks.require_same_size("queries", q.shape[-2], name, tensor.shape[-2], "number of tokens L")
        _checks.require_same_dtype("queries", q, name, tensor)
        _checks.require_same_device("queries", q, name, tensor)
    _checks.require_same_size("queries", q.shape[-1], "keys", k.shape[-1], "hidden size H")
    return q, k, v


def _scale(hidden_dim: int, scaled: bool) -> float:
    return 1.0 / math.sqrt(hidden_dim) if scaled else 1.0


def full_attention(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, *, causal: bool = False, scaled: bool = True
) -> torch.Tensor:
    r"""Attention the way chapters 1 to 3 compute it: build the whole `(L, L)` matrix.

    $$\mathbf{Z} = \operatorname{softmax}\!\Big(\frac{\mathbf{Q} \mathbf{K}^\top}{\sqrt{H}} + \mathbf{M}\Big) \mathbf{V}$$

    with $\mathbf{M}_{ij} = -\infty$ for $j > i$ when `causal`, else 0, and the softmax
    of chapter 1 over each row, computed by PyTorch's fused `torch.softmax` (the same
    function as [`softmax`][attention_lab.softmax], in one pass and no more memory than
    the naive form). The reference that
    [`tiled_attention`][attention_lab.tiled_attention] must match.

    Args:
        queries: One query vector per token.
        keys: One key vector per token.
        values: One value vector per token.
        causal: Token `i` attends only to tokens `0..i` (see chapter 3).
        scaled: Divide the scores by $\sqrt{H}$. **Default `True`**, as
            `scaled_dot_product_attention` does.

    Returns:
        The context vectors, row `i` for query `i`.

    Raises:
        TypeError: If a tensor is not floating-point, the dtypes differ, or a flag is not a bool.
        ValueError: On a wrong rank, an empty tensor, mismatched `B`, `L` or `H`,
            tensors on different devices, NaN/inf values, or values so large that
            the scores or context vectors overflow.

    Shapes:
        `queries (L, H)`, `keys (L, H)`, `values (L, Hv)`, returns `(L, Hv)`;
        or each with a leading batch `B`. Builds `(L, L)` (or `(B, L, L)`) twice.

    Taught in [5.3.1](../memory-efficient-attention.md#531-key-and-value-blocks).

    Examples:
        >>> import torch
        >>> from attention_lab import full_attention
        >>> keys = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> full_attention(keys, keys, torch.tensor([[1.0], [3.0]]), causal=True)
        tensor([[1.0000],
                [2.3395]])
    """
    queries, keys, values = _check_qkv(queries, keys, values, check_values=False)  # values: through the results
    causal = _checks.check_flag("causal", causal)
    scaled = _checks.check_flag("scaled", scaled)
    scores = _score_matrix(queries, keys, scaled=scaled)  # chapter 1's kernel: (..., L, L), scaled in place
    scores_in_range = scores.is_meta or _scores_in_range(queries, keys, scores)  # before the mask: an -inf is an overflow
    if causal:
        scores.masked_fill_(_future_mask(queries.shape[-2], scores.device), _NEG_INF)  # in place: a fresh tensor, no third (L, L)
    # The fused softmax: its two (L, L) at the peak are the naive form's. No row is empty (a
    # causal query sees itself), so no search for one.
    context = _softmax_fused(scores, empty_slices=False) @ values  # (..., L, L) @ (..., L, Hv) -> (..., L, Hv)
    if not (context.is_meta or (scores_in_range and _checks.finite_flag(context))):  # see _explain_full_attention
        _explain_full_attention(queries, keys, values, context, scaled=scaled)
    return context


def _explain_full_attention(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, context: torch.Tensor, *, scaled: bool
) -> None:
    """Raise the error behind `full_attention`'s non-finite context: an argument's NaN or inf, else an overflow.

    On the way, the scores are checked before the mask (`_scores_in_range`) and the
    context after: a NaN or inf in an argument makes one of them non-finite. The scores
    are checked on their own because a score that overflowed to `-inf` in a row with a
    finite maximum would pass unseen (weight 0, a finite context); every function that
    computes scores raises for it. Here, off the fast path, the scores are computed again
    to name the stage.
    """
    _checks.require_finite_arguments((("queries", queries), ("keys", keys), ("values", values)))
    scores = _score_matrix(queries, keys, scaled=scaled)  # (..., L, L), before any mask
    _checks.require_no_overflow("the scores queries @ keys.T", (scores,), _score_culprits(queries, keys))
    _checks.require_no_overflow("the context vectors weights @ values", (context,), (("values", (values,)),))


def tiled_attention(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    *,
    block_size: int,
    causal: bool = False,
    scaled: bool = True,
) -> torch.Tensor:
    r"""Attention one `(T, T)` tile at a time, never building the `(L, L)` matrix.

    For each block of `T` queries, keep a running maximum $m$, running sum
    $\ell$ and running output $o$ (all start empty), and for each block of `T`
    keys and values:

    $$\mathbf{S} = \frac{\mathbf{Q}_\text{blk} \mathbf{K}_\text{blk}^\top}{\sqrt{H}}, \quad
    m' = \max(m, \operatorname{rowmax} \mathbf{S}), \quad
    \mathbf{P} = e^{\mathbf{S} - m'}, \quad
    \ell' = \ell\, e^{m - m'} + \operatorname{rowsum} \mathbf{P}, \quad
    o' = o\, e^{m - m'} + \mathbf{P} \mathbf{V}_\text{blk}$$

    then write $o / \ell$ as the block's context vectors. With `causal`, the key
    blocks after a query block are skipped and only the diagonal tiles are
    masked (see [`attention_blocks`][attention_lab.attention_blocks]). Equal to
    [`full_attention`][attention_lab.full_attention]
    and to `torch.nn.functional.scaled_dot_product_attention` (with
    `is_causal=causal`) for every block size, including `T` that does not
    divide `L` and `T >= L`.

    Args:
        queries, keys, values: As for [`full_attention`][attention_lab.full_attention].
        block_size: The tile size `T`: queries and keys are read `T` at a time.
        causal: Token `i` attends only to tokens `0..i` (see chapter 3).
        scaled: Divide the scores by $\sqrt{H}$. **Default `True`**, as `full_attention`.

    Returns:
        The context vectors of `full_attention`, up to rounding.

    Raises:
        TypeError: As `full_attention`, or if `block_size` is not an int.
        ValueError: As `full_attention`, or if `block_size` is below 1.

    Shapes:
        `queries (L, H)`, `keys (L, H)`, `values (L, Hv)`, returns `(L, Hv)`;
        or each with a leading batch `B`. Never more than `(T, T)` scores at once
        (`(B, T, T)` with a batch).

    Taught in [5.3](../memory-efficient-attention.md#53-tiled-attention).

    Examples:
        >>> import torch
        >>> from attention_lab import tiled_attention
        >>> keys = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> tiled_attention(keys, keys, torch.tensor([[1.0], [3.0]]), block_size=1, causal=True)
        tensor([[1.0000],
                [2.3395]])
    """
    queries, keys, values = _check_qkv(queries, keys, values)
    block_size = _check_block_size(block_size)
    causal = _checks.check_flag("causal", causal)
    scaled = _checks.check_flag("scaled", scaled)
    scale = _scale(queries.shape[-1], scaled)
    context = _tiled(queries, keys, values, block_size, causal, scale)
    # The scores by a bound (a score that overflowed to -inf where its row's maximum is finite
    # would leave the context finite), then the result: any other overflow leaves inf or NaN.
    if not (queries.is_meta or _scores_in_range(queries, keys, None)):
        _require_tile_scores_in_range(queries, keys, block_size, causal, scale)
    _checks.require_no_overflow("tiled attention", (context,), (*_score_culprits(queries, keys), ("values", (values,))))
    return context


def _require_tile_scores_in_range(
    queries: torch.Tensor, keys: torch.Tensor, block_size: int, causal: bool, scale: float
) -> None:
    """Off the fast path: every tile's scores computed again as `_tiled` computes them (never
    more than `(T, T)` at once) and checked before the mask, naming the queries and keys."""
    for query_start, query_stop, tiles in _query_blocks(queries.shape[-2], block_size, causal):
        query_block = queries[..., query_start:query_stop, :] * scale  # (..., T, H)
        for tile in tiles:
            scores = query_block @ keys[..., tile.key_start : tile.key_stop, :].transpose(-2, -1)  # (..., T, T)
            _checks.require_no_overflow("the scores queries @ keys.T", (scores,), _score_culprits(queries, keys))


def _tiled(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, block_size: int, causal: bool, scale: float
) -> torch.Tensor:
    """The loop of `tiled_attention`, on validated tensors; nothing here checks anything."""
    *batch, tokens, _ = queries.shape
    output = values.new_empty((*batch, tokens, values.shape[-1]))  # (..., L, Hv)
    positions = torch.arange(tokens, device=queries.device)  # (L,)
    for query_start, query_stop, tiles in _query_blocks(tokens, block_size, causal):
        query_block = queries[..., query_start:query_stop, :] * scale  # (..., T, H)
        running_max = query_block.new_full((*batch, query_stop - query_start, 1), _NEG_INF)  # (..., T, 1)
        running_sum = query_block.new_zeros((*batch, query_stop - query_start, 1))  # (..., T, 1)
        running_output = values.new_zeros((*batch, query_stop - query_start, values.shape[-1]))  # (..., T, Hv)
        for tile in tiles:
            key_block = keys[..., tile.key_start : tile.key_stop, :]  # (..., T, H)
            scores = query_block @ key_block.transpose(-2, -1)  # (..., T, T)
            if tile.masked:
                future = positions[tile.key_start : tile.key_stop] > positions[query_start:query_stop, None]  # (T, T)
                scores = scores.masked_fill(future, _NEG_INF)  # (..., T, T)
            running_max, correction, block_exp = _absorb_block(running_max, scores)  # block_exp (..., T, T)
            running_sum = running_sum * correction + block_exp.sum(dim=-1, keepdim=True)  # (..., T, 1)
            value_block = values[..., tile.key_start : tile.key_stop, :]  # (..., T, Hv)
            running_output = running_output * correction + block_exp @ value_block  # (..., T, Hv)
        output[..., query_start:query_stop, :] = running_output / running_sum  # (..., T, Hv)
    return output
