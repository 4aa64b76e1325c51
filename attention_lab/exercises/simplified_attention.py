"""Exercises of chapter 1, [Simplified self-attention](../simplified-attention.md#14-exercises).

Every expected answer is computed with `attention_lab.simplified_attention`, on
the six embeddings of [`example_inputs`][attention_lab.example_inputs]; every
known mistake is written out with the package, so it is recognised by value.
"""

from __future__ import annotations

import torch

from attention_lab.exercises._core import (
    NO_SOFTMAX,
    ROWS_NOT_COLUMNS,
    Exercise,
    Mistake,
    mistaken_value,
    value_exercise,
)
from attention_lab.simplified_attention import attention_score_matrix, example_inputs, softmax

__all__ = ["CHAPTER", "EXERCISES", "PAGE"]

CHAPTER = 1
"""The chapter these exercises belong to."""
PAGE = "simplified-attention.md"
"""The page under `docs/` whose "Exercises" section poses them."""


def _scores() -> torch.Tensor:
    """Ω = X Xᵀ of the example sentence, (L, L)."""
    return attention_score_matrix(example_inputs())


def _weights() -> torch.Tensor:
    """A = softmax(Ω) by rows, (L, L)."""
    return softmax(_scores(), dim=1)


def _big_scores() -> torch.Tensor:
    """The scores of query 2 plus 1000, (L,): exercise 1.3's input."""
    return _scores()[2] + 1000.0


def _longer_scores() -> torch.Tensor:
    """Scores of the embeddings made 3 times as long, (L, L)."""
    longer = 3 * example_inputs()  # (L, E)
    return attention_score_matrix(longer)


def _cosine_scores() -> torch.Tensor:
    """Cosine similarity of every pair of tokens, (L, L)."""
    inputs = example_inputs()  # (L, E)
    unit = inputs / inputs.norm(dim=1, keepdim=True)  # (L, E), rows of length 1
    return attention_score_matrix(unit)


def _holds_nan_or_inf(answer: torch.Tensor) -> bool:
    return not bool(torch.isfinite(answer).all())


_SCORE_BY_HAND = value_exercise(
    "1.1",
    "A score by hand",
    lambda: _scores()[4, 1],
    atol=5e-4,
    mistakes=[
        mistaken_value(
            "counted_from_1",
            "that is ω_30, the score of 'with' against 'Your': indices count from 0, "
            "so x^(4) is 'one' (the fifth row) and x^(1) is 'journey'.",
            lambda: _scores()[3, 0],
            atol=5e-4,
        ),
        mistaken_value(
            "not_summed",
            "you multiplied element by element but did not add up: a score is one number, "
            "the sum of the three products.",
            lambda: example_inputs()[4] * example_inputs()[1],
            atol=5e-4,
        ),
        mistaken_value(
            "weight_not_score",
            "that is the attention weight α_41, after the softmax; the exercise asks for the score ω_41, "
            "the dot product itself.",
            lambda: _weights()[4, 1],
        ),
        mistaken_value(
            "self_score",
            "that is ω_44, 'one' against itself; the key is x^(1), 'journey'.",
            lambda: _scores()[4, 4],
            atol=5e-4,
        ),
    ],
    solved="Row 4, column 1 of Ω = X Xᵀ holds the same number, and so does row 1, column 4.",
)

_SCORE_TO_WEIGHT = value_exercise(
    "1.2",
    "From a score to a weight",
    lambda: _weights()[4, 1],
    mistakes=[
        mistaken_value(
            "swapped",
            "that is α_14, how much 'journey' (query 1) attends to 'one'. Row i belongs to query i: "
            "α_41 is a softmax over row 4, the scores of 'one'. (A softmax down column 1 gives this number too.)",
            lambda: _weights()[1, 4],
        ),
        mistaken_value(
            "scores",
            "that is the score ω_41 itself: did you forget the softmax? "
            "A weight is the softmax of the whole row of scores of query 4.",
            lambda: _scores()[4, 1],
        ),
        mistaken_value(
            "softmax_of_one_score",
            "the softmax of a single score is always 1: a weight compares its score with every score "
            "of the row, so take the softmax of all of Ω[4] and then its entry 1.",
            lambda: 1.0,
        ),
        mistaken_value(
            "divided_by_sum",
            "you divided the score by the sum of the row's scores; softmax exponentiates first: "
            "exp(ω_41) / Σ_j exp(ω_4j).",
            lambda: _scores()[4, 1] / _scores()[4].sum(),
        ),
        mistaken_value(
            "counted_from_1",
            "that is α_30, how much 'with' attends to 'Your': indices count from 0, "
            "so query 4 is 'one' and key 1 is 'journey'.",
            lambda: _weights()[3, 0],
        ),
    ],
    solved="'one' gives 'journey' about a fifth of its attention.",
)

