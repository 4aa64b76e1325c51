"""Chapter 7, in progress (attention_lab.generation): the KV cache, checked against PyTorch.

- the bottom-right causal mask is `torch.nn.attention.bias.causal_lower_right`'s, and the last
  rows of chapter 3's causal mask; `is_causal=True` (top-left) is not, once queries are fewer;
- cached attention equals SDPA with that mask over random shapes, heads, float32 and float64;
- decoding token by token, and prefilling in chunks, with a growing or a preallocated cache,
  gives the rows of chapter 3's causal attention over the whole sequence; the top-left mask,
  right for one new token, is wrong for a chunk (the bug of a cache tested one token at a time);
- RoPE's positions continue from the cache's length (chapter 6);
- grouped-query attention equals SDPA's `enable_gqa=True` and `repeat_interleave`, MQA to MHA;
  the wrong `repeat` pairs heads differently and raises nothing;
- sliding windows (W keys, the query's own included) equal SDPA with the band mask; a rolling
  cache of W - 1 tokens equals full windowed attention, chunked too; trimming first breaks chunks;
- multi-head latent attention: expanded from the latent it is plain attention on the expanded keys
  and values (SDPA); absorbing the up-projections into the query and the output gives the same;
- the cache-size formula against published configurations.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

from attention_lab import MultiHeadAttention, causal_mask, masked_attention, multihead_self_attention, split_heads
from attention_lab.generation import (
    KVCache,
    LatentAttentionWeights,
    init_latent_attention_weights,
    latent_attention,
    cache_causal_mask,
    cached_attention,
    grouped_query_attention,
    kv_cache_bytes,
    repeat_kv_heads,
    sliding_window_mask,
)
from attention_lab.positions import apply_rope

ROOT = Path(__file__).resolve().parent.parent
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


# --- grouped-query attention ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("heads", "kv_heads"), [(8, 1), (8, 2), (6, 3), (4, 4)], ids=["MQA", "GQA-4", "GQA-2", "MHA"])
def test_grouped_query_attention_is_sdpas_enable_gqa(heads: int, kv_heads: int, dtype: torch.dtype) -> None:
    q = randn(1, 2, heads, 7, 8, dtype=dtype)  # (B, heads, L, H)
    k, v = randn(2, 2, kv_heads, 7, 8, dtype=dtype), randn(3, 2, kv_heads, 7, 5, dtype=dtype)
    ours = grouped_query_attention(q, k, v).context
    sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    torch.testing.assert_close(ours, sdpa, **TOLERANCE[dtype])
    groups = heads // kv_heads
    by_hand = F.scaled_dot_product_attention(q, k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1), is_causal=True)
    torch.testing.assert_close(ours, by_hand, **TOLERANCE[dtype])
    assert torch.equal(repeat_kv_heads(k, groups), k.repeat_interleave(groups, 1))


def test_the_wrong_repeat_pairs_heads_differently_and_nothing_fails() -> None:
    """`repeat` tiles the KV heads (0, 1, 0, 1) where the groups need (0, 0, 1, 1): same shapes."""
    q, k, v = randn(4, 4, 5, 8), randn(5, 2, 5, 8), randn(6, 2, 5, 8)
    right = grouped_query_attention(q, k, v).context
    tiled = F.scaled_dot_product_attention(q, k.repeat(2, 1, 1), v.repeat(2, 1, 1), is_causal=True)
    assert tiled.shape == right.shape
    torch.testing.assert_close(tiled[0], right[0])  # query head 0 uses KV head 0 either way
    assert (tiled[1] - right[1]).abs().max() > 0.1  # head 1: KV head 1 instead of 0


def test_with_as_many_kv_heads_as_heads_it_is_chapter_4s_multi_head_attention() -> None:
    weights = MultiHeadAttention(8, 2, seed=3).multihead_weights()  # E = 8: 2 heads of 4
    inputs = randn(7, 5, 8)  # (L, E)
    q, k, v = (split_heads(inputs @ w, 2) for w in (weights.query, weights.key, weights.value))
    chapter_4 = multihead_self_attention(inputs, weights, 2)
    torch.testing.assert_close(grouped_query_attention(q, k, v).weights, chapter_4.weights, **TOLERANCE[torch.float32])


# --- sliding windows -------------------------------------------------------------------------------


def test_the_mask_builders_take_a_device() -> None:
    """As chapter 3's (issue 33): built where the scores are; `None` is the CPU."""
    for mask in (cache_causal_mask(2, 5, device="meta"), sliding_window_mask(2, 5, 3, device=torch.device("meta"))):
        assert mask.device.type == "meta" and mask.shape == (2, 5) and mask.dtype == torch.bool
    assert torch.equal(cache_causal_mask(2, 5, device="cpu"), cache_causal_mask(2, 5))
    assert torch.equal(sliding_window_mask(2, 5, 3, device=None), sliding_window_mask(2, 5, 3))


