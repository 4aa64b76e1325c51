r"""Chapter 7: generating one token at a time, with a cache of keys and values.

A language model writes a text one token at a time, and each new token attends
to every token before it. Recomputing the keys and values of all of them at
every step repeats work: they do not change. A **KV cache** keeps them: the
prompt is run once (*prefill*), then each step computes the query, key and
value of the new tokens only and attends over the cache (*decode*).

The new tokens are the **last** ones of the sequence, so the causal mask of
`Lq` new queries against `Lk >= Lq` keys is aligned to the bottom-right corner:
query `i` sits at position `Lk - Lq + i` and sees the keys up to it. PyTorch's
`is_causal=True` aligns it to the top-left, right only when `Lq == Lk`; with a
cache that is the mask of `torch.nn.attention.bias.causal_lower_right`.

Shapes follow the package legend, with `Lq` new tokens and `Lk` tokens in all
(cache included): queries `(..., Lq, H)`, keys `(..., Lk, H)`, values
`(..., Lk, Hv)`, any leading axes (batch, heads).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from attention_lab import _checks
from attention_lab.causal_attention import _mask_scores
from attention_lab.multihead_attention import _merge_heads, _split_heads
from attention_lab.simplified_attention import (
    AttentionResult,
    _check_attention_overflow,
    _score_culprits,
    _score_matrix,
    _softmax_fused,
)

__all__ = [
    "KVCache",
    "LatentAttentionWeights",
    "latent_attention",
    "init_latent_attention_weights",
    "cache_causal_mask",
    "cached_attention",
    "grouped_query_attention",
    "kv_cache_bytes",
    "repeat_kv_heads",
    "sliding_window_mask",
]


def cache_causal_mask(num_queries: int, num_keys: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """The causal mask of the newest `Lq` tokens against all `Lk` tokens: aligned bottom-right.

    Query `i` is the token at position `Lk - Lq + i`; it may attend to the keys
    at positions up to its own. **`True` = may attend**, as in chapter 3. With
    `Lq == Lk` it is chapter 3's `causal_mask`; with fewer queries it is the
    lower-right part of it, not the upper-left part that `is_causal=True` uses.

    Args:
        num_queries: The number `Lq` of new tokens (queries).
        num_keys: The number `Lk` of tokens in all, cached ones included; at least `Lq`.
        device: Where to build it (a `torch.device` or its name); `None` is the CPU.

    Returns:
        `True` where a query may attend to a key.

    Raises:
        TypeError: If a size is not an int or `device` not a device.
        ValueError: If a size is below 1, `num_queries > num_keys`, or `device` names no device.

    Shapes:
        returns `(Lq, Lk)`, dtype `torch.bool`.

    Taught in [7.2](../generation.md#72-the-alignment-trap).

    Examples:
        >>> from attention_lab import cache_causal_mask
        >>> cache_causal_mask(2, 4)  # 2 new tokens after 2 cached ones
        tensor([[ True,  True,  True, False],
                [ True,  True,  True,  True]])
    """
    num_queries = _checks.check_size("num_queries", num_queries)
    num_keys = _checks.check_size("num_keys", num_keys)
    _check_fewer_queries(num_queries, num_keys)
    return _cache_causal_mask(num_queries, num_keys, _checks.check_device("device", device))


def _check_fewer_queries(num_queries: int, num_keys: int) -> None:
    if num_queries > num_keys:
        raise ValueError(
            f"the new tokens are among all the tokens: expected at most {num_keys} queries "
            f"(one per key), got {num_queries}"
        )


def _cache_causal_mask(num_queries: int, num_keys: int, device: torch.device) -> torch.Tensor:
    ones = torch.ones(num_queries, num_keys, dtype=torch.bool, device=device)  # (Lq, Lk)
    return ones.tril(diagonal=num_keys - num_queries)  # query i sees keys j <= Lk - Lq + i


def sliding_window_mask(
    num_queries: int, num_keys: int, window: int, *, device: torch.device | str | None = None
) -> torch.Tensor:
    """The causal mask of a sliding window: each query sees itself and the `W - 1` tokens before it.

    **Convention**: a window of `W` is `W` keys in all, the query's own
    included. Some references count `W` keys *before* the query, `W + 1` in
    all: their window of 4096 is this one's 4097. Read a model's code before
    comparing numbers. Aligned bottom-right, like
    [`cache_causal_mask`][attention_lab.cache_causal_mask], which
    it equals when `W >= Lk`.

    Args:
        num_queries, num_keys: As for [`cache_causal_mask`][attention_lab.cache_causal_mask].
        window: `W`, the keys each query sees, itself included.
        device: Where to build it (a `torch.device` or its name); `None` is the CPU.

    Returns:
        `True` where a query may attend to a key.

    Raises:
        TypeError: As `cache_causal_mask`, or if `window` is not an int.
        ValueError: As `cache_causal_mask`, or if `window` is below 1.

    Shapes:
        returns `(Lq, Lk)`, dtype `torch.bool`.

    Taught in [7.6](../generation.md#76-sliding-windows).

    Examples:
        >>> from attention_lab import sliding_window_mask
        >>> sliding_window_mask(4, 4, window=2).int()
        tensor([[1, 0, 0, 0],
                [1, 1, 0, 0],
                [0, 1, 1, 0],
                [0, 0, 1, 1]], dtype=torch.int32)
    """
    num_queries = _checks.check_size("num_queries", num_queries)
    num_keys = _checks.check_size("num_keys", num_keys)
    window = _checks.check_size("window", window)
    _check_fewer_queries(num_queries, num_keys)
    return _keep_mask(num_queries, num_keys, window, _checks.check_device("device", device))


def _keep_mask(num_queries: int, num_keys: int, window: int | None, device: torch.device) -> torch.Tensor:
    """The bottom-right causal mask, cut to the last `window` keys of each query when a window is given."""
    if window is None:
        return _cache_causal_mask(num_queries, num_keys, device)  # (Lq, Lk): keys j <= p
    position = torch.arange(num_keys - num_queries, num_keys, device=device)[:, None]  # (Lq, 1): p
    key = torch.arange(num_keys, device=device)  # (Lk,): j
    return (key <= position) & (key > position - window)  # (Lq, Lk): p - W < j <= p


def cached_attention(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    *,
    scaled: bool = True,
    window: int | None = None,
) -> AttentionResult:
    r"""Causal attention of the newest tokens' queries over all keys and values so far.

    $$\mathbf{Z} = \operatorname{softmax}\Big(\operatorname{mask}_{\searrow}\Big(\frac{\mathbf{Q}\mathbf{K}^\top}{\sqrt{H}}\Big)\Big)\mathbf{V}$$

    with the bottom-right causal mask of
    [`cache_causal_mask`][attention_lab.cache_causal_mask]. Row `i`
    of the result is row `Lk - Lq + i` of chapter 3's causal attention over
    the whole sequence: one new token (decode) or several (prefill in chunks).

    Args:
        queries: The queries of the `Lq` new tokens, with any leading axes.
        keys: The keys of all `Lk` tokens, the cached ones first, then the new ones.
        values: The values of all `Lk` tokens, in the same order.
        scaled: Divide the scores by $\sqrt{H}$ (default `True`).
        window: With a sliding window of `W` keys, each query sees only itself and
            the `W - 1` keys before it (see
            [`sliding_window_mask`][attention_lab.sliding_window_mask]).

    Returns:
        `scores` (`-inf` where masked), `weights` and `context`.

    Raises:
        TypeError: If a tensor is not floating-point, the dtypes differ or `scaled` is not a bool.
        ValueError: If a tensor is not 2-D or more, is empty or holds NaN/inf, the
            leading axes or sizes disagree, there are more queries than keys, or the
            values are so large that a score overflows.

    Shapes:
        `queries (..., Lq, H)`, `keys (..., Lk, H)`, `values (..., Lk, Hv)`; returns
        `AttentionResult((..., Lq, Lk), (..., Lq, Lk), (..., Lq, Hv))`.

    Taught in [7.1](../generation.md#71-the-kv-cache).

    Examples:
        >>> import torch
        >>> from attention_lab import cached_attention
        >>> x = torch.eye(3)  # three tokens; the last one is new
        >>> cached_attention(x[2:], x, x).weights
        tensor([[0.2645, 0.2645, 0.4711]])
    """
    q, k, v = _check_queries_keys_values(queries, keys, values, grouped=False)
    scaled = _checks.check_flag("scaled", scaled)
    window = None if window is None else _checks.check_size("window", window)
    return _cached_attention(q, k, v, scaled=scaled, window=window, culprits=_score_culprits(q, k))


def _check_queries_keys_values(
    queries: object, keys: object, values: object, *, grouped: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Queries of the newest tokens, keys and values of all: one dtype and device, the same leading
    axes (before the heads when `grouped`: key/value heads may be fewer), `H`, `Lk` and `Lq <= Lk`."""
    q = _checks.check_tokens_any_batch("queries", queries, ("Lq", "H"))
    k = _checks.check_tokens_any_batch("keys", keys, ("Lk", "H"))
    v = _checks.check_tokens_any_batch("values", values, ("Lk", "Hv"))
    if grouped and min(q.dim(), k.dim(), v.dim()) < 3:
        raise ValueError(
            "queries, keys and values must have a heads axis, (..., heads, L, H) (3-D or more), "
            f"got shapes {tuple(q.shape)}, {tuple(k.shape)} and {tuple(v.shape)}"
        )
    lead = -3 if grouped else -2  # the axes before the heads, or before the tokens
    for name, tensor in (("keys", k), ("values", v)):
        _checks.require_same_dtype("queries", q, name, tensor)
        _checks.require_same_device("queries", q, name, tensor)
        if tensor.shape[:lead] != q.shape[:lead]:
            raise ValueError(
                f"queries and {name} must have the same leading axes ({'batch' if grouped else 'batch, heads'}), "
                f"got {tuple(q.shape[:lead])} and {tuple(tensor.shape[:lead])}"
            )
    _checks.require_same_size("queries", q.shape[-1], "keys", k.shape[-1], "hidden size H")
    _checks.require_same_size("keys", k.shape[-2], "values", v.shape[-2], "number of tokens Lk")
    _check_fewer_queries(q.shape[-2], k.shape[-2])
    return q, k, v


def _cached_attention(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    *,
    scaled: bool,
    window: int | None = None,
    culprits: tuple[tuple[str, tuple[torch.Tensor, ...]], ...],
    projection_stage: str = "the queries, keys and values",
) -> AttentionResult:
    """`cached_attention` of validated tensors: the scores checked before the mask, the context
    after, an overflow naming `culprits` at its stage (see `_check_attention_overflow`)."""
    raw_scores = _score_matrix(queries, keys, scaled=scaled)  # chapter 1's scores: (..., Lq, Lk)
    scores, weights = _masked_weights(raw_scores, window)
    context = weights @ values  # (..., Lq, Hv)
    _check_attention_overflow(
        queries, keys, values, AttentionResult(raw_scores, weights, context), culprits, projection_stage=projection_stage
    )  # before the mask, an -inf score can only be an overflow
    return AttentionResult(scores, weights, context)


def _masked_weights(scores: torch.Tensor, window: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """`(..., Lq, Lk)` scores masked bottom-right (and to a window), then their softmax; unchecked."""
    keep = _keep_mask(scores.shape[-2], scores.shape[-1], window, scores.device)  # (Lq, Lk)
    scores = _mask_scores(scores, keep)  # chapter 3's: -inf where masked out
    return scores, _softmax_fused(scores, empty_slices=False)  # every query sees at least itself


def repeat_kv_heads(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Each key/value head repeated for the `groups` query heads that share it, next to each other.

    Head `h` of the result is head `h // groups` of `x`: query heads
    `0 .. groups - 1` share key/value head 0, and so on (`repeat_interleave`,
    what SDPA's `enable_gqa=True` and Llama's `repeat_kv` do). `x.repeat(...)`
    would instead give query head `h` the key/value head `h % kv_heads`: the
    same shapes, other pairs, and nothing fails until the output is wrong.

    Args:
        x: Keys or values with the heads in the third axis from the end.
        groups: Query heads per key/value head, `heads // kv_heads`.

    Returns:
        The heads repeated, `kv_heads * groups` of them.

    Raises:
        TypeError: If `x` is not a floating-point tensor or `groups` not an int.
        ValueError: If `x` has fewer than 3 axes, is empty or holds NaN/inf, or `groups` is below 1.

    Shapes:
        `x (..., kv_heads, L, H)`; returns `(..., kv_heads * groups, L, H)`.

    Taught in [7.5](../generation.md#75-fewer-key-and-value-heads).

    Examples:
        >>> import torch
        >>> from attention_lab import repeat_kv_heads
        >>> x = torch.tensor([[[1.0]], [[2.0]]])  # 2 KV heads, 1 token, H = 1
        >>> repeat_kv_heads(x, 2).flatten()
        tensor([1., 1., 2., 2.])
    """
    tensor = _checks.check_tokens_any_batch("x", x, ("L", "H"))
    if tensor.dim() < 3:
        raise ValueError(f"x must have shape (..., kv_heads, L, H) (3-D or more), got shape {tuple(tensor.shape)}")
    groups = _checks.check_size("groups", groups)
    return tensor.repeat_interleave(groups, dim=-3)


def grouped_query_attention(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, *, window: int | None = None
) -> AttentionResult:
    """Causal attention with fewer key/value heads than query heads (GQA; MQA with one).

    `heads` query heads share `kv_heads` key/value heads in groups of
    `heads // kv_heads`: query head `h` uses key/value head `h // groups`.
    With `kv_heads == heads` it is chapter 4's multi-head attention; with
    `kv_heads == 1`, multi-query attention. Causal and aligned bottom-right, so
    the queries may be the newest `Lq` of `Lk` tokens (a cache).

    Args:
        queries: `heads` query heads of the `Lq` new tokens.
        keys: `kv_heads` key heads of all `Lk` tokens.
        values: `kv_heads` value heads of all `Lk` tokens.
        window: An optional sliding window of `W` keys per query, itself included.

    Returns:
        `scores`, `weights` (one matrix per query head) and `context`.

    Raises:
        TypeError: If a tensor is not floating-point or the dtypes differ.
        ValueError: If a tensor is not 3-D or more, is empty or holds NaN/inf, the
            batch axes, sizes or token counts disagree, `kv_heads` does not divide
            `heads`, there are more queries than keys, or the values are so large that
            a score overflows.

    Shapes:
        `queries (..., heads, Lq, H)`, `keys (..., kv_heads, Lk, H)`,
        `values (..., kv_heads, Lk, Hv)`; returns `((..., heads, Lq, Lk), (..., heads, Lq, Lk), (..., heads, Lq, Hv))`.

    Taught in [7.5](../generation.md#75-fewer-key-and-value-heads).

    Examples:
        >>> import torch
        >>> from attention_lab import grouped_query_attention
        >>> q, kv = torch.randn(4, 3, 8), torch.randn(2, 3, 8)  # 4 query heads, 2 KV heads
        >>> grouped_query_attention(q, kv, kv).context.shape
        torch.Size([4, 3, 8])
    """
    q, k, v = _check_queries_keys_values(queries, keys, values, grouped=True)
    heads, kv_heads = q.shape[-3], k.shape[-3]
    if heads % kv_heads:
        raise ValueError(
            f"kv_heads must divide the query heads, each group of query heads sharing one key/value "
            f"head: got {heads} query heads and {kv_heads} key/value heads"
        )
    _checks.require_same_size("keys", kv_heads, "values", v.shape[-3], "number of key/value heads")
    groups = heads // kv_heads
    window = None if window is None else _checks.check_size("window", window)
    repeated = [x.repeat_interleave(groups, dim=-3) for x in (k, v)]  # (..., heads, Lk, .)
    return _cached_attention(q, repeated[0], repeated[1], scaled=True, window=window, culprits=_score_culprits(q, k))


class KVCache:
    """The keys and values of the tokens seen so far, for one attention layer.

    Three layouts, one interface: a **growing** cache concatenates each step's
    keys and values to the ones before (`KVCache()`); a **preallocated** one
    (`KVCache(max_tokens=...)`) reserves room for `max_tokens` tokens on the
    first call and writes each step in place, so no step copies the cache; a
    **rolling** one (`KVCache(window=W)`) for sliding-window attention keeps
    only the last `W - 1` tokens, all the next token can see besides itself.
    Each step returns the keys and values to attend over: with a window, the
    kept ones and the new ones, and only then drops what no later token needs
    (dropping first would take keys from the first tokens of a chunk).
    `len(cache)` is the number of tokens seen, the position of the next one.

    Args:
        max_tokens: Preallocate room for this many tokens; `None` (the default) grows the cache.
        window: Keep only what a sliding window of `W` keys needs; not with `max_tokens`.

    Raises:
        TypeError: If `max_tokens` or `window` is not an int.
        ValueError: If both are given, or one is below 1.

    Taught in [7.4](../generation.md#74-a-cache-that-grows-and-one-written-in-place).

    Examples:
        >>> import torch
        >>> from attention_lab import KVCache
        >>> cache = KVCache()
        >>> keys, values = cache.append(torch.ones(2, 4), torch.ones(2, 4))  # prefill: 2 tokens
        >>> keys, values = cache.append(torch.zeros(1, 4), torch.zeros(1, 4))  # decode: 1 more
        >>> len(cache), keys.shape
        (3, torch.Size([3, 4]))
    """

    def __init__(self, *, max_tokens: int | None = None, window: int | None = None) -> None:
        if max_tokens is not None and window is not None:
            raise ValueError(f"give max_tokens or window, not both (got max_tokens={max_tokens}, window={window})")
        self.max_tokens = None if max_tokens is None else _checks.check_size("max_tokens", max_tokens)
        self.window = None if window is None else _checks.check_size("window", window)
        self._keys: torch.Tensor | None = None  # (..., capacity, H)
        self._values: torch.Tensor | None = None  # (..., capacity, Hv)
        self._seen = 0  # tokens seen; all of them are kept, unless a window drops the old ones

    def __len__(self) -> int:
        """The number of tokens seen so far: the position of the next one."""
        return self._seen

    @property
    def kept(self) -> int:
        """The number of tokens whose keys and values the cache holds now (fewer than seen with a window)."""
        if self.window is None:
            return self._seen
        return 0 if self._keys is None else self._keys.shape[-2]

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the keys and values of the new tokens; return those of every token so far.

        Args:
            keys: The keys of the `Ln` new tokens.
            values: Their values.

        Returns:
            The keys and the values of all `len(self)` tokens, the new ones last.

        Raises:
            TypeError: If a tensor is not floating-point or a dtype differs from the cache's.
            ValueError: If a tensor is not 2-D or more, is empty or holds NaN/inf, the
                shapes disagree with each other or with the cache (another batch size,
                head count or hidden size), a device differs, or a preallocated cache is full.

        Shapes:
            `keys (..., Ln, H)`, `values (..., Ln, Hv)`; returns `(..., L, H)` and `(..., L, Hv)`.
        """
        k = _checks.check_tokens_any_batch("keys", keys, ("Ln", "H"))
        v = _checks.check_tokens_any_batch("values", values, ("Ln", "Hv"))
        _checks.require_same_dtype("keys", k, "values", v)
        _checks.require_same_device("keys", k, "values", v)
        if k.shape[:-2] != v.shape[:-2] or k.shape[-2] != v.shape[-2]:
            raise ValueError(
                "keys and values must have the same leading axes and number of tokens, "
                f"got shapes {tuple(k.shape)} and {tuple(v.shape)}"
            )
        if self._keys is not None and self._values is not None:
            self._check_matches(k, self._keys, "keys")
            self._check_matches(v, self._values, "values")
        new = k.shape[-2]
        if self.max_tokens is not None and self._seen + new > self.max_tokens:
            raise ValueError(
                f"the cache holds at most max_tokens={self.max_tokens} tokens: it has {self._seen}, "
                f"got {new} more"
            )
        start, self._seen = self._seen, self._seen + new
        if self.window is not None:  # rolling: attend over the kept and the new, then keep the last W - 1
            keys_now = k if self._keys is None else torch.cat([self._keys, k], dim=-2)  # (..., kept + Ln, H)
            values_now = v if self._values is None else torch.cat([self._values, v], dim=-2)
            kept = min(self.window - 1, keys_now.shape[-2])
            self._keys = keys_now[..., keys_now.shape[-2] - kept :, :]
            self._values = values_now[..., values_now.shape[-2] - kept :, :]
            return keys_now, values_now
        if self.max_tokens is None:
            self._keys = k if self._keys is None else torch.cat([self._keys, k], dim=-2)  # (..., L, H)
            self._values = v if self._values is None else torch.cat([self._values, v], dim=-2)
        else:
            if self._keys is None or self._values is None:
                self._keys = k.new_zeros((*k.shape[:-2], self.max_tokens, k.shape[-1]))  # (..., max, H)
                self._values = v.new_zeros((*v.shape[:-2], self.max_tokens, v.shape[-1]))
            self._keys[..., start : self._seen, :] = k  # written in place
            self._values[..., start : self._seen, :] = v
        return self._keys[..., : self._seen, :], self._values[..., : self._seen, :]

    def _check_matches(self, new: torch.Tensor, cached: torch.Tensor, name: str) -> None:
        if new.shape[:-2] != cached.shape[:-2] or new.shape[-1] != cached.shape[-1]:
            raise ValueError(
                f"{name} must match the cache's leading axes (batch, heads) and size, "
                f"expected (..., Ln, {cached.shape[-1]}) with leading axes {tuple(cached.shape[:-2])}, "
                f"got shape {tuple(new.shape)}"
            )
        _checks.require_same_dtype(name, new, f"the cached {name}", cached)
        _checks.require_same_device(name, new, f"the cached {name}", cached)


def kv_cache_bytes(
    *, layers: int, kv_heads: int, head_dim: int, tokens: int, element_size: int = 2, batch: int = 1
) -> int:
    r"""The memory a KV cache takes: a key and a value per token, per key/value head, per layer.

    $$\text{bytes} = 2 \cdot \text{layers} \cdot \text{kv\_heads} \cdot H \cdot L \cdot B \cdot \text{bytes per number}$$

    `kv_heads` is the number of **key/value** heads: the number of heads for
    multi-head attention, fewer for grouped-query attention, 1 for multi-query
    attention.

    Args:
        layers: Attention layers of the model.
        kv_heads: Key/value heads per layer.
        head_dim: The hidden size `H` of one head.
        tokens: Tokens cached, `L`.
        element_size: Bytes per number: 2 for bfloat16 and float16 (default), 4 for float32.
        batch: Sequences cached side by side, `B`.

    Returns:
        The size in bytes.

    Raises:
        TypeError: If an argument is not an int.
        ValueError: If an argument is below 1.

    Taught in [7.7](../generation.md#77-what-the-cache-costs-and-what-it-saves).

    Examples:
        >>> from attention_lab import kv_cache_bytes
        >>> kv_cache_bytes(layers=12, kv_heads=12, head_dim=64, tokens=1024) / 2**20  # GPT-2 small, MiB
        36.0
    """
    sizes = {"layers": layers, "kv_heads": kv_heads, "head_dim": head_dim, "tokens": tokens,
             "element_size": element_size, "batch": batch}  # fmt: skip
    return 2 * math.prod(_checks.check_size(name, value) for name, value in sizes.items())  # a key and a value


# --- multi-head latent attention (DeepSeek-V2, V3) ------------------------------------------------


class LatentAttentionWeights(NamedTuple):
    r"""The projections of multi-head latent attention, each `x @ W` (no RoPE part).

    The keys and values of a token are not projected from its input directly:
    a small **latent** $c = x\,\mathbf{W}_\text{down}$ of size `R` is, and the keys
    and values of every head come from it, $\mathbf{K} = c\,\mathbf{W}_{uk}$ and
    $\mathbf{V} = c\,\mathbf{W}_{uv}$. A cache then holds `R` numbers per token and
    layer instead of `2 · heads · H`.

    Shapes:
        `query (E, heads·H)`, `down (E, R)`, `up_key (R, heads·H)`, `up_value (R, heads·H)`.

    Taught in [7.8](../generation.md#78-latent-attention).
    """

    query: torch.Tensor
    down: torch.Tensor
    up_key: torch.Tensor
    up_value: torch.Tensor


def init_latent_attention_weights(
    embed_dim: int, latent_dim: int, num_heads: int, head_dim: int, *, seed: int
) -> LatentAttentionWeights:
    """Random weights for [`latent_attention`][attention_lab.latent_attention], seeded.

    Each matrix is drawn like `nn.Linear`'s default, uniform in `±1/sqrt(fan_in)`.

    Args:
        embed_dim: `E`.
        latent_dim: `R`, the size of the cached latent.
        num_heads: Query (and key/value) heads.
        head_dim: `H`, the hidden size of one head.
        seed: The seed of the CPU generator that draws them.

    Returns:
        The four projections, float32.

    Raises:
        TypeError: If an argument is not an int.
        ValueError: If a size is below 1.

    Taught in [7.8](../generation.md#78-latent-attention).

    Examples:
        >>> from attention_lab import init_latent_attention_weights
        >>> [tuple(w.shape) for w in init_latent_attention_weights(16, 4, 2, 8, seed=0)]
        [(16, 16), (16, 4), (4, 16), (4, 16)]
    """
    sizes = {"embed_dim": embed_dim, "latent_dim": latent_dim, "num_heads": num_heads, "head_dim": head_dim}
    e, r, heads, h = (_checks.check_size(name, value) for name, value in sizes.items())
    generator = _checks.make_generator(seed, None)

    def draw(rows: int, columns: int) -> torch.Tensor:
        bound = 1.0 / math.sqrt(rows)
        return torch.empty(rows, columns).uniform_(-bound, bound, generator=generator)

    return LatentAttentionWeights(draw(e, heads * h), draw(e, r), draw(r, heads * h), draw(r, heads * h))


def latent_attention(
    inputs: torch.Tensor, weights: LatentAttentionWeights, num_heads: int, *, absorbed: bool = False
) -> AttentionResult:
    r"""Causal multi-head latent attention: keys and values expanded from a cached latent.

    **Expanded**: $\mathbf{K} = c\,\mathbf{W}_{uk}$, $\mathbf{V} = c\,\mathbf{W}_{uv}$,
    split into heads, then chapter 4's causal attention. **Absorbed**
    (`absorbed=True`, how it runs with a cache): the up-projections move to the
    other side of the products, so the keys and values of every head are never
    built: head $h$'s score is
    $q_h \cdot (c\,\mathbf{W}_{uk,h}) = (q_h \mathbf{W}_{uk,h}^\top) \cdot c$, and its
    context $\mathbf{A}_h (c\,\mathbf{W}_{uv,h}) = (\mathbf{A}_h c)\,\mathbf{W}_{uv,h}$. Both give the
    same result, up to rounding.

    Args:
        inputs: One embedding per token, optionally with a batch axis.
        weights: The four projections ([`init_latent_attention_weights`][attention_lab.init_latent_attention_weights]).
        num_heads: The number of heads; divides the columns of `weights.query`.
        absorbed: Compute with the absorbed up-projections.

    Returns:
        `scores` and `weights` per head, and `context`, the heads merged side by side.

    Raises:
        TypeError: If `weights` is not a `LatentAttentionWeights`, a tensor is not floating-point,
            dtypes differ or `absorbed` is not a bool.
        ValueError: If a shape does not fit the others, a tensor is empty or holds NaN/inf,
            `num_heads` does not divide `heads·H`, or the values are so large that the
            computation overflows.

    Shapes:
        `inputs (L, E)` or `(B, L, E)`; returns `((..., heads, L, L), (..., heads, L, L), (..., L, heads·H))`.

    Taught in [7.8](../generation.md#78-latent-attention).

    Examples:
        >>> import torch
        >>> from attention_lab import init_latent_attention_weights, latent_attention
        >>> w = init_latent_attention_weights(16, 4, 2, 8, seed=0)
        >>> x = torch.randn(5, 16, generator=torch.Generator().manual_seed(1))
        >>> expanded, absorbed = (latent_attention(x, w, 2, absorbed=a).context for a in (False, True))
        >>> (expanded - absorbed).abs().max() < 1e-6
        tensor(True)
    """
    entries = _checks.check_weight_tuple("weights", weights, LatentAttentionWeights)
    checked = [_checks.check_matrix(name, value, legend) for name, value, legend in
               zip(("weights.query", "weights.down", "weights.up_key", "weights.up_value"), entries,
                   (("E", "heads·H"), ("E", "R"), ("R", "heads·H"), ("R", "heads·H")))]  # fmt: skip
    query, down, up_key, up_value = checked
    tokens = _checks.check_inputs_for(inputs, "weights.query", query)
    _checks.require_same_size("weights.query", query.shape[0], "weights.down", down.shape[0], "embedding size E")
    _checks.require_same_size("weights.down", down.shape[1], "weights.up_key", up_key.shape[0], "latent size R")
    _checks.require_same_size("weights.down", down.shape[1], "weights.up_value", up_value.shape[0], "latent size R")
    _checks.require_same_size("weights.query", query.shape[1], "weights.up_key", up_key.shape[1], "heads·H")
    for name, tensor in (("weights.down", down), ("weights.up_key", up_key), ("weights.up_value", up_value)):
        _checks.require_same_dtype("weights.query", query, name, tensor)
    heads = _checks.check_size("num_heads", num_heads)
    if query.shape[1] % heads:
        raise ValueError(f"num_heads must divide heads·H = {query.shape[1]}, got {heads}")
    absorbed = _checks.check_flag("absorbed", absorbed)
    culprits = (("inputs", (tokens,)), ("weights", tuple(checked)))
    queries = _split_heads(tokens @ query, heads)  # (..., heads, L, H)
    latent = tokens @ down  # (..., L, R): all a cache would keep
    head_dim = query.shape[1] // heads
    if not absorbed:
        keys = _split_heads(latent @ up_key, heads)  # (..., heads, L, H)
        values = _split_heads(latent @ up_value, heads)
        result = _cached_attention(queries, keys, values, scaled=True, culprits=culprits,
                                   projection_stage="the projections (queries, latent, keys, values)")  # fmt: skip
        return AttentionResult(result.scores, result.weights, _merge_heads(result.context))
    per_head_key = up_key.view(up_key.shape[0], heads, head_dim).transpose(0, 1)  # (heads, R, H)
    per_head_value = up_value.view(up_value.shape[0], heads, head_dim).transpose(0, 1)  # (heads, R, H)
    latent_queries = queries @ per_head_key.transpose(-2, -1)  # (..., heads, L, R): q_h W_uk,h^T
    raw = latent_queries @ latent.unsqueeze(-3).transpose(-2, -1) / math.sqrt(head_dim)  # (..., heads, L, L)
    scores, attention = _masked_weights(raw, None)
    context = (attention @ latent.unsqueeze(-3)) @ per_head_value  # (..., heads, L, R) @ (heads, R, H)
    _check_attention_overflow(
        latent_queries, latent.unsqueeze(-3), latent.unsqueeze(-3), AttentionResult(raw, attention, context), culprits,
        projection_stage="the projections (queries, latent)",
    )  # fmt: skip
    return AttentionResult(scores, attention, _merge_heads(context))
