r"""Chapter 4: multi-head attention, as a list of heads, as one matrix, and as PyTorch's module.

Every object here is one step of the chapter
[Multi-head attention](../multihead-attention.md). Several heads, each with its
own $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$, attend to the same tokens side by side; their context
vectors are concatenated and mixed by an output projection $\mathbf{W}_o$:

$$\mathrm{head}_h = \operatorname{softmax}\Big(\frac{\mathbf{Q}_h \mathbf{K}_h^\top}{\sqrt{H}} + \mathbf{M}\Big) \mathbf{V}_h,
\qquad \mathbf{Z} = [\mathrm{head}_0, \dots, \mathrm{head}_{\mathrm{heads}-1}]\, \mathbf{W}_o + b_o$$

Two forms compute it:

- [`MultiHeadAttentionWrapper`][attention_lab.MultiHeadAttentionWrapper] runs a
  list of chapter 3's [`CausalSelfAttention`][attention_lab.CausalSelfAttention]
  heads and concatenates their outputs (no $\mathbf{W}_o$);
- [`MultiHeadAttention`][attention_lab.MultiHeadAttention] (and the function
  [`multihead_self_attention`][attention_lab.multihead_self_attention]) projects once to
  all heads, splits with [`split_heads`][attention_lab.split_heads] (`view`
  then `transpose`), attends in one batched matrix product with chapter 3's
  kernel, merges with [`merge_heads`][attention_lab.merge_heads], then applies
  $\mathbf{W}_o$.

**Weight layout.** Columns `h*H:(h+1)*H` of the one-matrix $\mathbf{W}_q$ (and $\mathbf{W}_k$,
$\mathbf{W}_v$) are head `h`'s $\mathbf{W}_q$: the heads are concatenated side by side, head 0
first. [`MultiHeadAttentionWrapper.projection_weights`][attention_lab.MultiHeadAttentionWrapper.projection_weights]
returns them in that layout, and with $\mathbf{W}_o = \mathbf{I}$, $b_o = 0$ both forms agree.
[`to_torch_multihead`][attention_lab.to_torch_multihead] copies a module into
`torch.nn.MultiheadAttention`, which stores the three matrices transposed and
stacked in `in_proj_weight`.

**Boolean masks follow the convention of
`torch.nn.functional.scaled_dot_product_attention`: `True` means "may attend"
(kept), `False` means "masked out"** (the opposite of
`torch.nn.MultiheadAttention`'s `attn_mask` and `key_padding_mask`). A mask
broadcasts to `(L, L)` or `(B, L, L)` and is shared by every head.

Shapes follow the package legend: `B` batch size, `L` tokens, `E` embedding
(model) size, `H` hidden size of one head, `heads` the number of heads, with
`E = heads * H` for the one-matrix form. Randomness (parameters, dropout masks)
comes only from an explicit seed or `torch.Generator`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from attention_lab import _checks
from attention_lab.causal_attention import (
    CausalSelfAttention,
    _attend,
    _check_dropout_source,
    _check_mask_for_inputs,
    _check_module_call,
)
from attention_lab.self_attention import Projections, ProjectionWeights, init_projection_weights

__all__ = [
    "MultiHeadAttention",
    "MultiHeadAttentionWrapper",
    "MultiHeadResult",
    "MultiHeadWeights",
    "merge_heads",
    "multihead_parameter_count",
    "multihead_self_attention",
    "split_heads",
    "to_torch_multihead",
]


class MultiHeadWeights(NamedTuple):
    r"""The parameters of one-matrix multi-head attention: $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$, $\mathbf{W}_o$ and $b_o$.

    Columns `h*H:(h+1)*H` of `query`, `key` and `value` belong to head `h`
    (see the module's "Weight layout"). Rows are inputs, as everywhere in the
    package: $\mathbf{Q} = \mathbf{X} \mathbf{W}_q$ and $\mathbf{Z} = \mathrm{concat}\, \mathbf{W}_o + b_o$.

    **Why every matrix is `(E, E)`.** As in `torch.nn.MultiheadAttention` (which
    [`to_torch_multihead`][attention_lab.to_torch_multihead] fills), the heads
    together are as wide as the model, `heads * H = E`, and $\mathbf{W}_o$ maps
    them back to `E` columns, so that a transformer block can add its output to
    its input. A model whose heads together have another width `D` (a book's
    `MultiHeadAttention(d_in, d_out)` with `d_out != d_in`, whose output has `D`
    columns) cannot be expressed here; with `d_out == d_in` its `nn.Linear`
    weights load transposed, `.weight.T`, as
    [chapter 3 shows](../causal-attention.md#37-a-causal-self-attention-module) for one head.

    Shapes:
        `query`, `key`, `value`, `out` `(E, E)`; `out_bias` `(E,)` or `None`.

    Taught in [4.3](../multihead-attention.md#43-heads-as-one-matrix).

    Examples:
        >>> import torch
        >>> from attention_lab import MultiHeadWeights
        >>> identity = MultiHeadWeights(*(torch.eye(2) for _ in range(4)), out_bias=None)
        >>> identity.out_bias is None
        True
    """

    query: torch.Tensor
    r"""$\mathbf{W}_q$: all heads' query projections side by side, `(E, heads * H)`."""
    key: torch.Tensor
    r"""$\mathbf{W}_k$: all heads' key projections side by side."""
    value: torch.Tensor
    r"""$\mathbf{W}_v$: all heads' value projections side by side."""
    out: torch.Tensor
    r"""$\mathbf{W}_o$: the output projection, mixing the concatenated heads, `(heads * H, E)`."""
    out_bias: torch.Tensor | None
    """$b_o$: the output projection's bias `(E,)`, or `None` for none."""


class MultiHeadResult(NamedTuple):
    r"""Everything multi-head attention computes, per head and merged.

    Shapes:
        `scores (..., heads, L, L)`, `weights (..., heads, L, L)`,
        `context (..., L, heads * H)` (the heads concatenated, before $\mathbf{W}_o$),
        `output (..., L, E)` (after $\mathbf{W}_o$).

    Taught in [4.3](../multihead-attention.md#43-heads-as-one-matrix).

    Examples:
        >>> import torch
        >>> from attention_lab import MultiHeadResult
        >>> MultiHeadResult._fields
        ('scores', 'weights', 'context', 'output')
    """

    scores: torch.Tensor
    """Each head's scaled scores, `-inf` where masked out: what its softmax receives."""
    weights: torch.Tensor
    """Each head's attention weights (after dropout when dropout is active)."""
    context: torch.Tensor
    r"""The heads' context vectors concatenated, head 0 first: the input of $\mathbf{W}_o$."""
    output: torch.Tensor
    """`context @ out + out_bias`: the layer's output."""


# --- splitting and merging heads -----------------------------------------------------------


def _check_heads(embed_dim: int, num_heads: object) -> int:
    """A number of heads that divides the model size E."""
    heads = _checks.check_size("num_heads", num_heads)
    if embed_dim % heads:
        raise ValueError(
            f"the model size E must be divisible by num_heads (each head gets H = E / heads features), "
            f"got E={embed_dim} and num_heads={heads}"
        )
    return heads


def _split_heads(tensor: torch.Tensor, num_heads: int) -> torch.Tensor:
    """`(..., L, heads*H)` -> `(..., heads, L, H)`: `view` cuts the features, `transpose` moves heads first."""
    hidden = tensor.shape[-1] // num_heads
    per_token = tensor.view(*tensor.shape[:-1], num_heads, hidden)  # (..., L, heads, H)
    return per_token.transpose(-3, -2)  # (..., heads, L, H)


def _merge_heads(tensor: torch.Tensor) -> torch.Tensor:
    """`(..., heads, L, H)` -> `(..., L, heads*H)`: tokens first again, then the heads side by side."""
    per_token = tensor.transpose(-3, -2)  # (..., L, heads, H), no longer contiguous
    return per_token.reshape(*per_token.shape[:-2], -1)  # (..., L, heads*H): copies when it must


def split_heads(tensor: torch.Tensor, num_heads: int) -> torch.Tensor:
    r"""Cut the last axis into `num_heads` heads and move the heads before the tokens.

    `tensor.view(..., L, heads, H).transpose(-3, -2)`: the features
    `h*H:(h+1)*H` of every token go to head `h`. The `transpose` is what keeps
    each token's features with that token; a `view(..., heads, L, H)` alone has
    the same shape and scrambles tokens across heads (the reshape trap).

    Args:
        tensor: Queries, keys or values of all heads, side by side, one row per token.
        num_heads: The number of heads; must divide the last axis.

    Returns:
        A view of `tensor`, no copy.

    Raises:
        TypeError: If `tensor` is not a floating-point tensor or `num_heads` not an int.
        ValueError: If `tensor` is not 2-D or more, is empty or holds NaN/inf,
            or its last axis is not divisible by `num_heads`.

    Shapes:
        `(..., L, heads * H)` -> `(..., heads, L, H)`.

    Taught in [4.3](../multihead-attention.md#43-heads-as-one-matrix).

    Examples:
        >>> import torch
        >>> from attention_lab import split_heads
        >>> features = torch.arange(8.0).reshape(2, 4)  # (L, heads*H): 2 tokens, 2 heads of 2
        >>> split_heads(features, 2)[1]  # head 1: features 2 and 3 of each token
        tensor([[2., 3.],
                [6., 7.]])
    """
    checked = _checks.check_tokens_any_batch("tensor", tensor, ("L", "E"))
    heads = _check_heads(checked.shape[-1], num_heads)
    return _split_heads(checked, heads)


def merge_heads(tensor: torch.Tensor) -> torch.Tensor:
    """Undo [`split_heads`][attention_lab.split_heads]: tokens first again, the heads side by side.

    `tensor.transpose(-3, -2).reshape(..., L, heads * H)`. The `transpose`
    comes first: reshaping `(heads, L, H)` straight to `(L, heads * H)` has the
    right shape and puts other tokens' features in each row. After the
    `transpose` the tensor is no longer contiguous, so `view` refuses;
    `reshape` copies.

    Args:
        tensor: One context vector per head and token.

    Returns:
        Each token's heads concatenated, head 0 first.

    Raises:
        TypeError: If `tensor` is not a floating-point tensor.
        ValueError: If `tensor` is not 3-D or more, is empty or holds NaN/inf.

    Shapes:
        `(..., heads, L, H)` -> `(..., L, heads * H)`.

    Taught in [4.3](../multihead-attention.md#43-heads-as-one-matrix).

    Examples:
        >>> import torch
        >>> from attention_lab import merge_heads, split_heads
        >>> features = torch.arange(8.0).reshape(2, 4)
        >>> torch.equal(merge_heads(split_heads(features, 2)), features)
        True
    """
    checked = _checks.check_tokens_any_batch("tensor", tensor, ("L", "H"))
    if checked.dim() < 3:
        raise ValueError(
            f"tensor must have shape (..., heads, L, H) (3-D or more), "
            f"got shape {tuple(checked.shape)} ({checked.dim()}-D)"
        )
    return _merge_heads(checked)


# --- one-matrix multi-head attention ----------------------------------------------------------


_WEIGHT_NAMES = tuple(f"multihead_weights.{name}" for name in MultiHeadWeights._fields)


def _check_multihead_weights(candidate: object, *, check_values: bool = True) -> MultiHeadWeights:
    """Four finite (E, E) matrices of one dtype and an optional (E,) bias (their values only if `check_values`)."""
    entries = _checks.check_weight_tuple("multihead_weights", candidate, MultiHeadWeights)
    query, key, value, out = (
        _checks.check_matrix(name, matrix, ("E", "E"), check_values=check_values)
        for name, matrix in zip(_WEIGHT_NAMES, entries[:4])
    )
    size = query.shape[0]
    for name, matrix in zip(_WEIGHT_NAMES, (query, key, value, out)):
        if tuple(matrix.shape) != (size, size):
            raise ValueError(
                f"{name} must have shape (E, E) = ({size}, {size}), the model size of "
                f"multihead_weights.query, got {tuple(matrix.shape)}"
            )
        _checks.require_same_dtype("multihead_weights.query", query, name, matrix)
    bias = entries[4]
    if bias is not None:
        bias = _checks.check_vector("multihead_weights.out_bias", bias, "E", check_values=check_values)
        _checks.require_same_size("multihead_weights.out", size, "multihead_weights.out_bias", bias.shape[0], "size E")
        _checks.require_same_dtype("multihead_weights.out", out, "multihead_weights.out_bias", bias)
    return candidate if type(candidate) is MultiHeadWeights else MultiHeadWeights(query, key, value, out, bias)


def _named_weights(weights: MultiHeadWeights) -> tuple[tuple[str, torch.Tensor], ...]:
    """`(name, tensor)` for each weight given (no bias when `None`), named as its errors name it."""
    return tuple((name, tensor) for name, tensor in zip(_WEIGHT_NAMES, weights) if tensor is not None)


def _heads_mask(keep: torch.Tensor | None) -> torch.Tensor | None:
    """A `(B, L, L)` mask gains a heads axis, `(B, 1, L, L)`; smaller masks broadcast as they are."""
    if keep is None or keep.dim() < 3:
        return keep
    return keep.unsqueeze(-3)


def _multihead(
    inputs: torch.Tensor,
    weights: MultiHeadWeights,
    num_heads: int,
    keep: torch.Tensor | None,
    *,
    causal: bool,
    scaled: bool,
    dropout: float,
    generator: torch.Generator | None,
    unchecked: tuple[tuple[str, torch.Tensor], ...] = (),
) -> MultiHeadResult:
    """One-matrix multi-head attention of inputs checked but for the values named in `unchecked`.

    Checked here: the projections, scores and context (by chapter 3's kernel); the output is
    the caller's to check (`_require_no_overflow`), with the same `unchecked`.
    """
    projections = Projections(
        _split_heads(inputs @ weights.query, num_heads),  # (..., L, E) @ (E, E) -> (..., heads, L, H)
        _split_heads(inputs @ weights.key, num_heads),  # (..., heads, L, H)
        _split_heads(inputs @ weights.value, num_heads),  # (..., heads, L, H)
    )
    culprits = (("inputs", (inputs,)), ("W_q, W_k, W_v", tuple(weights[:3])))
    result = _attend(
        projections, _heads_mask(keep), causal=causal, scaled=scaled, dropout=dropout, generator=generator,
        culprits=culprits, unchecked=unchecked, projection_stage="the projections inputs @ W",
    )  # fmt: skip  # chapter 3's kernel, every head in one batched matmul: context (..., heads, L, H)
    context = _merge_heads(result.context)  # (..., L, E)
    output = context @ weights.out  # (..., L, E) @ (E, E) -> (..., L, E)
    if weights.out_bias is not None:
        output = output + weights.out_bias  # (..., L, E)
    return MultiHeadResult(result.scores, result.weights, context, output)


def multihead_self_attention(
    inputs: torch.Tensor,
    multihead_weights: MultiHeadWeights,
    num_heads: int,
    *,
    mask: torch.Tensor | None = None,
    causal: bool = True,
    scaled: bool = True,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> MultiHeadResult:
    r"""Multi-head self-attention with one projection per matrix: split, attend, merge, project.

    $$\mathbf{Q} = \mathbf{X} \mathbf{W}_q,\ \mathbf{K} = \mathbf{X} \mathbf{W}_k,\ \mathbf{V} = \mathbf{X} \mathbf{W}_v \quad\text{each split into heads},\qquad
    \mathbf{Z} = \mathrm{merge}\Big(\operatorname{softmax}\Big(\frac{\mathbf{Q}_h \mathbf{K}_h^\top}{\sqrt{H}} + \mathbf{M}\Big) \mathbf{V}_h\Big)\, \mathbf{W}_o + b_o$$

    The heads' attention runs as one batched product over a `heads` axis, with
    chapter 3's masked kernel (a fully masked row gives 0, never NaN). Without
    `mask`, dropout and bias, and with `causal=False`, this is
    `torch.nn.MultiheadAttention` with the same weights (see
    [`to_torch_multihead`][attention_lab.to_torch_multihead]).

    Args:
        inputs: The embeddings of all tokens, one sentence `(L, E)` or a batch `(B, L, E)`.
        multihead_weights: $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$, $\mathbf{W}_o$ `(E, E)` and $b_o$ `(E,)` or `None`.
        num_heads: The number of heads; must divide `E`. Each head has `H = E / num_heads`.
        mask: Optional boolean mask shared by all heads, combined with the causal
            one when `causal`. **`True` = may attend**, the opposite of
            `torch.nn.MultiheadAttention` ([masks](causal-attention.md#masks)). Broadcasts to
            `(L, L)` or `(B, L, L)`, for example
            [`padding_mask`][attention_lab.padding_mask]`(...)[:, None, :]`.
        causal: Mask the future: query `i` attends only to keys `j <= i`. **Default `True`.**
        scaled: Divide the scores by $\sqrt{H}$. **Default `True`**, the standard.
        dropout: The fraction of attention weights dropped, in `[0, 1)`; default 0.
        generator: A CPU `torch.Generator` for the dropout masks; required when `dropout > 0`.

    Returns:
        Per head: `scores` and `weights`; merged: `context` (before $\mathbf{W}_o$) and `output`.

    Raises:
        TypeError: If a tensor is not floating-point, dtypes differ, `mask` is
            not boolean, a flag is not a bool, `num_heads` not an int, `dropout`
            not a number or `generator` not a CPU `torch.Generator`.
        ValueError: On inputs that are not 2-D or 3-D, an embedding size other
            than the weights' `E`, `E` not divisible by `num_heads`, an empty
            tensor, NaN/inf values, a `mask` that does not broadcast to the
            scores, a `dropout` outside `[0, 1)`, `dropout > 0` without a
            generator, or inputs and weights so large that a product overflows.

    Shapes:
        `inputs (L, E)` or `(B, L, E)`; returns
        `MultiHeadResult((..., heads, L, L), (..., heads, L, L), (..., L, E), (..., L, E))`.

    Taught in [4.3](../multihead-attention.md#43-heads-as-one-matrix).

    Examples:
        >>> import torch
        >>> from attention_lab import MultiHeadWeights, example_inputs, multihead_self_attention
        >>> identity = MultiHeadWeights(*(torch.eye(3) for _ in range(4)), out_bias=None)
        >>> result = multihead_self_attention(example_inputs(), identity, num_heads=3)
        >>> result.weights.shape  # (heads, L, L)
        torch.Size([3, 6, 6])
        >>> torch.equal(result.output, result.context)  # W_o = I
        True
    """
    weights = _check_multihead_weights(multihead_weights, check_values=False)  # values: through the result
    tensor = _checks.check_inputs_for(inputs, "multihead_weights", weights.query, check_values=False)
    heads = _check_heads(weights.query.shape[0], num_heads)
    causal = _checks.check_flag("causal", causal)
    scaled = _checks.check_flag("scaled", scaled)
    rate, source = _check_dropout_source(dropout, generator)
    keep = _check_mask_for_inputs(mask, tensor)
    unchecked = (*_named_weights(weights), ("inputs", tensor))  # in the order they are checked elsewhere
    result = _multihead(
        tensor, weights, heads, keep, causal=causal, scaled=scaled, dropout=rate, generator=source, unchecked=unchecked
    )
    _require_no_overflow(result.output, tensor, "multihead_weights", [m for m in weights if m is not None], unchecked=unchecked)
    return result


def _require_no_overflow(
    output: torch.Tensor,
    inputs: torch.Tensor,
    owner: str,
    parameters: Sequence[torch.Tensor],
    *,
    unchecked: Sequence[tuple[str, torch.Tensor]] = (),
) -> None:
    """The output projection: an error if the output is not finite; one reduction on the happy path.

    The scores and context were checked by chapter 3's kernel: what is left is `context @ W_o + b_o`.
    A non-finite output blames the first non-finite argument named in `unchecked`, else an overflow
    of the inputs and the `parameters` (named `owner`).
    """
    culprits = (("inputs", (inputs,)), (owner, tuple(parameters)))
    _checks.require_no_overflow("multi-head attention", (output,), culprits, unchecked=unchecked)


def multihead_parameter_count(
    embed_dim: int, num_heads: int, *, qkv_bias: bool = False, out_bias: bool = True
) -> int:
    r"""The number of trainable numbers of one multi-head attention layer of model size `E`.

    $$4E^2 + 3E\,[\text{qkv bias}] + E\,[\text{out bias}]$$

    $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ and $\mathbf{W}_o$ are each $E \times E$ whatever the number of
    heads: more heads make each head smaller ($H = E / \mathrm{heads}$), not
    the layer larger. `num_heads` is checked (it must divide `E`) but does not
    change the count. Matches `torch.nn.MultiheadAttention(E, heads, bias=True)`
    with `qkv_bias=True`.

    Args:
        embed_dim: The model size `E`.
        num_heads: The number of heads; must divide `E`.
        qkv_bias: Count a bias for each of the query, key and value projections.
        out_bias: Count the bias of the output projection.

    Returns:
        The number of parameters.

    Raises:
        TypeError: If a size is not an int or a flag not a bool.
        ValueError: If a size is below 1 or `embed_dim` is not divisible by `num_heads`.

    Taught in [4.6](../multihead-attention.md#46-sizes).

    Examples:
        >>> from attention_lab import multihead_parameter_count
        >>> multihead_parameter_count(768, 12)  # GPT-2 small: no QKV bias, output bias
        2360064
    """
    size = _checks.check_size("embed_dim", embed_dim)
    _check_heads(size, num_heads)
    with_qkv_bias = _checks.check_flag("qkv_bias", qkv_bias)
    with_out_bias = _checks.check_flag("out_bias", out_bias)
    return 4 * size * size + 3 * size * with_qkv_bias + size * with_out_bias


class MultiHeadAttention(nn.Module):
    r"""Multi-head attention as one module: one projection per matrix, heads split, one batched attention.

    Parameters `W_query`, `W_key`, `W_value`, `W_out`, all `(E, E)`, and
    `out_bias` `(E,)` (absent when `out_bias=False`). $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ are
    drawn head by head like [`init_projection_weights`][attention_lab.init_projection_weights]`(E, H)`
    and placed side by side, so a [`MultiHeadAttentionWrapper`][attention_lab.MultiHeadAttentionWrapper]
    built with the same seed holds the same heads; $\mathbf{W}_o$ and $b_o$ are then
    drawn like `nn.Linear(E, E)`'s defaults, uniform in $\pm 1/\sqrt{E}$.

    **Train and eval.** As in chapter 3: in training mode with `dropout > 0`
    each call drops attention weights, drawing the mask from the `generator`
    passed to that call; in evaluation mode nothing is dropped. Nothing is
    stored on the module between calls.

    Args:
        embed_dim: The model size `E` of the inputs and outputs.
        num_heads: The number of heads; must divide `embed_dim`.
        causal: Mask the future. **Default `True`.**
        out_bias: Give the output projection a bias. Default `True`.

    Other Parameters:
        dropout, scaled, seed, generator, dtype: As for [`CausalSelfAttention`][attention_lab.CausalSelfAttention].

    Raises:
        TypeError: On a size, seed, generator, flag, `dropout` or dtype of the wrong type.
        ValueError: If a size is below 1, `embed_dim` is not divisible by
            `num_heads`, `dropout` is outside `[0, 1)`, or not exactly one of
            `seed` and `generator` is given.

    Shapes:
        `forward` maps `inputs (L, E)` to `(L, E)` (and `weights (heads, L, L)`),
        or `(B, L, E)` to `(B, L, E)` (and `(B, heads, L, L)`).

    Taught in [4.3](../multihead-attention.md#43-heads-as-one-matrix).

    Examples:
        >>> import torch
        >>> from attention_lab import MultiHeadAttention, example_inputs
        >>> module = MultiHeadAttention(3, 3, seed=123)
        >>> module
        MultiHeadAttention(embed_dim=3, num_heads=3, head_dim=1, causal=True, scaled=True, dropout=0.0)
        >>> sum(parameter.numel() for parameter in module.parameters())
        39
        >>> with torch.no_grad():
        ...     output, weights = module(example_inputs(), return_weights=True)
        >>> output.shape, weights.shape
        (torch.Size([6, 3]), torch.Size([3, 6, 6]))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        causal: bool = True,
        dropout: float = 0.0,
        out_bias: bool = True,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        scaled: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.embed_dim = _checks.check_size("embed_dim", embed_dim)
        self.num_heads = _check_heads(self.embed_dim, num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.causal = _checks.check_flag("causal", causal)
        self.scaled = _checks.check_flag("scaled", scaled)
        self.dropout = _checks.check_dropout("dropout", dropout)
        with_bias = _checks.check_flag("out_bias", out_bias)
        dtype = _checks.check_float_dtype("dtype", dtype)
        source = _checks.make_generator(seed, generator)
        heads = [init_projection_weights(self.embed_dim, self.head_dim, generator=source, dtype=dtype) for _ in range(self.num_heads)]
        stacked = _stack_heads(heads)  # three (E, heads*H)
        self.W_query = nn.Parameter(stacked.query)  # (E, E)
        self.W_key = nn.Parameter(stacked.key)  # (E, E)
        self.W_value = nn.Parameter(stacked.value)  # (E, E)
        bound = 1.0 / math.sqrt(self.embed_dim)  # nn.Linear's default range
        out = torch.empty(self.embed_dim, self.embed_dim, dtype=dtype).uniform_(-bound, bound, generator=source)
        self.W_out = nn.Parameter(out)  # (E, E)
        bias = torch.empty(self.embed_dim, dtype=dtype).uniform_(-bound, bound, generator=source) if with_bias else None
        self.out_bias = None if bias is None else nn.Parameter(bias)  # (E,)

    def _weights(self) -> MultiHeadWeights:
        return MultiHeadWeights(self.W_query, self.W_key, self.W_value, self.W_out, self.out_bias)

    def forward(
        self,
        inputs: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        return_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Multi-head self-attention of one sentence or a batch.

        Args:
            inputs: The embeddings of all tokens, `(L, E)` or `(B, L, E)`.
            mask: Optional boolean mask shared by all heads, combined with the
                causal one when the module is causal. **`True` = may attend**, the opposite of
                `torch.nn.MultiheadAttention` ([masks](causal-attention.md#masks)). Broadcasts to
                `(L, L)` or `(B, L, L)`.
            return_weights: Also return the attention weights of every head.

        Other Parameters:
            generator: As for [`CausalSelfAttention.forward`][attention_lab.CausalSelfAttention.forward].

        Returns:
            The output, or `(output, weights)` when `return_weights` is true.

        Raises:
            TypeError: As `CausalSelfAttention.forward`.
            ValueError: As `CausalSelfAttention.forward`, or if the inputs and
                parameters are so large that a product overflows.

        Shapes:
            `inputs (L, E)` gives `output (L, E)` and `weights (heads, L, L)`;
            `inputs (B, L, E)` gives `(B, L, E)` and `(B, heads, L, L)`.
        """
        tensor, keep, rate, source, return_weights = _check_module_call(self, inputs, mask, generator, return_weights, self.W_query)
        result = _multihead(
            tensor, self._weights(), self.num_heads, keep, causal=self.causal, scaled=self.scaled, dropout=rate, generator=source
        )
        _require_no_overflow(result.output, tensor, "the module's parameters", list(self.parameters()))
        return (result.output, result.weights) if return_weights else result.output

    def multihead_weights(self) -> MultiHeadWeights:
        r"""A detached copy of $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$, $\mathbf{W}_o$ and $b_o$.

        Returns:
            The parameters; changing them does not change the module.

        Shapes:
            four `(E, E)` and `(E,)` (or `None` without an output bias).

        Examples:
            >>> from attention_lab import MultiHeadAttention
            >>> MultiHeadAttention(4, 2, seed=0).multihead_weights().out.shape
            torch.Size([4, 4])
        """
        detached = [None if tensor is None else tensor.detach().clone() for tensor in self._weights()]
        return MultiHeadWeights(*detached)  # type: ignore[arg-type]  # the first four are never None

    @torch.no_grad()
    def load_multihead_weights(self, multihead_weights: MultiHeadWeights) -> None:
        r"""Copy $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$, $\mathbf{W}_o$ and $b_o$ into the module's parameters, in place.

        Args:
            multihead_weights: The five tensors, of this module's sizes; cast to
                the module's dtype. `out_bias` must be given exactly when the module has one.

        Raises:
            TypeError: If `multihead_weights` is not a `MultiHeadWeights` of floating-point tensors.
            ValueError: If a shape is not this module's, a value is NaN/inf, or
                `out_bias` is given to a module without one (or missing for one with it).

        Examples:
            >>> import torch
            >>> from attention_lab import MultiHeadAttention, MultiHeadWeights
            >>> module = MultiHeadAttention(2, 1, out_bias=False, seed=0)
            >>> module.load_multihead_weights(MultiHeadWeights(*(torch.eye(2) for _ in range(4)), out_bias=None))
            >>> torch.equal(module.W_out, torch.eye(2))
            True
        """
        weights = _check_multihead_weights(multihead_weights)
        if weights.query.shape[0] != self.embed_dim:
            raise ValueError(
                f"multihead_weights must have model size E = {self.embed_dim} to match the module, "
                f"got {weights.query.shape[0]}"
            )
        if (weights.out_bias is None) != (self.out_bias is None):
            has = "has no" if self.out_bias is None else "has an"
            given = "None" if weights.out_bias is None else "a tensor"
            raise ValueError(f"out_bias: the module {has} output bias, got {given}")
        for parameter, tensor in zip(self._weights(), weights):
            if parameter is not None and tensor is not None:
                parameter.copy_(tensor)

    def extra_repr(self) -> str:
        """The sizes, the switches and the dropout rate, shown in `repr(module)`."""
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, head_dim={self.head_dim}, "
            f"causal={self.causal}, scaled={self.scaled}, dropout={self.dropout}"
        )


def _stack_heads(heads: Sequence[ProjectionWeights]) -> ProjectionWeights:
    """Each head's (E, H) matrices side by side, head 0 first: three (E, heads*H)."""
    return ProjectionWeights(
        *(torch.cat([head[index] for head in heads], dim=1) for index in range(3))  # (E, heads*H)
    )


# --- a list of chapter 3 heads ------------------------------------------------------------------


class MultiHeadAttentionWrapper(nn.Module):
    r"""Multi-head attention as a list of chapter 3 heads whose outputs are concatenated.

    `heads` is an `nn.ModuleList` of [`CausalSelfAttention`][attention_lab.CausalSelfAttention]
    modules, drawn one after the other from one generator. `forward` runs each
    head on the same inputs and concatenates their context vectors, head 0
    first: `(..., L, heads * H)`. There is no output projection; the one-matrix
    [`MultiHeadAttention`][attention_lab.MultiHeadAttention] adds $\mathbf{W}_o$.

    Args:
        embed_dim: The embedding size `E` of the inputs.
        hidden_dim: The hidden size `H` of each head.
        num_heads: The number of heads.

    Other Parameters:
        dropout, scaled, seed, generator, dtype: As for
            [`CausalSelfAttention`][attention_lab.CausalSelfAttention], each head one such module.

    Raises:
        TypeError: On a size, seed, generator, `scaled`, `dropout` or dtype of the wrong type.
        ValueError: If a size is below 1, `dropout` is outside `[0, 1)`, or not
            exactly one of `seed` and `generator` is given.

    Shapes:
        each head's `W_query`, `W_key`, `W_value` `(E, H)`; `forward` maps
        `inputs (L, E)` to `(L, heads * H)` (and `weights (heads, L, L)`), or
        `(B, L, E)` to `(B, L, heads * H)` (and `(B, heads, L, L)`).

    Taught in [4.2](../multihead-attention.md#42-heads-as-a-list).

    Examples:
        >>> import torch
        >>> from attention_lab import MultiHeadAttentionWrapper, example_inputs
        >>> wrapper = MultiHeadAttentionWrapper(3, 4, num_heads=2, seed=123)
        >>> len(wrapper.heads), wrapper.heads[0]
        (2, CausalSelfAttention(embed_dim=3, hidden_dim=4, scaled=True, dropout=0.0))
        >>> with torch.no_grad():
        ...     wrapper(example_inputs()).shape  # (L, heads * H)
        torch.Size([6, 8])
    """

    def __init__(
        self,
        embed_dim: int,
        hidden_dim: int,
        num_heads: int,
        *,
        dropout: float = 0.0,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        scaled: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        count = _checks.check_size("num_heads", num_heads)
        _checks.check_size("embed_dim", embed_dim)
        _checks.check_size("hidden_dim", hidden_dim)
        _checks.check_dropout("dropout", dropout)
        source = _checks.make_generator(seed, generator)
        self.heads = nn.ModuleList(
            CausalSelfAttention(embed_dim, hidden_dim, dropout=dropout, generator=source, scaled=scaled, dtype=dtype)
            for _ in range(count)
        )
        self.embed_dim = embed_dim
        self.hidden_dim = hidden_dim
        self.num_heads = count
        self.dropout = float(dropout)

    def _head_modules(self) -> list[CausalSelfAttention]:
        return [head for head in self.heads if isinstance(head, CausalSelfAttention)]

    def forward(
        self,
        inputs: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        return_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run every head on the same inputs and concatenate their context vectors.

        The inputs are checked once, here; each head then runs chapter 3's kernel,
        which checks only that its projections, scores and context stay finite
        (an overflow names the inputs and the heads' weights). With dropout active, head 0 draws its mask from
        `generator` first, then head 1, and so on.

        Args:
            inputs: The embeddings of all tokens, `(L, E)` or `(B, L, E)`.
            mask: Optional extra boolean mask shared by all heads, combined with
                the causal one. **`True` = may attend**, the opposite of
                `torch.nn.MultiheadAttention` ([masks](causal-attention.md#masks)). Broadcasts to
                `(L, L)` or `(B, L, L)`.
            return_weights: Also return the attention weights of every head.

        Other Parameters:
            generator: As for [`CausalSelfAttention.forward`][attention_lab.CausalSelfAttention.forward];
                head 0 draws its dropout mask first.

        Returns:
            The concatenated context vectors, or `(context, weights)` when
            `return_weights` is true.

        Raises:
            TypeError: As `CausalSelfAttention.forward`.
            ValueError: As `CausalSelfAttention.forward`, or if the inputs and
                parameters are so large that a product overflows.

        Shapes:
            `inputs (L, E)` gives `context (L, heads * H)` and `weights (heads, L, L)`;
            `inputs (B, L, E)` gives `(B, L, heads * H)` and `(B, heads, L, L)`.
        """
        heads = self._head_modules()
        tensor, keep, rate, source, return_weights = _check_module_call(self, inputs, mask, generator, return_weights, heads[0].W_query)
        culprits = (("inputs", (tensor,)), ("the heads' W_q, W_k, W_v", tuple(self.parameters())))
        results = [  # each head checks its projections, scores and context once, as chapter 3's module does
            _attend(head._project(tensor), keep, causal=True, scaled=head.scaled, dropout=rate, generator=source,
                    culprits=culprits, projection_stage="the projections inputs @ W")
            for head in heads
        ]  # fmt: skip  # one chapter 3 head after the other: context (..., L, H), weights (..., L, L)
        context = torch.cat([result.context for result in results], dim=-1)  # (..., L, heads*H)
        if not return_weights:
            return context
        return context, torch.stack([result.weights for result in results], dim=-3)  # (..., heads, L, L)

    def projection_weights(self) -> ProjectionWeights:
        r"""The heads' $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ side by side, head 0 first: the one-matrix layout.

        Columns `h*H:(h+1)*H` of each matrix are head `h`'s. Put in a
        [`MultiHeadWeights`][attention_lab.MultiHeadWeights] with $\mathbf{W}_o = \mathbf{I}$ and
        no bias, they make [`multihead_self_attention`][attention_lab.multihead_self_attention]
        compute exactly what this wrapper computes.

        Returns:
            Detached copies; changing them does not change the module.

        Shapes:
            returns `ProjectionWeights((E, heads * H), (E, heads * H), (E, heads * H))`.

        Examples:
            >>> import torch
            >>> from attention_lab import MultiHeadAttentionWrapper
            >>> wrapper = MultiHeadAttentionWrapper(3, 2, num_heads=2, seed=0)
            >>> stacked = wrapper.projection_weights()
            >>> torch.equal(stacked.key[:, 2:4], wrapper.heads[1].W_key)
            True
        """
        return _stack_heads([head.projection_weights() for head in self._head_modules()])

    def extra_repr(self) -> str:
        """The sizes and the dropout rate, shown in `repr(module)`."""
        return (
            f"embed_dim={self.embed_dim}, hidden_dim={self.hidden_dim}, num_heads={self.num_heads}, "
            f"dropout={self.dropout}"
        )


# --- PyTorch's own module -----------------------------------------------------------------------


def to_torch_multihead(module: MultiHeadAttention, *, batch_first: bool = True) -> nn.MultiheadAttention:
    r"""A `torch.nn.MultiheadAttention` holding the weights of `module`, computing the same thing.

    PyTorch stores its projections as `nn.Linear` weights, transposed: its
    `in_proj_weight` `(3E, E)` is $\mathbf{W}_q^\top$, $\mathbf{W}_k^\top$, $\mathbf{W}_v^\top$ stacked,
    and `out_proj.weight` is $\mathbf{W}_o^\top$. The query, key and value biases are set
    to 0 (ours has none). Its heads split the features in the same layout as
    ours, so its per-head weights (`average_attn_weights=False`) are ours.

    Call it with `(x, x, x)`; with `batch_first=False` (PyTorch's default) a
    batch is `(L, B, E)`. **Its boolean masks mean the opposite of ours**:
    pass `attn_mask=~causal_mask(L)` for a causal module, and
    `key_padding_mask=~padding_mask(lengths, L)`. By default it returns the
    weights averaged over heads (`average_attn_weights=True`). Its dropout
    uses torch's global random state; the copy has the module's rate and
    training mode.

    Args:
        module: The multi-head module to copy.
        batch_first: PyTorch's flag: `True` for `(B, L, E)` batches, `False` for `(L, B, E)`.

    Returns:
        A new `torch.nn.MultiheadAttention(E, heads, bias=..., batch_first=...)`,
        with a bias exactly when `module` has an output bias.

    Raises:
        TypeError: If `module` is not a `MultiHeadAttention` or `batch_first` not a bool.
        ValueError: If `module` is unscaled (PyTorch always divides by $\sqrt{H}$).

    Taught in [4.5](../multihead-attention.md#45-pytorchs-nnmultiheadattention).

    Examples:
        >>> import torch
        >>> from attention_lab import MultiHeadAttention, causal_mask, example_inputs, to_torch_multihead
        >>> ours = MultiHeadAttention(3, 3, seed=123).eval()
        >>> theirs = to_torch_multihead(ours)
        >>> x = example_inputs()
        >>> with torch.no_grad():
        ...     agree = torch.allclose(ours(x), theirs(x, x, x, attn_mask=~causal_mask(6))[0], atol=1e-6)
        >>> agree
        True
    """
    if not isinstance(module, MultiHeadAttention):
        raise TypeError(f"module must be an attention_lab.MultiHeadAttention, got {type(module).__qualname__}")
    batch_first = _checks.check_flag("batch_first", batch_first)
    if not module.scaled:
        raise ValueError("module must be scaled (scaled=True): torch.nn.MultiheadAttention always divides by sqrt(H)")
    weights = module.multihead_weights()
    has_bias = weights.out_bias is not None
    torch_module: nn.MultiheadAttention = nn.utils.skip_init(  # type: ignore[no-untyped-call]  # untyped in torch
        nn.MultiheadAttention,
        module.embed_dim,
        module.num_heads,
        dropout=module.dropout,
        bias=has_bias,
        batch_first=batch_first,
        dtype=weights.query.dtype,
    )  # no random draw
    with torch.no_grad():
        torch_module.in_proj_weight.copy_(torch.cat([weights.query.T, weights.key.T, weights.value.T]))  # (3E, E)
        torch_module.out_proj.weight.copy_(weights.out.T)  # (E, E)
        if weights.out_bias is not None:
            torch_module.in_proj_bias.zero_()  # (3E,)
            torch_module.out_proj.bias.copy_(weights.out_bias)  # (E,)
    return torch_module.train(module.training)
