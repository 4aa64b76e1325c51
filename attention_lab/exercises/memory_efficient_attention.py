"""Exercises of chapter 5, [Attention without the L×L matrix](../memory-efficient-attention.md#55-exercises).

Expected answers are computed with `attention_lab.memory_efficient_attention`
(and, for the six words, from chapter 2's queries, keys and values, seed 123);
every known mistake is written out with the package, so it is recognised by value.
"""

from __future__ import annotations

import math

import torch

from attention_lab._chapter_seeds import CHAPTER_2_HIDDEN_DIM as HIDDEN_DIM, chapter_2_weights
from attention_lab.exercises._core import Exercise, Mistake, mistaken_value, value_exercise
from attention_lab.memory_efficient_attention import (
    OnlineSoftmaxStep,
    attention_blocks,
    attention_working_memory,
    full_attention,
    online_softmax_trace,
)
from attention_lab.self_attention import project_inputs
from attention_lab.simplified_attention import TOKENS, example_inputs

__all__ = ["CHAPTER", "EXERCISES", "PAGE"]

CHAPTER = 5
"""The chapter these exercises belong to."""
PAGE = "memory-efficient-attention.md"
"""The page under `docs/` whose "Exercises" section poses them."""

GIB = 2**30


def _one_number(what: str) -> Mistake:
    return Mistake("one_number", f"give both numbers, as a pair: {what}.", lambda answer: answer.numel() == 1)


# --- 5.1 -----------------------------------------------------------------------------------------

LONG_TOKENS, HEAD_DIM, BFLOAT16_BYTES = 32_768, 64, 2  # exercise 5.1: L, H and bytes per number


def _matrix_bytes(matrices: int, element_size: int) -> int:
    """Bytes of `matrices` (L, L) matrices at L = LONG_TOKENS."""
    return matrices * LONG_TOKENS * LONG_TOKENS * element_size


_MEMORY = value_exercise(
    "5.1",
    "The memory of the L×L matrices",
    lambda: attention_working_memory(LONG_TOKENS, HEAD_DIM, element_size=BFLOAT16_BYTES) / GIB,
    atol=1e-3,
    mistakes=[
        mistaken_value(
            "one_matrix",
            "that is one L × L matrix; the scores and the weights exist together while softmax runs: two.",
            lambda: _matrix_bytes(1, BFLOAT16_BYTES) / GIB,
            atol=1e-3,
        ),
        mistaken_value(
            "float32",
            "that is float32, 4 bytes a number; bfloat16 takes 2 bytes (16 bits).",
            lambda: _matrix_bytes(2, 4) / GIB,
            atol=1e-3,
        ),
        mistaken_value(
            "bytes",
            "that is the number of bytes; the exercise asks for GiB: divide by 2**30.",
            lambda: _matrix_bytes(2, BFLOAT16_BYTES),
            atol=0.5,
        ),
        mistaken_value(
            "gigabytes",
            "those are GB of 10**9 bytes; a GiB is 2**30 bytes.",
            lambda: _matrix_bytes(2, BFLOAT16_BYTES) / 1e9,
            atol=1e-3,
        ),
    ],
    solved="Twice the text, four times the memory: at 65,536 tokens it would be 16 GiB, for one head.",
)


# --- 5.2 -----------------------------------------------------------------------------------------

FIRST_BLOCK, NEXT_BLOCK = (2.0, 2.0, 2.0), (1.0, 4.0)  # exercise 5.2: the scores, block by block


def _state_after(scores: tuple[float, ...], block_size: int) -> OnlineSoftmaxStep:
    values = torch.eye(len(scores))  # (L, L): any values; the exercise is about m and ell
    return online_softmax_trace(torch.tensor(scores), values, block_size=block_size)[-1]


def _next_state() -> tuple[float, float]:
    step = _state_after(FIRST_BLOCK + NEXT_BLOCK, len(FIRST_BLOCK))
    return float(step.running_max), float(step.running_sum)