@pytest.mark.parametrize("window", [1, 3, 7, 20])
def test_the_window_mask_is_a_band_of_w_keys_and_sdpa_agrees(window: int) -> None:
    mask = sliding_window_mask(9, 9, window)
    assert mask.sum(-1).tolist() == [min(i + 1, window) for i in range(9)]  # W keys, the query's own included
    assert torch.equal(mask, causal_mask(9) & ~causal_mask(9).tril(-window))
    assert torch.equal(sliding_window_mask(3, 9, window), mask[6:])  # bottom-right, as with a cache
    q, k, v = whole_sequence(11)
    ours = cached_attention(q, k, v, window=window).context
    sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=sliding_window_mask(11, 11, window))
    torch.testing.assert_close(ours, sdpa, **TOLERANCE[torch.float32])
    if window >= 11:
        torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, is_causal=True))


@pytest.mark.parametrize("chunks", [[1] * 11, [4, 1, 3, 3], [6, 5]], ids=["decode", "chunked", "two-chunks"])
def test_a_rolling_cache_keeps_w_minus_1_tokens_and_equals_full_windowed_attention(chunks: list[int]) -> None:
    q, k, v = whole_sequence(13)
    full = cached_attention(q, k, v, window=4).context
    cache = KVCache(window=4)
    rows, start = [], 0
    for size in chunks:
        keys, values = cache.append(k[..., start : start + size, :], v[..., start : start + size, :])
        rows.append(cached_attention(q[..., start : start + size, :], keys, values, window=4).context)
        start += size
        assert cache.kept == min(3, start) and len(cache) == start  # kept W - 1, seen all
    torch.testing.assert_close(torch.cat(rows, dim=-2), full, **TOLERANCE[torch.float32])


def test_trimming_the_window_before_attending_breaks_chunked_prefill() -> None:
    """The classic bug: drop the keys beyond the window first, then attend a chunk of 4 over the
    last 4 keys: the chunk's first queries lose keys they still see. One token at a time it works."""
    q, k, v = whole_sequence(15)
    full = cached_attention(q, k, v, window=4).context
    trimmed_k, trimmed_v = k[..., 3:7, :], v[..., 3:7, :]  # tokens 3..6 only, trimmed to W first
    wrong = cached_attention(q[..., 3:7, :], trimmed_k, trimmed_v, window=4).context
    assert (wrong - full[..., 3:7, :]).abs().max() > 0.1
    last = cached_attention(q[..., 6:7, :], trimmed_k, trimmed_v, window=4).context  # one token: fine
    torch.testing.assert_close(last, full[..., 6:7, :], **TOLERANCE[torch.float32])


# --- multi-head latent attention ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_latent_attention_expanded_is_plain_attention_on_the_expanded_keys_and_values(dtype: torch.dtype) -> None:
    weights = LatentAttentionWeights(*(w.to(dtype) for w in init_latent_attention_weights(24, 6, 3, 8, seed=4)))
    inputs = randn(11, 2, 9, 24, dtype=dtype)  # (B, L, E)
    latent = inputs @ weights.down  # (B, L, R): what a cache keeps, 6 numbers a token
    q, k, v = (split_heads(t, 3) for t in (inputs @ weights.query, latent @ weights.up_key, latent @ weights.up_value))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(2, 9, 24)
    torch.testing.assert_close(latent_attention(inputs, weights, 3).context, expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_absorbing_the_up_projections_gives_the_same_scores_and_context(dtype: torch.dtype) -> None:
    weights = LatentAttentionWeights(*(w.to(dtype) for w in init_latent_attention_weights(24, 6, 3, 8, seed=5)))
    inputs = randn(12, 9, 24, dtype=dtype)
    expanded, absorbed = latent_attention(inputs, weights, 3), latent_attention(inputs, weights, 3, absorbed=True)
    torch.testing.assert_close(absorbed.scores, expanded.scores, **TOLERANCE[dtype])
    torch.testing.assert_close(absorbed.context, expanded.context, **TOLERANCE[dtype])


# --- the benchmark (benchmarks/generation.py) and its committed results ------------------------


def test_the_benchmarks_decoder_generates_the_same_tokens_with_and_without_the_cache() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generation_benchmark", ROOT / "benchmarks" / "generation.py")
    assert spec is not None and spec.loader is not None
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    model = benchmark.weights(0)
    prompt = torch.randint(0, benchmark.VOCAB, (6,), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        cached = benchmark.generate(model, prompt, 12, cached=True)
        uncached = benchmark.generate(model, prompt, 12, cached=False)
    assert cached == uncached and len(cached) == 12


def test_the_committed_generation_results_are_a_full_interleaved_run() -> None:
    results = json.loads((ROOT / "docs" / "data" / "generation-benchmark.json").read_text(encoding="utf-8"))
    assert {"machine", "date", "torch", "threads", "model", "rounds", "speed_up", "same_tokens"} <= set(results)
    assert len(results["rounds"]) >= 5 and results["model"]["new_tokens"] >= 200
    assert results["same_tokens"] is True
    ratios = [r["with_cache_tokens_per_s"] / r["without_cache_tokens_per_s"] for r in results["rounds"]]
    assert results["speed_up"]["median"] == pytest.approx(sorted(ratios)[len(ratios) // 2])
    assert results["torch"].startswith(torch.__version__.split("+")[0])
