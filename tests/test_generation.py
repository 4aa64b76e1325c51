"""Chapter 7, in progress (attention_lab.generation): the KV cache, checked against PyTorch.

- the bottom-right causal mask is `torch.nn.attention.bias.causal_lower_right`'s, and the last
  rows of chapter 3's causal mask; `is_causal=True` (top-left) is not, once queries are fewer;
- cached attention equals SDPA with that mask over random shapes, heads, float32 and float64;
- decoding token by token, and prefilling in chunks, with a growing or a preallocated cache,
  gives the rows of chapter 3's causal attention over the whole sequence; the top-left mask,
  right for one new token, is wrong for a chunk (the bug of a cache tested one token at a time);
- RoPE's positions continue from the cache's length (chapter 6);
- the cache-size formula against published configurations.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

from attention_lab import causal_mask, masked_attention
from attention_lab.generation import KVCache, cache_causal_mask, cached_attention, kv_cache_bytes
from attention_lab.positions import apply_rope

# The cached rows and the full matrix's rows sum over the same keys in another arrangement of
# the matrix products: float32 differences seen below 1e-6 here (unit-normal inputs, H <= 16).
TOLERANCE = {torch.float32: {"rtol": 1e-5, "atol": 1e-5}, torch.float64: {"rtol": 1e-12, "atol": 1e-12}}


def randn(seed: int, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize(("queries", "keys"), [(1, 1), (1, 5), (3, 5), (5, 5), (4, 9)])
def test_the_cache_mask_is_the_lower_right_corner_of_the_causal_mask(queries: int, keys: int) -> None:
    mask = cache_causal_mask(queries, keys)
    assert torch.equal(mask, causal_mask(keys)[keys - queries :])
    # SDPA with PyTorch's lower-right mask, on equal scores and the identity as values: each
    # output row is the weights, uniform over exactly the keys the mask lets it see.
    seen = F.scaled_dot_product_attention(torch.zeros(queries, 1), torch.zeros(keys, 1), torch.eye(keys),
                                          attn_mask=causal_lower_right(queries, keys))  # fmt: skip
    assert torch.equal(seen > 0, mask)
    top_left = torch.ones(queries, keys, dtype=torch.bool).tril()  # what is_causal=True uses
    assert torch.equal(mask, top_left) == (queries == keys)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("queries", "keys"), [(1, 7), (3, 7), (7, 7), (2, 12)])
def test_cached_attention_is_sdpa_with_the_lower_right_mask(queries: int, keys: int, dtype: torch.dtype) -> None:
    q = randn(queries, 2, 3, queries, 8, dtype=dtype)  # (B, heads, Lq, H)
    k, v = randn(keys, 2, 3, keys, 8, dtype=dtype), randn(keys + 1, 2, 3, keys, 5, dtype=dtype)
    ours = cached_attention(q, k, v)
    sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(queries, keys))
    torch.testing.assert_close(ours.context, sdpa, **TOLERANCE[dtype])
    assert torch.allclose(ours.weights.sum(-1), torch.ones((), dtype=dtype))


def whole_sequence(seed: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return randn(seed, 2, 11, 8, dtype=dtype), randn(seed + 1, 2, 11, 8, dtype=dtype), randn(seed + 2, 2, 11, 6, dtype=dtype)


def generate(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunks: list[int], cache: KVCache) -> torch.Tensor:
    """Feed the sequence through the cache chunk by chunk; the context rows of each chunk, in order."""
    rows, start = [], 0
    for size in chunks:
        keys, values = cache.append(k[..., start : start + size, :], v[..., start : start + size, :])
        rows.append(cached_attention(q[..., start : start + size, :], keys, values).context)
        start += size
    assert start == q.shape[-2] and len(cache) == start
    return torch.cat(rows, dim=-2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("preallocated", [False, True])
@pytest.mark.parametrize("chunks", [[1] * 11, [4, 1, 1, 1, 1, 1, 1, 1], [3, 3, 3, 2], [11]], ids=["decode", "prefill-then-decode", "chunked", "one-pass"])
def test_generating_with_a_cache_gives_the_rows_of_full_causal_attention(chunks: list[int], preallocated: bool, dtype: torch.dtype) -> None:
    q, k, v = whole_sequence(3, dtype)
    full = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, L, Hv): the whole sequence at once
    chapter_3 = masked_attention(q, k, k, causal=True).weights @ v  # chapter 3's weights, the same rows
    torch.testing.assert_close(chapter_3, full, **TOLERANCE[dtype])
    cache = KVCache(max_tokens=16) if preallocated else KVCache()
    torch.testing.assert_close(generate(q, k, v, chunks, cache), full, **TOLERANCE[dtype])


def test_a_top_left_mask_passes_one_token_at_a_time_and_fails_on_chunks() -> None:
    """The bug: `is_causal=True` on the new tokens against the cache. One new token against the
    cache needs no mask at all, so decoding looks right; a chunk of 3 attends to the wrong keys."""
    q, k, v = whole_sequence(5)
    full = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    one_token = F.scaled_dot_product_attention(q[..., 10:, :], k, v)  # the last token, no mask needed
    torch.testing.assert_close(one_token, full[..., 10:, :], **TOLERANCE[torch.float32])
    chunk = F.scaled_dot_product_attention(q[..., 8:, :], k, v, is_causal=True)  # top-left: wrong
    assert (chunk - full[..., 8:, :]).abs().max() > 0.1
    right = cached_attention(q[..., 8:, :], k, v).context
    torch.testing.assert_close(right, full[..., 8:, :], **TOLERANCE[torch.float32])


def test_a_preallocated_cache_writes_in_place_and_returns_what_a_growing_one_does() -> None:
    _, k, v = whole_sequence(7)
    growing, preallocated = KVCache(), KVCache(max_tokens=11)
    pointers = set()
    for start, size in [(0, 4), (4, 1), (5, 6)]:
        grown = growing.append(k[..., start : start + size, :], v[..., start : start + size, :])
        written = preallocated.append(k[..., start : start + size, :], v[..., start : start + size, :])
        assert all(torch.equal(a, b) for a, b in zip(grown, written))
        pointers.add(written[0].data_ptr())
    assert len(pointers) == 1  # one buffer, never copied
    assert torch.equal(grown[0], k) and torch.equal(grown[1], v)


def test_rope_positions_continue_from_the_cache_length() -> None:
    """Chapter 6 with a cache: the new keys turn by their place in the whole sequence."""
    q, k, v = whole_sequence(9)
    full = F.scaled_dot_product_attention(apply_rope(q), apply_rope(k), v, is_causal=True)
    cache = KVCache()
    rows = []
    for start, size in [(0, 5), (5, 1), (6, 3), (9, 2)]:
        offset = len(cache)
        keys, values = cache.append(apply_rope(k[..., start : start + size, :], offset=offset), v[..., start : start + size, :])
        rows.append(cached_attention(apply_rope(q[..., start : start + size, :], offset=offset), keys, values).context)
    torch.testing.assert_close(torch.cat(rows, dim=-2), full, **TOLERANCE[torch.float32])
    forgot = cached_attention(apply_rope(q[..., 9:, :]), apply_rope(k), v).context  # offset 0 for the query
    assert (forgot - full[..., 9:, :]).abs().max() > 1e-3


def test_the_cache_size_formula_for_published_configurations() -> None:
    # (layers, KV heads, head size): GPT-2 small (12 heads of 64), Llama 3 8B (32 layers,
    # 8 KV heads of 128), Llama 3 70B (80 layers, 8 KV heads of 128), Mistral 7B (32, 8, 128).
    per_token = {name: kv_cache_bytes(layers=l, kv_heads=h, head_dim=d, tokens=1)
                 for name, (l, h, d) in {"gpt2": (12, 12, 64), "llama3-8b": (32, 8, 128),
                                         "llama3-70b": (80, 8, 128), "mistral-7b": (32, 8, 128)}.items()}  # fmt: skip
    assert per_token == {"gpt2": 36_864, "llama3-8b": 131_072, "llama3-70b": 327_680, "mistral-7b": 131_072}
    assert kv_cache_bytes(layers=32, kv_heads=8, head_dim=128, tokens=131_072) == 16 * 2**30  # 16 GiB at 128k
    assert kv_cache_bytes(layers=1, kv_heads=1, head_dim=1, tokens=1, element_size=4, batch=3) == 24