_OLD_MAX, _OLD_SUM = 2.0, 3.0
_NEW_MAX = max(NEXT_BLOCK)
_BLOCK_EXP = sum(math.exp(score - _NEW_MAX) for score in NEXT_BLOCK)

_ONE_STEP = value_exercise(
    "5.2",
    "One online-softmax step by hand",
    _next_state,
    atol=1e-3,
    mistakes=[
        _one_number("(m', ℓ')"),
        mistaken_value(
            "not_rescaled",
            "you added the new exponentials to the old sum as it was; its terms were computed against the old "
            "maximum 2, so multiply ℓ by e^(m - m') = e^(2 - 4) first.",
            lambda: (_NEW_MAX, _OLD_SUM + _BLOCK_EXP),
            atol=1e-3,
        ),
        mistaken_value(
            "factor_inverted",
            "the factor is upside down: the old terms shrink, by e^(m - m') = e^(2 - 4), which is below 1.",
            lambda: (_NEW_MAX, _OLD_SUM * math.exp(_NEW_MAX - _OLD_MAX) + _BLOCK_EXP),
            atol=1e-3,
        ),
        mistaken_value(
            "max_not_updated",
            "the maximum did not move: m' is the largest score seen so far, and the new block holds a 4.",
            lambda: (_OLD_MAX, _OLD_SUM + sum(math.exp(score - _OLD_MAX) for score in NEXT_BLOCK)),
            atol=1e-3,
        ),
        mistaken_value(
            "old_sum_dropped",
            "that is the sum of the new block alone: ℓ' keeps the old terms too, rescaled by e^(m - m').",
            lambda: (_NEW_MAX, _BLOCK_EXP),
            atol=1e-3,
        ),
    ],
    solved="One multiplication corrected all three old terms at once: that is what makes one pass enough.",
)


# --- 5.3 -----------------------------------------------------------------------------------------

TILE_TOKENS, TILE_SIZE = 1000, 128  # exercise 5.3: L and T


def _tile_counts() -> tuple[int, int]:
    plain = attention_blocks(TILE_TOKENS, block_size=TILE_SIZE)
    causal = attention_blocks(TILE_TOKENS, block_size=TILE_SIZE, causal=True)
    return len(plain), len(causal)


