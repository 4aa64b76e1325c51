"""Exercises of chapter 7, [Generating one token at a time](../generation.md#79-exercises).

Expected answers are computed with `attention_lab.generation`; every known
mistake is written out with the package, so it is recognised by value.
"""

from __future__ import annotations

import torch

from attention_lab.exercises._core import Exercise, mistaken_value, value_exercise
from attention_lab.generation import KVCache, cache_causal_mask, kv_cache_bytes

__all__ = ["CHAPTER", "EXERCISES", "PAGE"]

CHAPTER = 7
"""The chapter these exercises belong to."""
PAGE = "generation.md"
"""The page under `docs/` whose "Exercises" section poses them."""

GIB = 2**30

# --- 7.1 -----------------------------------------------------------------------------------------

LLAMA_3_8B = {"layers": 32, "kv_heads": 8, "head_dim": 128}  # its config.json: 32 query heads, 8 KV heads
CONTEXT = 8192  # exercise 7.1: tokens cached


def _llama_gib(*, kv_heads: int = 8, element_size: int = 2, kv: int = 2) -> float:
    one_of_k_and_v = kv_cache_bytes(**{**LLAMA_3_8B, "kv_heads": kv_heads}, tokens=CONTEXT, element_size=element_size) // 2
    return kv * one_of_k_and_v / GIB


_COST = value_exercise(
    "7.1",
    "The cache of Llama 3 8B",
    _llama_gib,
    atol=1e-3,
    mistakes=[
        mistaken_value(
            "query_heads",
            "that counts the 32 query heads; the cache holds the 8 key/value heads (grouped-query attention).",
            lambda: _llama_gib(kv_heads=32),
            atol=1e-3,
        ),
        mistaken_value(
            "keys_only",
            "that is the keys alone; the cache holds a value for every key too: twice that.",
            lambda: _llama_gib(kv=1),
            atol=1e-3,
        ),
        mistaken_value(
            "float32",
            "that is float32, 4 bytes a number; bfloat16 takes 2.",
            lambda: _llama_gib(element_size=4),
            atol=1e-3,
        ),
        mistaken_value(
            "gigabytes",
            "those are GB of 10**9 bytes; a GiB is 2**30 bytes.",
            lambda: _llama_gib() * GIB / 1e9,
            atol=1e-3,
        ),
    ],
    solved="1 GiB per sequence at 8,192 tokens; 16 GiB at 128k, about as much as the model's weights in bf16.",
)

# --- 7.2 -----------------------------------------------------------------------------------------

NEW, ALL = 2, 5  # exercise 7.2: 2 new tokens after 3 cached ones

_MASK = value_exercise(
    "7.2",
    "The mask of a chunk",
    lambda: cache_causal_mask(NEW, ALL),
    atol=0.0,
    axes=("query", "key"),
    mistakes=[
        mistaken_value(
            "top_left",
            "that is the top-left mask of is_causal=True: the new tokens are the last two, at positions 3 and 4, "
            "so the first one sees keys 0 to 3.",
            lambda: torch.ones(NEW, ALL, dtype=torch.bool).tril(),
            atol=0.0,
        ),
        mistaken_value(
            "no_mask",
            "with two new tokens a mask is needed: the first one (position 3) must not see the second (position 4).",
            lambda: torch.ones(NEW, ALL, dtype=torch.bool),
            atol=0.0,
        ),
        mistaken_value(
            "upper_triangle",
            "True means may attend: a query sees the keys up to its own position, the lower part.",
            lambda: ~cache_causal_mask(NEW, ALL),
            atol=0.0,
        ),
    ],
    solved="The lower-right corner of the 5 × 5 causal mask: causal_lower_right(2, 5) in PyTorch.",
)

# --- 7.3 -----------------------------------------------------------------------------------------

PROMPT_TOKENS, GENERATED = 7, 3  # exercise 7.3: the 3rd generated token after a 7-token prompt


def _offset_after(prompt: int, generated_before: int) -> int:
    cache = KVCache()
    cache.append(torch.zeros(prompt, 1), torch.zeros(prompt, 1))
    for _ in range(generated_before):
        cache.append(torch.zeros(1, 1), torch.zeros(1, 1))
    return len(cache)


_OFFSET = value_exercise(
    "7.3",
    "The position of a generated token",
    lambda: _offset_after(PROMPT_TOKENS, GENERATED - 1),
    atol=0.0,
    mistakes=[
        mistaken_value(
            "from_one",
            "positions count from 0: the prompt is at 0 to 6, so the generated tokens are at 7, 8, 9.",
            lambda: _offset_after(PROMPT_TOKENS, GENERATED - 1) + 1,
            atol=0.0,
        ),
        mistaken_value(
            "prompt_forgotten",
            "that counts the generated tokens before it only; the prompt's 7 tokens come first.",
            lambda: GENERATED - 1,
            atol=0.0,
        ),
        mistaken_value(
            "rank",
            "that is its rank among the generated tokens; its position counts the prompt's 7 tokens too.",
            lambda: GENERATED,
            atol=0.0,
        ),
    ],
    solved="len(cache) before the step: the offset its query and key are turned by.",
)

# --- 7.4 -----------------------------------------------------------------------------------------

HEADS, KV_HEADS, QUERY_HEAD = 8, 4, 6  # exercise 7.4


def _kv_head_of(query_head: int) -> int:
    groups = HEADS // KV_HEADS
    owner = torch.arange(KV_HEADS).repeat_interleave(groups)  # (heads,): the KV head of each query head
    return int(owner[query_head])


_GROUP = value_exercise(
    "7.4",
    "Which key/value head",
    lambda: _kv_head_of(QUERY_HEAD),
    atol=0.0,
    mistakes=[
        mistaken_value(
            "tiled",
            "that is h % kv_heads, what x.repeat(...) pairs; groups are neighbours: h // (heads / kv_heads).",
            lambda: QUERY_HEAD % KV_HEADS,
            atol=0.0,
        ),
        mistaken_value(
            "divided_by_kv_heads",
            "that divides by kv_heads (4); divide by the group size, heads / kv_heads = 2.",
            lambda: QUERY_HEAD // KV_HEADS,
            atol=0.0,
        ),
    ],
    solved="Query heads 6 and 7 share key/value head 3.",
)

# --- 7.5 -----------------------------------------------------------------------------------------

WINDOW, SEEN = 4096, 10_000  # exercise 7.5


def _kept(window: int, seen: int) -> int:
    cache = KVCache(window=window)
    cache.append(torch.zeros(seen, 1), torch.zeros(seen, 1))
    return cache.kept


_ROLLING = value_exercise(
    "7.5",
    "What a rolling cache keeps",
    lambda: _kept(WINDOW, SEEN),
    atol=0.0,
    mistakes=[
        mistaken_value(
            "window",
            "the next token's window holds itself too: it needs only the W - 1 tokens before it.",
            lambda: WINDOW,
            atol=0.0,
        ),
        mistaken_value(
            "everything",
            "that keeps every token; with a window, a token older than the next one's window is never seen again.",
            lambda: SEEN,
            atol=0.0,
        ),
        mistaken_value(
            "w_plus_one",
            "that is the W + 1 convention (W keys before the query); here W counts the query itself.",
            lambda: WINDOW + 1,
            atol=0.0,
        ),
    ],
    solved="Whatever the length of the text: a windowed layer's cache stops growing.",
)

EXERCISES: tuple[Exercise, ...] = (_COST, _MASK, _OFFSET, _GROUP, _ROLLING)
"""The exercises of chapter 7, in page order."""
