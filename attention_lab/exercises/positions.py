"""Exercises of chapter 6, [Where the words are: positions](../positions.md#66-exercises).

Expected answers are computed with `attention_lab.positions` (and, for the six
words, from chapter 2's projections, seed 123); every known mistake is written
out with the package, so it is recognised by value.
"""

from __future__ import annotations

import math

import torch

from attention_lab._chapter_seeds import CHAPTER_2_SEED, chapter_2_weights
from attention_lab.causal_attention import causal_self_attention
from attention_lab.exercises._core import Exercise, mistaken_value, value_exercise
from attention_lab.positions import (
    apply_rope,
    interleaved_to_halves,
    rope_frequencies,
    rope_self_attention,
    sinusoidal_positions,
)
from attention_lab.self_attention import init_projection_weights, project_inputs
from attention_lab.simplified_attention import example_inputs

__all__ = ["CHAPTER", "EXERCISES", "PAGE"]

CHAPTER = 6
"""The chapter these exercises belong to."""
PAGE = "positions.md"
"""The page under `docs/` whose "Exercises" section poses them."""


# --- 6.1 -----------------------------------------------------------------------------------------

HEAD_DIM, PAIR = 64, 16  # exercise 6.1: H and the pair i


def _frequency(head_dim: int, pair: int, base: float = 10_000.0) -> float:
    return float(rope_frequencies(head_dim, base=base)[pair])


_FREQUENCY = value_exercise(
    "6.1",
    "The frequency of a pair",
    lambda: _frequency(HEAD_DIM, PAIR),
    atol=1e-6,
    mistakes=[
        mistaken_value(
            "no_two",
            "that is base^(-i/H); the exponent is -2i/H: a pair covers two coordinates.",
            lambda: 10_000.0 ** (-PAIR / HEAD_DIM),
            atol=1e-6,
        ),
        mistaken_value(
            "positive_exponent",
            "that is base^(+2i/H), over a radian per position; the exponent is negative, so the pairs slow down.",
            lambda: 10_000.0 ** (2 * PAIR / HEAD_DIM),
            atol=1e-3,
        ),
        mistaken_value(
            "llama_3_base",
            "that is Llama 3's base, 500,000; this exercise uses 10,000.",
            lambda: _frequency(HEAD_DIM, PAIR, base=500_000.0),
            atol=1e-7,
        ),
        mistaken_value(
            "pairs_from_one",
            "that is pair 17: pairs count from 0, and pair 0 turns by one radian per position.",
            lambda: _frequency(HEAD_DIM, PAIR + 1),
            atol=1e-6,
        ),
    ],
    solved="The middle pair of a head turns a hundred times slower than the first.",
)


# --- 6.2 -----------------------------------------------------------------------------------------

TURN_POSITION, TURN_HEAD_DIM, TURN_PAIR = 100, 4, 1  # exercise 6.2: m, H and i


def _angle(position: int, pair: int) -> float:
    return position * _frequency(TURN_HEAD_DIM, pair)


_ANGLE = value_exercise(
    "6.2",
    "How far a pair turns",
    lambda: _angle(TURN_POSITION, TURN_PAIR),
    atol=1e-4,
    mistakes=[
        mistaken_value(
            "pair_zero",
            "that is pair 0, which turns one radian per position; pair 1 of a head of size 4 turns by 0.01.",
            lambda: _angle(TURN_POSITION, 0),
            atol=1e-3,
        ),
        mistaken_value(
            "positions_from_one",
            "that is position 101: positions count from 0, the first token turns by nothing.",
            lambda: _angle(TURN_POSITION + 1, TURN_PAIR),
            atol=1e-4,
        ),
        mistaken_value(
            "degrees",
            "that is in degrees; the angle m θ is in radians.",
            lambda: math.degrees(_angle(TURN_POSITION, TURN_PAIR)),
            atol=1e-3,
        ),
    ],
    solved="A hundred tokens turn this pair by one radian: it needs 628 tokens for a full turn.",
)


# --- 6.3 -----------------------------------------------------------------------------------------

ROW_POSITION, ROW_DIM = 2, 4  # exercise 6.3: the row p and E


def _row(position: int) -> torch.Tensor:
    return sinusoidal_positions(position + 1, ROW_DIM, dtype=torch.float64)[position]  # (E,)


def _row_reordered(order: list[int]) -> torch.Tensor:
    return _row(ROW_POSITION)[order]