_BLOCKS = -(-TILE_TOKENS // TILE_SIZE)  # ceil(L / T)
_FLOOR = TILE_TOKENS // TILE_SIZE

_TILES = value_exercise(
    "5.3",
    "Counting the tiles",
    _tile_counts,
    atol=0.0,
    mistakes=[
        _one_number("(without mask, causal)"),
        mistaken_value(
            "floor",
            "you rounded L / T down: 1000 / 128 = 7.8, and the last, shorter block of 104 tokens counts too, "
            "so there are 8 blocks a side.",
            lambda: (_FLOOR**2, _FLOOR * (_FLOOR + 1) // 2),
            atol=0.0,
        ),
        mistaken_value(
            "half",
            "half of the grid is too few: the tiles on the diagonal are all visited (masked, not skipped), "
            "so it is the lower triangle with its diagonal, n (n + 1) / 2.",
            lambda: (_BLOCKS**2, _BLOCKS**2 // 2),
            atol=0.0,
        ),
        mistaken_value(
            "diagonal_skipped",
            "you skipped the diagonal tiles as well; each holds every query's own score and its past, so it "
            "is computed, with the future half masked.",
            lambda: (_BLOCKS**2, _BLOCKS * (_BLOCKS - 1) // 2),
            atol=0.0,
        ),
        mistaken_value(
            "blocks_not_tiles",
            "those are blocks per side; a tile is one block of queries against one block of keys: "
            "count the squares of the grid.",
            lambda: (_BLOCKS, _BLOCKS),
            atol=0.0,
        ),
    ],
    solved="The causal share, n (n + 1) / 2 out of n², tends to one half as L grows.",
)


# --- 5.4 and 5.5: chapter 2's six words --------------------------------------------------------

PAD_BLOCK, PADDED_TOKENS = 4, 8  # exercise 5.4: T and L padded to a multiple of T
QUERY, SPLIT = 1, 3  # exercise 5.5: "journey", its keys cut into 0..2 and 3..5


def _qkv() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Chapter 2's Q, K, V of the six words, each (L, H)."""
    return project_inputs(example_inputs(), chapter_2_weights())


def _context() -> torch.Tensor:
    queries, keys, values = _qkv()
    return full_attention(queries, keys, values)  # (L, H)


def _unscaled_context() -> torch.Tensor:
    """The same attention without the division by √H, (L, H): the mistake of 5.4 and 5.5."""
    queries, keys, values = _qkv()
    return full_attention(queries * math.sqrt(HIDDEN_DIM), keys, values)  # (q √H)·k / √H = q·k


_UNSCALED_OUTPUT = (
    f"this is attention over unscaled scores: divide Q Kᵀ by √H (here √{HIDDEN_DIM} = {math.sqrt(HIDDEN_DIM):g}) "
    "before the softmax, or the queries by √H before the loop."
)


def _padded(rows: torch.Tensor) -> torch.Tensor:
    """`rows` with zero rows appended up to PADDED_TOKENS, (8, H)."""
    return torch.cat([rows, rows.new_zeros(PADDED_TOKENS - rows.shape[0], rows.shape[1])])


def _key_block_loop(keys: torch.Tensor, values: torch.Tensor, stop: int, *, mask_from: int, rescale_output: bool) -> torch.Tensor:
    """The loop of 5.3.1 over key blocks of PAD_BLOCK up to `stop`; keys from `mask_from` on score -inf."""
    queries = _qkv()[0] / math.sqrt(HIDDEN_DIM)  # (L, H)
    running_max = torch.full((queries.shape[0], 1), float("-inf"))  # (L, 1)
    running_sum = torch.zeros(queries.shape[0], 1)  # (L, 1)
    output = torch.zeros(queries.shape[0], values.shape[1])  # (L, H)
    for start in range(0, stop, PAD_BLOCK):
        scores = queries @ keys[start : start + PAD_BLOCK].T  # (L, T)
        padding = torch.arange(start, start + scores.shape[1]) >= mask_from  # (T,)
        scores = scores.masked_fill(padding, float("-inf"))
        new_max = torch.maximum(running_max, scores.max(dim=1, keepdim=True).values)  # (L, 1)
        exps = torch.exp(scores - new_max)  # (L, T)
        running_sum = running_sum * torch.exp(running_max - new_max) + exps.sum(dim=1, keepdim=True)
        kept = output * torch.exp(running_max - new_max) if rescale_output else output
        output = kept + exps @ values[start : start + PAD_BLOCK]  # (L, H)
        running_max = new_max
    return output / running_sum  # (L, H)


def _padded_loop(*, mask_from: int = PADDED_TOKENS, stop: int = PADDED_TOKENS, rescale_output: bool = True) -> torch.Tensor:
    _, keys, values = _qkv()
    return _key_block_loop(_padded(keys), _padded(values), stop, mask_from=mask_from, rescale_output=rescale_output)


_PADDING = value_exercise(
    "5.4",
    "A block size that does not divide L",
    _context,
    axes=("query", "column"),
    mistakes=[
        mistaken_value(
            "padding_attended",
            "the two padding keys take part: a zero key scores 0, and exp(0 - m) is not 0, so each gets a "
            "weight (and adds its zero value). Set their scores to -inf before the maximum.",
            _padded_loop,
        ),
        mistaken_value(
            "last_block_dropped",
            "your result ignores keys 4 and 5 ('one', 'step'): the loop stopped before the last block. "
            "Loop over range(0, 8, 4), two blocks.",
            lambda: _padded_loop(stop=PAD_BLOCK),
        ),
        mistaken_value(
            "output_not_rescaled",
            "you rescaled ℓ but not o: when the maximum grows, the running output shrinks by the same "
            "e^(m - m') as the running sum.",
            lambda: _padded_loop(mask_from=6, rescale_output=False),
        ),
        mistaken_value("unscaled", _UNSCALED_OUTPUT, _unscaled_context),
    ],
    solved="Padding plus -inf is how GPU kernels keep every tile full; tiled_attention shortens the last block instead.",
)


def _half(start: int, stop: int) -> OnlineSoftmaxStep:
    """The online state of query QUERY after keys start..stop-1 only."""
    queries, keys, values = _qkv()
    scores = queries[QUERY] @ keys[start:stop].T / math.sqrt(HIDDEN_DIM)  # (stop - start,)
    return online_softmax_trace(scores, values[start:stop], block_size=stop - start)[-1]


def _merged(exponent_sign: float) -> torch.Tensor:
    """Merge the two halves, weighting each output by ell * exp(sign * (m_half - m))."""
    first, second = _half(0, SPLIT), _half(SPLIT, 6)
    top = torch.maximum(first.running_max, second.running_max)
    a = first.running_sum * torch.exp(exponent_sign * (first.running_max - top))
    b = second.running_sum * torch.exp(exponent_sign * (second.running_max - top))
    return (a * first.output + b * second.output) / (a + b)  # (H,)


def _merged_unrescaled() -> torch.Tensor:
    first, second = _half(0, SPLIT), _half(SPLIT, 6)
    a, b = first.running_sum, second.running_sum
    return (a * first.output + b * second.output) / (a + b)  # (H,)


_MERGE = value_exercise(
    "5.5",
    "Merging two halves: why T does not matter",
    lambda: _context()[QUERY],
    axes=("column",),
    mistakes=[
        mistaken_value(
            "averaged",
            "you averaged the two partial outputs; each half counts by its share of the exponentials, "
            "its ℓ, brought to the common maximum.",
            lambda: (_half(0, SPLIT).output + _half(SPLIT, 6).output) / 2,
        ),
        mistaken_value(
            "sums_not_rescaled",
            "you weighted each half by its ℓ, but the two sums were computed against different maxima "
            "(0.4498 and 0.6953): bring both to m = max(m1, m2) first, ℓ1 e^(m1 - m) and ℓ2 e^(m2 - m).",
            _merged_unrescaled,
        ),
        mistaken_value(
            "factor_inverted",
            "the factor is upside down: the half with the smaller maximum shrinks, by e^(m_half - m), "
            "which is at most 1.",
            lambda: _merged(-1.0),
        ),
        mistaken_value(
            "first_half_only",
            "that is attention over the first half, keys 0 to 2, alone: merge in the second half too.",
            lambda: _half(0, SPLIT).output,
        ),
        mistaken_value(
            "second_half_only",
            "that is attention over the second half, keys 3 to 5, alone: merge in the first half too.",
            lambda: _half(SPLIT, 6).output,
        ),
        mistaken_value("unscaled", _UNSCALED_OUTPUT, lambda: _unscaled_context()[QUERY]),
        mistaken_value(
            "counted_from_1",
            f"that is the output of query {QUERY - 1}, {TOKENS[QUERY - 1]!r}: indices count from 0, "
            f"so {TOKENS[QUERY]!r} is query {QUERY}.",
            lambda: _context()[QUERY - 1],
        ),
    ],
    solved="Every split of the keys into blocks is a chain of such exact merges, so every T gives the same z.",
)

EXERCISES: tuple[Exercise, ...] = (_MEMORY, _ONE_STEP, _TILES, _PADDING, _MERGE)
"""The exercises of chapter 5, in page order."""
