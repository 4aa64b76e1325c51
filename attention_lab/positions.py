r"""Chapter 6: where the words are. Absolute positions, and rotary positions (RoPE).

Every function here is one step of the chapter [Positions](../positions.md).
Attention by itself does not know where a token stands: permute the inputs and
the context vectors come out permuted the same way (chapter 2, section 2.8), so
"dog bites man" and "man bites dog" are the same bag of vectors to it. Two ways
to tell it where each token is:

- **absolute positions**: add one vector per position to the inputs, before
  the projections: a fixed table of sines and cosines
  ([`sinusoidal_positions`][attention_lab.sinusoidal_positions]) or a learned one;
- **rotary positions (RoPE)**: rotate each pair of coordinates of every query
  and key by an angle proportional to the token's position, with one frequency
  $\theta_i = \text{base}^{-2i/H}$ per pair
  ([`apply_rope`][attention_lab.apply_rope]). The score of a query at position
  $m$ and a key at position $n$ then depends on $m - n$ only.

Two ways of pairing a head's `H` coordinates are in use, and they give the same
scores up to a fixed permutation of the coordinates
([`interleaved_to_halves`][attention_lab.interleaved_to_halves]):

- `"halves"`: coordinate $i$ pairs with $i + H/2$ (Hugging Face's `rotate_half`,
  and most ports of Llama, Qwen, Mistral, Gemma);
- `"interleaved"`: coordinate $2i$ pairs with $2i + 1$ (the RoFormer paper and
  Meta's original Llama code, as complex numbers).

Rotation angles are computed in float64 and their cosines and sines cast to the
tensor's dtype: an angle of $m \theta_i$ at a large position $m$ keeps its
accuracy. Shapes follow the package legend: `B` batch size, `L` tokens, `E`
embedding size, `H` hidden size of one head; rotary functions take `(..., L, H)`.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from attention_lab import _checks
from attention_lab.causal_attention import _attend
from attention_lab.self_attention import (
    Projections,
    ProjectionWeights,
    _check_projection_weights,
    _project,
    _weight_culprits,
)
from attention_lab.simplified_attention import AttentionResult

__all__ = [
    "ROPE_BASE",
    "add_positions",
    "apply_rope",
    "interleaved_to_halves",
    "rope_angles",
    "rope_frequencies",
    "rope_self_attention",
    "rotate_half",
    "sinusoidal_positions",
]

ROPE_BASE = 10_000.0
"""The default base of the frequencies, as in the Transformer paper, RoFormer and Llama 2 (Llama 3 uses 500,000)."""

_PAIRINGS = ("halves", "interleaved")


# --- checks at the boundary ---------------------------------------------------------------


def _check_base(value: object) -> float:
    """The base of the frequencies: a finite number above 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"base must be a number above 0, got {_checks._describe(value)}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"base must be a finite number above 0, got {value}")
    return float(value)


def _check_even_size(name: str, value: object) -> int:
    """A size that pairs its coordinates: a positive even int."""
    size = _checks.check_size(name, value)
    if size % 2:
        raise ValueError(f"{name} must be even: its coordinates are rotated in pairs, got {size}")
    return size


def _check_pairing(value: object) -> Literal["halves", "interleaved"]:
    if value not in _PAIRINGS:
        raise ValueError(f"pairing must be 'halves' or 'interleaved', got {value!r}")
    return value  # type: ignore[return-value]


def _check_positions(value: object) -> torch.Tensor:
    """Token positions: a 1-D, non-empty tensor of non-negative integers."""
    positions = _checks.require_tensor("positions", value)
    if positions.dtype.is_floating_point or positions.dtype.is_complex or positions.dtype == torch.bool:
        raise TypeError(f"positions must be an integer tensor (token indices), got dtype {positions.dtype}")
    if positions.dim() != 1 or positions.numel() == 0:
        raise ValueError(f"positions must be a non-empty 1-D tensor (L,), got shape {_checks._shape_text(positions)}")
    if bool((positions < 0).any()):
        raise ValueError(f"positions must be 0 or more, got {int(positions.min())} at index {int(positions.argmin())}")
    return positions


def _check_offset(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"offset must be an int (the number of tokens before these), got {_checks._describe(value)}")
    if value < 0:
        raise ValueError(f"offset must be 0 or more (the number of tokens before these), got {value}")
    return value


