r"""Chapter 3: causal attention, with masks, dropout on the weights, and batches.

Every function here is one step of the chapter
[Causal attention](../causal-attention.md). A language model that predicts the
next token must not look at the tokens after the one it is at, so token $i$
attends only to tokens $j \le i$: the scores above the diagonal are set to
$-\infty$ before the softmax, and their weights become 0.

**Boolean masks follow the convention of PyTorch's
`torch.nn.functional.scaled_dot_product_attention`: `True` means "may attend"
(kept), `False` means "masked out".** This is the opposite of
`torch.nn.MultiheadAttention`, whose boolean `attn_mask` and
`key_padding_mask` mark with `True` the positions that are masked out.

A row of scores that is masked out entirely (a query with nothing to attend
to) gets weights of 0 and a context vector of 0, as
`scaled_dot_product_attention` gives, never NaN.

Everything builds on chapter 2 (`attention_lab.self_attention`) and chapter 1
(`attention_lab.simplified_attention`) and copies nothing from them: the public
functions validate their arguments once, then compose chapter 1's unchecked
kernels (scores, softmax) on any leading batch axes. Randomness
(the dropout masks) comes only from an explicit `torch.Generator`. Shapes
follow the package legend: `B` batch size, `L` tokens, `E` embedding size,
`H` hidden size; every function and the module accept unbatched `(L, E)` and
batched `(B, L, E)` inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from attention_lab import _checks
from attention_lab.self_attention import (
    Projections,
    ProjectionWeights,
    SelfAttentionParams,
    _check_projection_weights,
    _named_weights,
    _project,
    _weight_culprits,
)
from attention_lab.simplified_attention import (
    AttentionResult,
    _check_attention_overflow,
    _future_mask,
    _score_matrix,
    _softmax_fused,
)

__all__ = [
    "CausalSelfAttention",
    "attention_dropout",
    "causal_mask",
    "causal_padding_mask",
    "causal_self_attention",
    "mask_scores",
    "masked_attention",
    "masked_softmax",
    "padding_mask",
    "renormalize_masked_weights",
]

_MASK_CONVENTION = "True = may attend, False = masked out"


# --- masks ---------------------------------------------------------------------------------


def causal_mask(num_tokens: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    r"""The causal mask: token $i$ may attend to token $j$ exactly when $j \le i$.

    A boolean matrix, **`True` = may attend** (the convention of
    `torch.nn.functional.scaled_dot_product_attention`; `torch.nn.MultiheadAttention`
    uses the opposite, `True` = masked out). It is the lower triangle,
    diagonal included: `torch.ones(L, L, dtype=torch.bool).tril()`.

    Args:
        num_tokens: The number of tokens `L`.
        device: Where to build it (a `torch.device` or its name); `None` is the CPU.
            The package's functions move a mask to their scores' device anyway.

    Returns:
        `True` on and below the diagonal, `False` above it (the future).

    Raises:
        TypeError: If `num_tokens` is not an int or `device` not a device.
        ValueError: If `num_tokens` is below 1 or `device` names no device.

    Shapes:
        returns `(L, L)`, dtype `torch.bool`.

    Taught in [3.1](../causal-attention.md#31-why-mask).

    Examples:
        >>> from attention_lab import causal_mask
        >>> causal_mask(3)
        tensor([[ True, False, False],
                [ True,  True, False],
                [ True,  True,  True]])
        >>> causal_mask(3, device="meta").device  # shapes only: no memory, no values
        device(type='meta')
    """
    num_tokens = _checks.check_size("num_tokens", num_tokens)
    return _causal_mask(num_tokens, _checks.check_device("device", device))


def _causal_mask(num_tokens: int, device: torch.device) -> torch.Tensor:
    return torch.ones(num_tokens, num_tokens, dtype=torch.bool, device=device).tril()  # (L, L)


def padding_mask(
    lengths: Sequence[int] | torch.Tensor, num_tokens: int, *, device: torch.device | str | None = None
) -> torch.Tensor:
    """Which tokens of each padded sentence are real: `True` for a real token, `False` for padding.

    Sentence `b` holds `lengths[b]` real tokens followed by padding up to
    `num_tokens` (padding on the right). As an attention mask over the keys,
    **`True` = may attend**, the convention of
    `torch.nn.functional.scaled_dot_product_attention` (the opposite of
    `torch.nn.MultiheadAttention`'s `key_padding_mask`, where `True` marks the padding).

    Args:
        lengths: The number of real tokens of each sentence, each in `[1, num_tokens]`.
        num_tokens: The padded length `L` of every sentence.
        device: Where to build it (a `torch.device` or its name); `None` is the CPU.

    Returns:
        Row `b` is `True` at the first `lengths[b]` positions and `False` after.

    Raises:
        TypeError: If `lengths` is not a sequence of ints (or a 1-D integer tensor),
            `num_tokens` not an int, or `device` not a device.
        ValueError: If `lengths` is empty, a length is outside `[1, num_tokens]`,
            `num_tokens` is below 1, or `device` names no device.

    Shapes:
        `lengths` of length `B`, returns `(B, L)`, dtype `torch.bool`.

    Taught in [3.6](../causal-attention.md#36-batches).

    Examples:
        >>> from attention_lab import padding_mask
        >>> padding_mask([3, 1], num_tokens=3)
        tensor([[ True,  True,  True],
                [ True, False, False]])
    """
    num_tokens = _checks.check_size("num_tokens", num_tokens)
    counts = _checks.check_lengths("lengths", lengths, num_tokens)
    return _padding_mask(counts, num_tokens, _checks.check_device("device", device))


def _padding_mask(counts: list[int], num_tokens: int, device: torch.device) -> torch.Tensor:
    positions = torch.arange(num_tokens, device=device)  # (L,)
    return positions < torch.tensor(counts, device=device).unsqueeze(1)  # (L,) < (B, 1) -> (B, L)


def causal_padding_mask(
    lengths: Sequence[int] | torch.Tensor, num_tokens: int, *, device: torch.device | str | None = None
) -> torch.Tensor:
    r"""The causal mask and the padding mask combined, one `(L, L)` mask per sentence.

    Query $i$ of sentence $b$ may attend to key $j$ when $j \le i$ **and**
    key $j$ is a real token: `causal_mask(L) & padding_mask(lengths, L)[:, None, :]`.
    **`True` = may attend** (the convention of
    `torch.nn.functional.scaled_dot_product_attention`, the opposite of
    `torch.nn.MultiheadAttention`'s). Padded queries keep a causal view of the
    real tokens; their outputs are meant to be ignored.

    Args:
        lengths, num_tokens: As for [`padding_mask`][attention_lab.padding_mask].
        device: Where to build it (a `torch.device` or its name); `None` is the CPU.

    Returns:
        `mask[b, i, j]` is `True` when query `i` of sentence `b` may attend to key `j`.

    Raises:
        TypeError: As `padding_mask`, which checks its arguments the same way.
        ValueError: As `padding_mask`.

    Shapes:
        `lengths` of length `B`, returns `(B, L, L)`, dtype `torch.bool`.

    Taught in [3.6](../causal-attention.md#36-batches).

    Examples:
        >>> from attention_lab import causal_padding_mask
        >>> causal_padding_mask([3, 2], num_tokens=3)[1]
        tensor([[ True, False, False],
                [ True,  True, False],
                [ True,  True, False]])
    """
    num_tokens = _checks.check_size("num_tokens", num_tokens)
    counts = _checks.check_lengths("lengths", lengths, num_tokens)
    place = _checks.check_device("device", device)
    keys_real = _padding_mask(counts, num_tokens, place)  # (B, L)
    return _causal_mask(num_tokens, place) & keys_real.unsqueeze(1)  # (L, L) & (B, 1, L) -> (B, L, L)


def _check_scores_and_mask(scores: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of 1-D or more (finite or -inf) and a boolean mask that broadcasts to them."""
    tensor = _checks.check_scores(scores)
    legend = ("...", "L", "L") if tensor.dim() > 2 else ("L", "L")[-tensor.dim() :]
    return tensor, _checks.check_bool_mask("mask", mask, tensor.shape, legend, tensor.device)


def mask_scores(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Set the scores that are masked out to $-\infty$, so that softmax gives them weight 0.

    $$\tilde\omega_{ij} = \begin{cases} \omega_{ij} & \text{if } \mathrm{mask}_{ij} \\ -\infty & \text{otherwise} \end{cases}$$

    Args:
        scores: Attention scores (finite or `-inf`).
        mask: Boolean, **`True` = may attend**, the opposite of `torch.nn.MultiheadAttention`
            ([masks](causal-attention.md#masks)). Broadcasts to `scores`.

    Returns:
        A new tensor: `scores` where `mask` is `True`, `-inf` where it is `False`.

    Raises:
        TypeError: If `scores` is not a floating-point tensor or `mask` not a boolean tensor.
        ValueError: If `scores` is 0-D, empty or holds NaN/`+inf`, or `mask` does
            not broadcast to its shape.

    Shapes:
        `scores (L, L)` or `(B, L, L)` (any shape), `mask` broadcastable to it;
        returns the shape of `scores`.

    Taught in [3.2.2](../causal-attention.md#322-minus-infinity-before-the-softmax).

    Examples:
        >>> import torch
        >>> from attention_lab import causal_mask, mask_scores
        >>> mask_scores(torch.ones(2, 2), causal_mask(2))
        tensor([[1., -inf],
                [1., 1.]])
    """
    tensor, keep = _check_scores_and_mask(scores, mask)
    return _mask_scores(tensor, keep)


def _mask_scores(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    return scores.masked_fill(~keep, float("-inf"))  # same shape as scores


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Softmax over the last axis of the scores that `mask` keeps; masked scores get weight 0.

    $$\alpha_{ij} = \frac{\mathrm{mask}_{ij}\,\exp(\omega_{ij})}{\sum_{l} \mathrm{mask}_{il}\,\exp(\omega_{il})}$$

    **A row with nothing to attend to** (every entry masked out, or every score
    `-inf`) is $0/0$: a hand-written softmax gives NaN there. This function
    returns a row of zeros instead, as `torch.nn.functional.scaled_dot_product_attention`
    does, so the context vector of such a query is 0 and no NaN reaches the
    rest of the model or its gradients. Every other row sums to 1.

    Args:
        scores: Attention scores (finite or `-inf`); the softmax runs over the last axis (the keys).
        mask: Boolean, **`True` = may attend**, the opposite of `torch.nn.MultiheadAttention`
            ([masks](causal-attention.md#masks)). Broadcasts to `scores`.

    Returns:
        Weights of the shape of `scores`: each row sums to 1, or is all 0 when nothing in it is kept.

    Raises:
        TypeError: As [`mask_scores`][attention_lab.mask_scores], which checks its arguments the same way.
        ValueError: As [`mask_scores`][attention_lab.mask_scores].

    Shapes:
        As `mask_scores`: `scores (L, L)` or `(B, L, L)` (any shape), returns its shape.

    Taught in [3.2.2](../causal-attention.md#322-minus-infinity-before-the-softmax) and
    [3.4](../causal-attention.md#34-rows-with-nothing-to-attend-to).

    Examples:
        >>> import torch
        >>> from attention_lab import masked_softmax
        >>> masked_softmax(torch.zeros(2, 2), torch.tensor([[True, True], [False, False]]))
        tensor([[0.5000, 0.5000],
                [0.0000, 0.0000]])
    """
    tensor, keep = _check_scores_and_mask(scores, mask)
    return _softmax_fused(_mask_scores(tensor, keep))  # chapter 1's kernel: an all -inf row gives zeros


def renormalize_masked_weights(weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""The other way to mask: zero the weights that are masked out, then make each row sum to 1 again.

    $$\alpha'_{ij} = \frac{\mathrm{mask}_{ij}\,\alpha_{ij}}{\sum_l \mathrm{mask}_{il}\,\alpha_{il}}$$

    Applied to `softmax(scores)`, it gives the same weights as
    [`masked_softmax`][attention_lab.masked_softmax] (the normaliser of the full
    softmax cancels), equal to float precision (not always bit for bit: see 3.2.3). A row with
    nothing kept becomes zeros, as in `masked_softmax`.

    Args:
        weights: Attention weights (each row summing to 1), the softmax of unmasked scores.
        mask: Boolean, **`True` = may attend**, the opposite of `torch.nn.MultiheadAttention`
            ([masks](causal-attention.md#masks)). Broadcasts to `weights`.

    Returns:
        Weights of the same shape; each row sums to 1, or is all 0 when nothing in it is kept.

    Raises:
        TypeError: If `weights` is not a floating-point tensor or `mask` not a boolean tensor.
        ValueError: If `weights` is 0-D or empty, holds NaN/inf or negative values,
            or `mask` does not broadcast to its shape.

    Shapes:
        Those of [`mask_scores`][attention_lab.mask_scores], with `weights` for `scores`.

    Taught in [3.2.1](../causal-attention.md#321-zero-the-future-then-renormalise).

    Examples:
        >>> import torch
        >>> from attention_lab import causal_mask, renormalize_masked_weights
        >>> renormalize_masked_weights(torch.full((2, 2), 0.5), causal_mask(2))
        tensor([[1.0000, 0.0000],
                [0.5000, 0.5000]])
    """
    tensor = _checks.require_tensor("weights", weights)
    _checks.require_floating("weights", tensor)
    if tensor.dim() == 0:
        raise ValueError("weights must have at least 1 dimension, got a 0-D tensor")
    _checks.require_tokens("weights", tensor)
    _checks.require_finite("weights", tensor)
    if tensor.device.type != "meta" and bool((tensor < 0).any()):  # meta tensors hold no values
        raise ValueError(f"weights must be non-negative, found {int((tensor < 0).sum())} negative values")
    legend = ("...", "L", "L") if tensor.dim() > 2 else ("L", "L")[-tensor.dim() :]
    keep = _checks.check_bool_mask("mask", mask, tensor.shape, legend, tensor.device)
    kept = tensor * keep  # (..., L, L): the masked weights zeroed
    totals = kept.sum(dim=-1, keepdim=True)  # (..., L, 1)
    return torch.where(totals > 0, kept / totals.clamp_min(torch.finfo(tensor.dtype).tiny), 0.0)


# --- dropout -------------------------------------------------------------------------------


def attention_dropout(weights: torch.Tensor, p: float, *, generator: torch.Generator) -> torch.Tensor:
    r"""Zero each attention weight with probability `p` and scale the rest by $1/(1-p)$.

    $$\alpha'_{ij} = \frac{m_{ij}}{1-p}\,\alpha_{ij}, \qquad m_{ij} \sim \mathrm{Bernoulli}(1-p)$$

    so that the expected value of every weight is unchanged:
    $\mathbb{E}[\alpha'_{ij}] = \alpha_{ij}$. The keep-mask is drawn from
    `generator` (`torch.rand(...) >= p`), because `torch.nn.functional.dropout`
    takes no generator and would read torch's global random state. The uniforms
    are drawn in float32 (float64 for float64 weights) whatever the weights' dtype:
    drawn in bfloat16 they would drop 0.29 % of the weights when asked for 0.1 %.
    The generator advances, so the next call drops other weights. Rows no longer sum to 1.

    Args:
        weights: Attention weights, of any shape.
        p: The fraction of weights dropped, in `[0, 1)`; `0` returns `weights` unchanged
            (and draws nothing).
        generator: A CPU `torch.Generator` to draw the keep-mask from.

    Returns:
        The dropped and rescaled weights, same shape and dtype.

    Raises:
        TypeError: If `weights` is not a floating-point tensor, `p` not a number,
            or `generator` not a CPU `torch.Generator`.
        ValueError: If `weights` is empty or holds NaN/inf, or `p` is outside `[0, 1)`.

    Shapes:
        `weights (L, L)` or `(B, L, L)` (any shape), returns the same shape.

    Taught in [3.5](../causal-attention.md#35-dropout-on-the-attention-weights).

    Examples:
        >>> import torch
        >>> from attention_lab import attention_dropout
        >>> generator = torch.Generator().manual_seed(0)
        >>> attention_dropout(torch.full((2, 4), 0.25), 0.5, generator=generator)
        tensor([[0.0000, 0.5000, 0.0000, 0.0000],
                [0.0000, 0.5000, 0.0000, 0.5000]])
    """
    tensor = _checks.require_tensor("weights", weights)
    _checks.require_floating("weights", tensor)
    _checks.require_tokens("weights", tensor)
    _checks.require_finite("weights", tensor)
    rate = _checks.check_dropout("p", p)
    source = _checks.check_generator("generator", generator)
    return _dropout(tensor, rate, source)


def _dropout(weights: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    if p == 0.0:
        return weights
    # Uniforms in float32 at least: bfloat16's 8 bits of mantissa would round p (0.001 dropped 0.0029).
    precision = torch.float64 if weights.dtype == torch.float64 else torch.float32
    uniform = torch.rand(weights.shape, generator=generator, dtype=precision)  # on the CPU, like the generator
    keep = (uniform >= p).to(weights.device)  # True with probability 1 - p
    return weights * keep / (1.0 - p)  # same shape


# --- attention -----------------------------------------------------------------------------


def _attend(
    projections: Projections,
    mask: torch.Tensor | None,
    *,
    causal: bool,
    scaled: bool,
    dropout: float,
    generator: torch.Generator | None,
    culprits: tuple[tuple[str, tuple[torch.Tensor, ...]], ...],
    unchecked: tuple[tuple[str, torch.Tensor], ...] = (),
    projection_stage: str = "the projections (queries, keys, values)",
) -> AttentionResult:
    """Masked attention of `(..., L, H)` queries, keys and values, checked but for the values of
    the arguments named in `unchecked`; an overflow names `culprits` (see `_check_attention_overflow`)."""
    queries, keys, values = projections
    raw_scores = _score_matrix(queries, keys, scaled=scaled)  # chapter 1's kernel: (..., L, L)
    scores = _masked(raw_scores, mask, causal=causal)  # -inf where masked out
    weights = _softmax_fused(scores, empty_slices=mask is not None)  # (..., L, L); causal alone empties no row
    if dropout > 0.0:
        assert generator is not None  # checked at the boundary
        weights = _dropout(weights, dropout, generator)  # (..., L, L)
    context = weights @ values  # (..., L, H)
    # Checked on the scores before masking: there an -inf can only be an overflow, not a mask.
    _check_attention_overflow(
        queries, keys, values, AttentionResult(raw_scores, weights, context), culprits,
        unchecked=unchecked, projection_stage=projection_stage,
    )  # fmt: skip
    return AttentionResult(scores, weights, context)


def _masked(scores: torch.Tensor, mask: torch.Tensor | None, *, causal: bool) -> torch.Tensor:
    """`scores` with `-inf` where the causal mask (when `causal`) or `mask` (True = may attend)
    masks them out, both AND-ed; `scores` itself when neither is given."""
    if mask is None:
        if not causal:
            return scores
        return scores.masked_fill(_future_mask(scores.shape[-1], scores.device), float("-inf"))  # one mask, no negation
    keep = _causal_mask(scores.shape[-1], scores.device) & mask if causal else mask  # broadcasts to (..., L, L)
    return _mask_scores(scores, keep)


def _check_dropout_source(dropout: object, generator: object) -> tuple[float, torch.Generator | None]:
    """A dropout rate in [0, 1) and, when it is above 0, the generator to draw masks from."""
    rate = _checks.check_dropout("dropout", dropout)
    if generator is None:
        if rate > 0.0:
            raise ValueError(
                f"generator must be a torch.Generator when dropout > 0 (got dropout={rate} and no generator); "
                f"dropout masks never come from torch's global random state"
            )
        return rate, None
    return rate, _checks.check_generator("generator", generator)


class _ModuleCall(NamedTuple):
    """A module's forward arguments, checked: see `_check_module_call`."""

    inputs: torch.Tensor  # (L, E) or (B, L, E)
    keep: torch.Tensor | None  # the mask, True = may attend
    rate: float  # the dropout in force: 0 in eval mode
    generator: torch.Generator | None
    return_weights: bool


def _check_module_call(
    module: nn.Module, inputs: object, mask: object, generator: object, return_weights: object, parameter: torch.Tensor
) -> _ModuleCall:
    """What every attention module's `forward` checks, in this order: `(L, E)` or `(B, L, E)` inputs of the
    module's embedding size and of the dtype of its `parameter`, `return_weights`, the mask, and a
    generator when dropout is in force (training mode, `module.dropout > 0`)."""
    tensor = _checks.check_tokens_maybe_batched("inputs", inputs, ("L", "E"))
    _checks.require_same_size("inputs", tensor.shape[-1], "the module", module.embed_dim, "embedding size E")  # type: ignore[arg-type]
    _checks.require_same_dtype("inputs", tensor, "the module's parameters", parameter)
    flag = _checks.check_flag("return_weights", return_weights)
    keep = _check_mask_for_inputs(mask, tensor)
    rate: float = module.dropout if module.training else 0.0  # type: ignore[assignment]
    if rate > 0.0 and generator is None:
        raise ValueError(
            f"generator must be a torch.Generator while dropout is active (training mode, "
            f"dropout={rate}), got None; pass generator=torch.Generator().manual_seed(...) "
            f"or call module.eval()"
        )
    source = None if generator is None else _checks.check_generator("generator", generator)
    return _ModuleCall(tensor, keep, rate, source, flag)


def _score_legend(tensor: torch.Tensor) -> tuple[str, ...]:
    return {2: ("L", "L"), 3: ("B", "L", "L")}.get(tensor.dim(), ("...", "L", "L"))


def masked_attention(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    causal: bool = False,
    scaled: bool = True,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> AttentionResult:
    r"""Scaled dot-product attention of $\mathbf{Q}$, $\mathbf{K}$, $\mathbf{V}$ with a boolean mask, a causal switch and dropout.

    $$\mathbf{A} = \operatorname{dropout}\Big(\operatorname{softmax}\Big(\operatorname{mask}\Big(\frac{\mathbf{Q} \mathbf{K}^\top}{\sqrt{H}}\Big)\Big)\Big),
    \qquad \mathbf{Z} = \mathbf{A} \mathbf{V}$$

    The package's counterpart of
    `torch.nn.functional.scaled_dot_product_attention(queries, keys, values, attn_mask=mask,
    is_causal=causal)`, returning the scores and weights as well. When both
    `mask` and `causal` are given, a key is attended only if both allow it. A
    query with nothing to attend to gets weights and context 0 (see
    [`masked_softmax`][attention_lab.masked_softmax]).

    Args:
        queries: One query per token, with any leading batch axes (for example `B`, or `B` and heads).
        keys: One key per token, same shape as `queries`.
        values: One value per token, same shape as `queries`.
        mask: Optional boolean mask, **`True` = may attend**, the opposite of
            `torch.nn.MultiheadAttention` ([masks](causal-attention.md#masks)). Broadcasts to the
            scores' shape `(..., L, L)`.
        causal: Also mask the future: query `i` attends only to keys `j <= i`.
        scaled: Divide the scores by $\sqrt{H}$. **Default `True`**, the standard.
        dropout: The fraction of attention weights dropped, in `[0, 1)`; default 0.
        generator: A CPU `torch.Generator` for the dropout masks; required when `dropout > 0`.

    Returns:
        `scores` (scaled when `scaled`, `-inf` where masked out: what softmax
        receives), `weights` (after dropout: the ones the values are summed with)
        and `context` (`weights @ values`).

    Raises:
        TypeError: If a tensor is not floating-point, the dtypes differ, `mask`
            is not boolean, a flag is not a bool, `dropout` not a number or
            `generator` not a CPU `torch.Generator`.
        ValueError: If `queries` is not 2-D or more, the shapes of `queries`,
            `keys` and `values` differ, a tensor is empty or holds NaN/inf,
            `mask` does not broadcast to `(..., L, L)`, `dropout` is outside
            `[0, 1)`, or `dropout > 0` without a generator.

    Shapes:
        `queries`, `keys`, `values` `(L, H)`, `(B, L, H)` or `(..., L, H)`;
        `mask` broadcastable to `(..., L, L)`; returns
        `AttentionResult((..., L, L), (..., L, L), (..., L, H))`.

    Taught in [3.6](../causal-attention.md#36-batches).

    Examples:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from attention_lab import masked_attention
        >>> q, k, v = torch.randn(3, 2, 5, 4, generator=torch.Generator().manual_seed(0))
        >>> result = masked_attention(q, k, v, causal=True)
        >>> result.weights[0, 0]  # the first query sees only the first key
        tensor([1., 0., 0., 0., 0.])
        >>> torch.allclose(result.context, F.scaled_dot_product_attention(q, k, v, is_causal=True))
        True
    """
    queries = _checks.check_tokens_any_batch("queries", queries, ("L", "H"))
    keys = _checks.check_tokens_any_batch("keys", keys, ("L", "H"))
    values = _checks.check_tokens_any_batch("values", values, ("L", "H"))
    for name, tensor in (("keys", keys), ("values", values)):
        _checks.require_same_shape("queries", queries, name, tensor)
        _checks.require_same_dtype("queries", queries, name, tensor)
    causal = _checks.check_flag("causal", causal)
    scaled = _checks.check_flag("scaled", scaled)
    rate, source = _check_dropout_source(dropout, generator)
    scores_shape = queries.shape[:-1] + queries.shape[-2:-1]  # (..., L, L)
    keep = None if mask is None else _checks.check_bool_mask(
        "mask", mask, scores_shape, _score_legend(queries), queries.device
    )
    culprits = (("queries", (queries,)), ("keys", (keys,)), ("values", (values,)))
    projections = Projections(queries, keys, values)
    return _attend(projections, keep, causal=causal, scaled=scaled, dropout=rate, generator=source, culprits=culprits)


def causal_self_attention(
    inputs: torch.Tensor,
    projection_weights: ProjectionWeights,
    *,
    mask: torch.Tensor | None = None,
    scaled: bool = True,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> AttentionResult:
    r"""Causal self-attention of all tokens, one sentence or a batch: chapter 2's attention, future masked.

    $$\mathbf{Q} = \mathbf{X} \mathbf{W}_q,\ \mathbf{K} = \mathbf{X} \mathbf{W}_k,\ \mathbf{V} = \mathbf{X} \mathbf{W}_v,\qquad
    \mathbf{A} = \operatorname{softmax}\Big(\frac{\mathbf{Q} \mathbf{K}^\top}{\sqrt{H}} + \mathbf{M}\Big),\qquad \mathbf{Z} = \mathbf{A} \mathbf{V}$$

    where $\mathbf{M}_{ij} = 0$ for $j \le i$ and $-\infty$ for $j > i$. Query `i`
    attends only to tokens `0..i`. Unbatched, with no `mask`, no dropout and
    `scaled=True`, the context agrees with
    `torch.nn.functional.scaled_dot_product_attention(Q, K, V, is_causal=True)`.

    Args:
        inputs: The embeddings of all tokens, one sentence `(L, E)` or a batch `(B, L, E)`.
        projection_weights: $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$, as in chapter 2.
        mask: Optional extra boolean mask, combined with the causal one (for
            example [`causal_padding_mask`][attention_lab.causal_padding_mask] or
            [`padding_mask`][attention_lab.padding_mask]`(...)[:, None, :]`).
            **`True` = may attend**, the opposite of `torch.nn.MultiheadAttention`
            ([masks](causal-attention.md#masks)). Broadcasts to `(L, L)` or `(B, L, L)`.
        scaled: Divide the scores by $\sqrt{H}$. **Default `True`**, the standard.
        dropout: The fraction of attention weights dropped, in `[0, 1)`; default 0.
        generator: A CPU `torch.Generator` for the dropout masks; required when `dropout > 0`.

    Returns:
        `scores` (`-inf` above the diagonal and where `mask` is `False`),
        `weights` (zero there; after dropout when `dropout > 0`) and `context`.

    Raises:
        TypeError: If a tensor is not floating-point, the dtypes differ, `mask`
            is not boolean, `scaled` is not a bool, `dropout` not a number or
            `generator` not a CPU `torch.Generator`.
        ValueError: On inputs that are not 2-D or 3-D, an embedding size other
            than the weights', an empty tensor, NaN/inf values, a `mask` that does
            not broadcast to the scores, a `dropout` outside `[0, 1)`, or
            `dropout > 0` without a generator.

    Shapes:
        `inputs (L, E)` or `(B, L, E)`, `projection_weights` three `(E, H)`;
        returns `AttentionResult((L, L), (L, L), (L, H))`, with a leading `B` for a batch.

    Taught in [3.2](../causal-attention.md#32-two-ways-to-mask) and
    [3.6](../causal-attention.md#36-batches).

    Examples:
        >>> from attention_lab import causal_self_attention, example_inputs, init_projection_weights
        >>> parameters = init_projection_weights(3, 4, seed=123)
        >>> causal_self_attention(example_inputs(), parameters).weights[2]
        tensor([0.3363, 0.3380, 0.3257, 0.0000, 0.0000, 0.0000])
    """
    weights = _check_projection_weights(projection_weights, check_values=False)  # values: through the result
    tensor = _checks.check_inputs_for(inputs, "projection_weights", weights.query, check_values=False)
    scaled = _checks.check_flag("scaled", scaled)
    rate, source = _check_dropout_source(dropout, generator)
    keep = _check_mask_for_inputs(mask, tensor)
    projections = _project(tensor, weights)  # chapter 2's kernel: three (..., L, H)
    culprits = _weight_culprits(tensor, weights)
    unchecked = (*_named_weights(weights), ("inputs", tensor))
    return _attend(
        projections, keep, causal=True, scaled=scaled, dropout=rate, generator=source, culprits=culprits, unchecked=unchecked
    )


def _check_mask_for_inputs(mask: object, inputs: torch.Tensor) -> torch.Tensor | None:
    """An optional boolean mask that broadcasts to the `(L, L)` or `(B, L, L)` scores of `inputs`."""
    if mask is None:
        return None
    scores_shape = inputs.shape[:-1] + inputs.shape[-2:-1]  # (L, L) or (B, L, L)
    return _checks.check_bool_mask("mask", mask, scores_shape, _score_legend(inputs), inputs.device)


class CausalSelfAttention(SelfAttentionParams):
    r"""Chapter 2's self-attention module, made causal, with dropout on the attention weights.

    A subclass of [`SelfAttentionParams`][attention_lab.SelfAttentionParams]:
    the same parameters $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ (`nn.Parameter` matrices drawn like
    [`init_projection_weights`][attention_lab.init_projection_weights], so the
    same seed gives the same matrices), the same `projection_weights` and
    `load_projection_weights`. `forward` adds the causal mask, an optional extra
    mask, dropout on the weights, and a batch axis.

    **Train and eval.** In training mode (`module.train()`, the default of every
    `nn.Module`) with `dropout > 0`, each forward call drops weights, drawing
    its mask from the `generator` passed to that call; a generator is then
    required. In evaluation mode (`module.eval()`) nothing is dropped and the
    module computes exactly what a module with `dropout=0` computes. Nothing is
    stored on the module between calls.

    Args:
        embed_dim: The embedding size `E` of the inputs.
        hidden_dim: The hidden size `H` of the queries, keys and values.
        dropout: The fraction of attention weights dropped in training mode, in `[0, 1)`; default 0.
        scaled: Divide the scores by $\sqrt{H}$. **Default `True`**, the standard.

    Other Parameters:
        seed, generator, dtype: As for [`SelfAttentionParams`][attention_lab.SelfAttentionParams]:
            exactly one of `seed` and `generator` draws the parameters.

    Raises:
        TypeError: On a size, seed, generator, `scaled`, `dropout` or dtype of the wrong type.
        ValueError: If a size is below 1, `dropout` is outside `[0, 1)`, or not
            exactly one of `seed` and `generator` is given.

    Shapes:
        `W_query`, `W_key`, `W_value` are `(E, H)`; `forward` maps `inputs (L, E)`
        to `context (L, H)` (and `weights (L, L)`), or `(B, L, E)` to `(B, L, H)`
        (and `(B, L, L)`).

    Taught in [3.7](../causal-attention.md#37-a-causal-self-attention-module).

    Examples:
        >>> import torch
        >>> from attention_lab import CausalSelfAttention, example_inputs
        >>> module = CausalSelfAttention(3, 4, dropout=0.5, seed=123)
        >>> module
        CausalSelfAttention(embed_dim=3, hidden_dim=4, scaled=True, dropout=0.5)
        >>> _ = module.eval()  # no dropout
        >>> with torch.no_grad():
        ...     context, weights = module(example_inputs(), return_weights=True)
        >>> weights[1]
        tensor([0.4986, 0.5014, 0.0000, 0.0000, 0.0000, 0.0000])
    """

    def __init__(
        self,
        embed_dim: int,
        hidden_dim: int,
        *,
        dropout: float = 0.0,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        scaled: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(embed_dim, hidden_dim, seed=seed, generator=generator, scaled=scaled, dtype=dtype)
        self.dropout = _checks.check_dropout("dropout", dropout)

    def forward(
        self,
        inputs: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        return_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Causal self-attention of all tokens of one sentence or of a batch.

        Args:
            inputs: The embeddings of all tokens, `(L, E)` or `(B, L, E)`.
            mask: Optional extra boolean mask, combined with the causal one.
                **`True` = may attend**, the opposite of `torch.nn.MultiheadAttention`
                ([masks](causal-attention.md#masks)). Broadcasts to `(L, L)` or `(B, L, L)`.
            generator: A CPU `torch.Generator` for the dropout masks; required in
                training mode when `dropout > 0`, ignored otherwise.
            return_weights: Also return the attention weights (after dropout).

        Returns:
            The context vectors, or `(context, weights)` when `return_weights` is true.

        Raises:
            TypeError: If `inputs` is not a floating-point tensor or its dtype
                differs from the parameters', `mask` is not boolean, `generator`
                not a CPU `torch.Generator`, or `return_weights` not a bool.
            ValueError: On inputs that are not 2-D or 3-D, an embedding size other
                than `embed_dim`, an empty tensor, NaN/inf values, a `mask` that
                does not broadcast to the scores, or a missing generator while
                dropout is active.

        Shapes:
            `inputs (L, E)` gives `context (L, H)` and `weights (L, L)`;
            `inputs (B, L, E)` gives `(B, L, H)` and `(B, L, L)`.
        """
        tensor, keep, rate, source, return_weights = _check_module_call(self, inputs, mask, generator, return_weights, self.W_query)
        projections = self._project(tensor)  # chapter 2's projection: three (..., L, H)
        culprits = (("inputs", (tensor,)), ("the module's parameters", tuple(self.parameters())))
        result = _attend(
            projections, keep, causal=True, scaled=self.scaled, dropout=rate, generator=source, culprits=culprits
        )  # context (..., L, H), weights (..., L, L)
        return (result.context, result.weights) if return_weights else result.context

    def extra_repr(self) -> str:
        """The sizes, the scaling switch and the dropout rate, shown in `repr(module)`."""
        return f"{super().extra_repr()}, dropout={self.dropout}"