_ROW = value_exercise(
    "6.3",
    "A row of the sinusoidal table",
    lambda: _row(ROW_POSITION),
    atol=2e-4,
    axes=("coordinate",),
    mistakes=[
        mistaken_value(
            "cos_first",
            "each pair is (sin, cos), the sine first: P[p, 2i] = sin(p ω_i), P[p, 2i + 1] = cos(p ω_i).",
            lambda: _row_reordered([1, 0, 3, 2]),
            atol=2e-4,
        ),
        mistaken_value(
            "halves",
            "those are the sines then the cosines; the table interleaves them: sin, cos of pair 0, then of pair 1.",
            lambda: _row_reordered([0, 2, 1, 3]),
            atol=2e-4,
        ),
        mistaken_value(
            "positions_from_one",
            "that is row 3: positions count from 0, and row 0 is (0, 1, 0, 1).",
            lambda: _row(ROW_POSITION + 1),
            atol=2e-4,
        ),
    ],
    solved="The fast pair has turned 2 radians, almost a third of a circle; the slow one 0.02.",
)


# --- 6.4 and 6.5: chapter 2's six words ----------------------------------------------------------

QUERY, KEY = 5, 2  # exercise 6.4: "step" attends to "starts"


def _score_with(query_rotated: bool, key_rotated: bool, *, scaled: bool = True, pairing: str = "halves") -> float:
    queries, keys, _ = project_inputs(example_inputs(), chapter_2_weights())  # (L, H) each
    if query_rotated:
        queries = apply_rope(queries, pairing=pairing)  # type: ignore[arg-type]
    if key_rotated:
        keys = apply_rope(keys, pairing=pairing)  # type: ignore[arg-type]
    score = queries[QUERY] @ keys[KEY]
    return float(score / 2.0 if scaled else score)  # sqrt(H) = 2


_SCORE = value_exercise(
    "6.4",
    "A score with RoPE",
    lambda: float(rope_self_attention(example_inputs(), chapter_2_weights()).scores[QUERY, KEY]),
    atol=2e-4,
    mistakes=[
        mistaken_value(
            "unscaled",
            "that is q · k before scaling; chapter 2's scores are divided by √H = 2.",
            lambda: _score_with(True, True, scaled=False),
            atol=2e-4,
        ),
        mistaken_value(
            "queries_only",
            "only the query is turned: RoPE turns the keys too, each by its own position.",
            lambda: _score_with(True, False),
            atol=2e-4,
        ),
        mistaken_value(
            "no_rope",
            "that is the score without positions (chapter 2, 3): turn the query by 5 θ_i and the key by 2 θ_i first.",
            lambda: float(causal_self_attention(example_inputs(), chapter_2_weights()).scores[QUERY, KEY]),
            atol=2e-4,
        ),
        mistaken_value(
            "interleaved",
            "that is the interleaved pairing; this chapter's default pairs coordinate i with i + H/2.",
            lambda: _score_with(True, True, pairing="interleaved"),
            atol=2e-4,
        ),
    ],
    solved="Put the sentence anywhere in a longer text: the score stays, only 5 - 2 counts.",
)

CONVERT_HEAD_DIM = 6  # exercise 6.5: a head of size 6, whose permutation is not its own inverse


def _checkpoint_query() -> torch.Tensor:
    return init_projection_weights(3, CONVERT_HEAD_DIM, seed=CHAPTER_2_SEED).query  # (E, H) = (3, 6)


_CONVERT = value_exercise(
    "6.5",
    "Converting a checkpoint",
    lambda: _checkpoint_query()[:, interleaved_to_halves(CONVERT_HEAD_DIM)],
    atol=1e-6,
    mistakes=[
        mistaken_value(
            "unchanged",
            "that is W_q as it was: in a halves model its columns pair the wrong coordinates. "
            "Reorder them with interleaved_to_halves(6).",
            _checkpoint_query,
            atol=1e-6,
        ),
        mistaken_value(
            "inverse",
            "that is the inverse order (halves to interleaved): column j of the result is column perm[j] "
            "of W_q, i.e. W_q[:, perm].",
            lambda: _checkpoint_query()[:, torch.argsort(interleaved_to_halves(CONVERT_HEAD_DIM))],
            atol=1e-6,
        ),
    ],
    solved="Do the same to W_k, head by head, and leave W_v: the converted model computes the same weights.",
)

EXERCISES: tuple[Exercise, ...] = (_FREQUENCY, _ANGLE, _ROW, _SCORE, _CONVERT)
"""The exercises of chapter 6, in page order."""