def _positions_for(tokens: torch.Tensor, positions: object, offset: object) -> torch.Tensor:
    """The position of each of the `L` tokens of `tokens (..., L, H)`: given, or `offset, offset + 1, ...`."""
    offset = _check_offset(offset)
    num_tokens = tokens.shape[-2]
    if positions is None:
        return torch.arange(offset, offset + num_tokens, device=tokens.device)  # (L,)
    if offset:
        raise ValueError(f"give positions or offset, not both (got positions and offset={offset})")
    checked = _check_positions(positions)
    _checks.require_same_size("positions", checked.shape[0], "the tokens", num_tokens, "length L")
    return checked.to(tokens.device)


# --- absolute positions ---------------------------------------------------------------------


def sinusoidal_positions(
    num_positions: int, dim: int, *, base: float = ROPE_BASE, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    r"""The Transformer's fixed table of absolute positions: sines and cosines of several frequencies.

    $$P_{p,\,2i} = \sin\big(p\,\omega_i\big), \qquad P_{p,\,2i+1} = \cos\big(p\,\omega_i\big),
    \qquad \omega_i = \text{base}^{-2i/E}$$

    Row $p$ is added to the input of the token at position $p$. The first
    columns turn fast (one radian per position), the last ones slowly (a full
    turn every $2\pi \cdot \text{base}$ positions at most): together they
    tell every position of a long text apart, as the hands of a clock do.

    Args:
        num_positions: The number of rows, one per position `0 .. num_positions - 1`.
        dim: The embedding size `E`; even (sines and cosines come in pairs).
        base: Sets the slowest frequency; default 10,000, the Transformer paper's.
        dtype: The floating-point dtype of the table (computed in float64).

    Returns:
        The table, one row per position.

    Raises:
        TypeError: If a size is not an int, `base` not a number or `dtype` not floating-point.
        ValueError: If a size is below 1, `dim` is odd, or `base` is not above 0.

    Shapes:
        returns `(num_positions, E)`.

    Taught in [6.2](../positions.md#62-absolute-positions).

    Examples:
        >>> from attention_lab import sinusoidal_positions
        >>> sinusoidal_positions(3, 6)
        tensor([[ 0.0000,  1.0000,  0.0000,  1.0000,  0.0000,  1.0000],
                [ 0.8415,  0.5403,  0.0464,  0.9989,  0.0022,  1.0000],
                [ 0.9093, -0.4161,  0.0927,  0.9957,  0.0043,  1.0000]])
    """
    num_positions = _checks.check_size("num_positions", num_positions)
    dim = _check_even_size("dim", dim)
    base = _check_base(base)
    dtype = _checks.check_float_dtype("dtype", dtype)
    angles = _angles(torch.arange(num_positions), dim, base)  # (P, E/2), float64
    table = torch.stack([angles.sin(), angles.cos()], dim=-1)  # (P, E/2, 2): sin, cos side by side
    return table.flatten(-2).to(dtype)  # (P, E): sin, cos, sin, cos, ...


def add_positions(inputs: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Add each token's position vector to its input: row `p` of `table` to token `p`.

    Works for a fixed table ([`sinusoidal_positions`][attention_lab.sinusoidal_positions])
    as for a learned one (the weight of an `nn.Embedding(num_positions, E)`). A
    table covers a fixed number of positions: a longer input is an error.

    Args:
        inputs: One embedding per token, optionally with a batch axis.
        table: One vector per position, at least as many as `inputs` has tokens.

    Returns:
        `inputs + table[:L]`, the table broadcast over the batch.

    Raises:
        TypeError: If a tensor is not floating-point or their dtypes differ.
        ValueError: If a shape is wrong, a tensor is empty or holds NaN/inf, the
            embedding sizes differ, or `inputs` has more tokens than `table` has positions.

    Shapes:
        `inputs (L, E)` or `(B, L, E)`, `table (P, E)` with `P >= L`; returns the shape of `inputs`.

    Taught in [6.2](../positions.md#62-absolute-positions).

    Examples:
        >>> import torch
        >>> from attention_lab import add_positions, sinusoidal_positions
        >>> add_positions(torch.ones(2, 6), sinusoidal_positions(8, 6))
        tensor([[1.0000, 2.0000, 1.0000, 2.0000, 1.0000, 2.0000],
                [1.8415, 1.5403, 1.0464, 1.9989, 1.0022, 2.0000]])
    """
    tokens = _checks.check_tokens_maybe_batched("inputs", inputs, ("L", "E"))
    positions = _checks.check_matrix("table", table, ("P", "E"))
    _checks.require_same_size("inputs", tokens.shape[-1], "table", positions.shape[-1], "embedding size E")
    _checks.require_same_dtype("inputs", tokens, "table", positions)
    num_tokens = tokens.shape[-2]
    if num_tokens > positions.shape[0]:
        raise ValueError(
            f"inputs has {num_tokens} tokens but the position table holds {positions.shape[0]} positions: "
            "a table of absolute positions covers a fixed length"
        )
    return tokens + positions[:num_tokens].to(tokens.device)  # (..., L, E) + (L, E)


# --- rotary positions -----------------------------------------------------------------------


def _frequencies(head_dim: int, base: float) -> torch.Tensor:
    """theta_i = base^(-2i/H) for i = 0 .. H/2 - 1, float64; unchecked kernel."""
    exponents = torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim  # 2i / H
    return base**-exponents  # (H/2,)


def _angles(positions: torch.Tensor, head_dim: int, base: float) -> torch.Tensor:
    """m * theta_i for each position m and pair i, float64; unchecked kernel."""
    frequencies = _frequencies(head_dim, base).to(positions.device)  # (H/2,)
    return positions.to(torch.float64)[:, None] * frequencies  # (L, 1) * (H/2,) -> (L, H/2)


def rope_frequencies(head_dim: int, *, base: float = ROPE_BASE) -> torch.Tensor:
    r"""The rotation frequency of each pair of coordinates: $\theta_i = \text{base}^{-2i/H}$.

    Pair 0 turns by one radian per position, the last pair by about
    $1/\text{base}$ radian: fast pairs tell neighbours apart, slow ones far-apart tokens.

    Args:
        head_dim: The hidden size `H` of one head; even.
        base: Sets the slowest frequency; default [`ROPE_BASE`][attention_lab.ROPE_BASE] (10,000).

    Returns:
        One frequency per pair, in radians per position, float64.

    Raises:
        TypeError: If `head_dim` is not an int or `base` not a number.
        ValueError: If `head_dim` is below 1 or odd, or `base` is not above 0.

    Shapes:
        returns `(H/2,)`.

    Taught in [6.3](../positions.md#63-rotary-positions).

    Examples:
        >>> from attention_lab import rope_frequencies
        >>> rope_frequencies(8)
        tensor([1.0000, 0.1000, 0.0100, 0.0010], dtype=torch.float64)
    """
    return _frequencies(_check_even_size("head_dim", head_dim), _check_base(base))


def rope_angles(positions: torch.Tensor, head_dim: int, *, base: float = ROPE_BASE) -> torch.Tensor:
    r"""The angle each pair of coordinates is rotated by at each position: $m\,\theta_i$.

    Args:
        positions: The position $m$ of each token, integers from 0.
        head_dim: The hidden size `H` of one head; even.
        base: Sets the slowest frequency; default 10,000.

    Returns:
        The angles in radians, float64.

    Raises:
        TypeError: If `positions` is not an integer tensor, `head_dim` not an int or `base` not a number.
        ValueError: If `positions` is not 1-D, empty or negative, `head_dim` is below 1 or odd,
            or `base` is not above 0.

    Shapes:
        `positions (L,)`; returns `(L, H/2)`.

    Taught in [6.3](../positions.md#63-rotary-positions).

    Examples:
        >>> import torch
        >>> from attention_lab import rope_angles
        >>> rope_angles(torch.arange(3), 4)
        tensor([[0.0000, 0.0000],
                [1.0000, 0.0100],
                [2.0000, 0.0200]], dtype=torch.float64)
    """
    checked = _check_positions(positions)
    return _angles(checked, _check_even_size("head_dim", head_dim), _check_base(base))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    r"""Hugging Face's helper of the `"halves"` pairing: $(x_1, x_2) \mapsto (-x_2, x_1)$ on the two halves.

    Coordinate $i$ of the first half pairs with coordinate $i + H/2$; this
    gives each pair the second column of its rotation, so that
    `x * cos + rotate_half(x) * sin` rotates every pair at once.

    Args:
        x: Vectors of even size `H` in the last axis.

    Returns:
        The two halves of the last axis swapped, the new first half negated.

    Raises:
        TypeError: If `x` is not a floating-point tensor.
        ValueError: If `x` has no axis or an odd last axis.

    Shapes:
        `x (..., H)`; returns `(..., H)`.

    Taught in [6.4](../positions.md#64-two-pairings).

    Examples:
        >>> import torch
        >>> from attention_lab import rotate_half
        >>> rotate_half(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        tensor([-3., -4.,  1.,  2.])
    """
    tensor = _checks.require_tensor("x", x)
    _checks.require_floating("x", tensor)
    if tensor.dim() == 0:
        raise ValueError("x must have at least one axis (..., H), got a 0-D tensor")
    _check_even_size("x's last axis H", tensor.shape[-1])
    return _rotate_half(tensor)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)  # (..., H/2) each
    return torch.cat([-second, first], dim=-1)  # (..., H)


def _rope(x: torch.Tensor, angles: torch.Tensor, pairing: str) -> torch.Tensor:
    """Rotate each pair of `x (..., L, H)` by `angles (L, H/2)`; unchecked kernel."""
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)  # (L, H/2) each
    if pairing == "halves":  # pair i = coordinates (i, i + H/2)
        cos, sin = torch.cat([cos, cos], dim=-1), torch.cat([sin, sin], dim=-1)  # (L, H)
        return x * cos + _rotate_half(x) * sin  # (..., L, H)
    even, odd = x[..., 0::2], x[..., 1::2]  # pair i = coordinates (2i, 2i + 1): (..., L, H/2) each
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)  # (..., L, H/2, 2)
    return rotated.flatten(-2)  # (..., L, H): back in place, 2i and 2i + 1 side by side


def apply_rope(
    x: torch.Tensor,
    positions: torch.Tensor | None = None,
    *,
    offset: int = 0,
    base: float = ROPE_BASE,
    pairing: Literal["halves", "interleaved"] = "halves",
) -> torch.Tensor:
    r"""Rotary positions: rotate each pair of coordinates of each token by $m\,\theta_i$.

    For the pair $(a, b)$ of frequency $\theta_i$ of the token at position $m$:

    $$a' = a \cos m\theta_i - b \sin m\theta_i, \qquad b' = a \sin m\theta_i + b \cos m\theta_i$$

    Applied to the queries and the keys (never the values), it makes the score
    $q'_m \cdot k'_n$ a function of $q$, $k$ and $m - n$ only: rotations by
    $m\theta$ and $n\theta$ leave the angle $(m - n)\theta$ between them.

    Args:
        x: Queries or keys, one `H`-vector per token, with any leading axes (batch, heads).
        positions: The position of each of the `L` tokens; default
            `offset, offset + 1, ..., offset + L - 1`.
        offset: The number of tokens before these (a cache's length, chapter 7);
            only when `positions` is not given.
        base: Sets the slowest frequency; default 10,000.
        pairing: Which coordinates form a pair: `"halves"` (`i` with `i + H/2`,
            Hugging Face's layout, the default) or `"interleaved"` (`2i` with `2i + 1`,
            Meta's original Llama code).

    Returns:
        `x` with every pair rotated, same shape and dtype.

    Raises:
        TypeError: If `x` is not floating-point, `positions` not an integer
            tensor, `offset` not an int or `base` not a number.
        ValueError: If `x` is not 2-D or more, empty or holds NaN/inf, `H` is odd,
            `positions` is not `(L,)` or holds a negative value, `offset` is
            negative or given with `positions`, `base` is not above 0, or
            `pairing` is neither name.

    Shapes:
        `x (..., L, H)`, `positions (L,)`; returns `(..., L, H)`.

    Taught in [6.3](../positions.md#63-rotary-positions).

    Examples:
        >>> import torch
        >>> from attention_lab import apply_rope
        >>> apply_rope(torch.tensor([[1.0, 0.0], [1.0, 0.0]]))  # H = 2: one pair, theta = 1 radian
        tensor([[1.0000, 0.0000],
                [0.5403, 0.8415]])
    """
    tokens = _checks.check_tokens_any_batch("x", x, ("L", "H"))
    head_dim = _check_even_size("x's head size H", tokens.shape[-1])
    base = _check_base(base)
    pairing = _check_pairing(pairing)
    checked = _positions_for(tokens, positions, offset)
    return _rope(tokens, _angles(checked, head_dim, base), pairing)


def interleaved_to_halves(head_dim: int) -> torch.Tensor:
    """The permutation of a head's coordinates that turns the interleaved pairing into the halves one.

    `[0, 2, 4, ..., H - 2, 1, 3, ..., H - 1]`: the first coordinate of every
    pair, then the second. For any `x`,
    `apply_rope(x, pairing="interleaved")[..., perm]` equals
    `apply_rope(x[..., perm], pairing="halves")`: the same products, in
    other places. To load weights trained with one pairing into a model that
    uses the other, permute the columns of each head's `W_q` and `W_k` (the
    rows of an `nn.Linear` weight) with it; `W_v` stays as it is.

    Args:
        head_dim: The hidden size `H` of one head; even.

    Returns:
        Indices into the last axis, dtype `torch.long`.

    Raises:
        TypeError: If `head_dim` is not an int.
        ValueError: If `head_dim` is below 1 or odd.

    Shapes:
        returns `(H,)`.

    Taught in [6.4](../positions.md#64-two-pairings).

    Examples:
        >>> from attention_lab import interleaved_to_halves
        >>> interleaved_to_halves(6)
        tensor([0, 2, 4, 1, 3, 5])
    """
    head_dim = _check_even_size("head_dim", head_dim)
    return torch.cat([torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)])  # (H,)


def rope_self_attention(
    inputs: torch.Tensor,
    projection_weights: ProjectionWeights,
    *,
    positions: torch.Tensor | None = None,
    offset: int = 0,
    base: float = ROPE_BASE,
    pairing: Literal["halves", "interleaved"] = "halves",
    causal: bool = True,
) -> AttentionResult:
    r"""Causal self-attention with rotary positions on the queries and keys.

    Chapter 3's attention with one step more: $\mathbf{Q} = \mathbf{X}\mathbf{W}_q$
    and $\mathbf{K} = \mathbf{X}\mathbf{W}_k$ are rotated by
    [`apply_rope`][attention_lab.apply_rope] before the scores
    $\mathbf{Q}'\mathbf{K}'^\top / \sqrt{H}$; the values are not.

    Args:
        inputs: One embedding per token, optionally with a batch axis.
        projection_weights: `(W_q, W_k, W_v)`, each `(E, H)`, from
            [`init_projection_weights`][attention_lab.init_projection_weights].
        positions: The position of each token; default `offset, offset + 1, ...`.
        offset: The number of tokens before these; only without `positions`.
        base: Sets the slowest frequency; default 10,000.
        pairing: `"halves"` (default) or `"interleaved"`.
        causal: Mask the future (default `True`, as in a language model).

    Returns:
        `scores` (after masking), `weights` and `context`, as
        [`causal_self_attention`][attention_lab.causal_self_attention] returns them.

    Raises:
        TypeError: On a non-floating-point tensor, mismatched dtypes, integer-less
            `positions`, a non-int `offset`, a non-number `base` or a non-bool `causal`.
        ValueError: On inputs that are not 2-D or 3-D, sizes that disagree, an
            odd `H`, an empty tensor, NaN/inf values, bad positions or offset,
            `base` not above 0 or an unknown `pairing`.

    Shapes:
        `inputs (L, E)` or `(B, L, E)`, `projection_weights` three `(E, H)`;
        returns `AttentionResult((L, L), (L, L), (L, H))`, with a leading `B` for a batch.

    Taught in [6.3](../positions.md#63-rotary-positions).

    Examples:
        >>> from attention_lab import example_inputs, init_projection_weights, rope_self_attention
        >>> parameters = init_projection_weights(3, 4, seed=123)
        >>> rope_self_attention(example_inputs(), parameters).weights[2]
        tensor([0.3269, 0.3633, 0.3098, 0.0000, 0.0000, 0.0000])
    """
    weights = _check_projection_weights(projection_weights)
    tokens = _checks.check_inputs_for(inputs, "projection_weights", weights.query)
    head_dim = _check_even_size("the head size H of projection_weights", weights.query.shape[1])
    base = _check_base(base)
    pairing = _check_pairing(pairing)
    causal = _checks.check_flag("causal", causal)
    checked = _positions_for(tokens, positions, offset)
    queries, keys, values = _project(tokens, weights)  # chapter 2's kernel: three (..., L, H)
    angles = _angles(checked, head_dim, base)  # (L, H/2)
    rotated = Projections(_rope(queries, angles, pairing), _rope(keys, angles, pairing), values)  # V unrotated
    return _attend(rotated, None, causal=causal, scaled=True, dropout=0.0, generator=None,
                   culprits=_weight_culprits(tokens, weights))  # fmt: skip