_STABLE_SOFTMAX = value_exercise(
    "1.3",
    "Softmax ignores a shift, and the stable form relies on it",
    lambda: softmax(_big_scores()),
    axes=("key",),
    mistakes=[
        Mistake(
            "overflow",
            "your weights hold NaN or inf: exp(1000) overflows float32 to inf, and inf / inf is NaN. "
            "Subtract the largest score from every score first: that changes no weight.",
            _holds_nan_or_inf,
        ),
        mistaken_value(
            "not_normalised",
            "these are exp(ω - m), not yet weights: they do not sum to 1. Divide them by their sum.",
            lambda: torch.exp(_big_scores() - _big_scores().max()),
        ),
        mistaken_value(
            "no_exp",
            "these are the shifted scores ω - m; exponentiate them, then divide by their sum.",
            lambda: _big_scores() - _big_scores().max(),
        ),
        mistaken_value(
            "divided_by_sum",
            "you divided the scores by their sum, so every 'weight' is about 1/6; "
            "softmax exponentiates first, and only the differences between scores matter.",
            lambda: _big_scores() / _big_scores().sum(),
        ),
    ],
    solved="These are the weights of 1.1.2: adding 1000 to every score changed nothing.",
)

_LONGER_EMBEDDINGS = value_exercise(
    "1.4",
    "Longer embeddings, sharper attention",
    lambda: softmax(_longer_scores(), dim=1),
    axes=("query", "key"),
    mistakes=[
        mistaken_value(
            "scores_times_3",
            "you multiplied the scores by 3; making the query and the key 3 times as long "
            "multiplies their dot product by 3 · 3 = 9.",
            lambda: softmax(3 * _scores(), dim=1),
        ),
        mistaken_value(
            "unchanged",
            "these are the weights of the original embeddings: multiply the embeddings by 3 first.",
            _weights,
        ),
        mistaken_value("columns", ROWS_NOT_COLUMNS, lambda: softmax(_longer_scores(), dim=0)),
        mistaken_value("scores", NO_SOFTMAX + " These are the scores (3X)(3X)ᵀ.", _longer_scores),
    ],
    solved="Same directions, longer vectors: the scores grow 9-fold and the softmax sharpens.",
)

_COSINE = value_exercise(
    "1.5",
    "Cosine similarity instead of the dot product",
    lambda: softmax(_cosine_scores(), dim=1),
    axes=("query", "key"),
    mistakes=[
        mistaken_value(
            "dot_product",
            "these are the dot-product weights of 1.2.2: divide each embedding by its length first; "
            "cosine similarity is the dot product of vectors of length 1.",
            _weights,
        ),
        mistaken_value("columns", ROWS_NOT_COLUMNS, lambda: softmax(_cosine_scores(), dim=0)),
        mistaken_value("scores", NO_SOFTMAX + " These are the cosine similarities themselves.", _cosine_scores),
        mistaken_value(
            "normalised_dimensions",
            "you divided each embedding dimension (each column, dim=0) by its length; "
            "a token's length is the norm of its row: inputs.norm(dim=1, keepdim=True).",
            lambda: softmax(
                attention_score_matrix(example_inputs() / example_inputs().norm(dim=0, keepdim=True)), dim=1
            ),
        ),
        mistaken_value(
            "pairs_on_the_diagonal_only",
            "F.cosine_similarity(inputs, inputs) compares each token with itself only (six 1s); "
            "you need every pair: normalise the rows, then take the score matrix of the unit vectors.",
            lambda: torch.ones(6),
        ),
    ],
    solved="Length no longer counts, only direction: now every token attends most to itself.",
)

EXERCISES: tuple[Exercise, ...] = (
    _SCORE_BY_HAND,
    _SCORE_TO_WEIGHT,
    _STABLE_SOFTMAX,
    _LONGER_EMBEDDINGS,
    _COSINE,
)
"""The exercises of chapter 1, in page order."""
