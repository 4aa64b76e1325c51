"""Exercises of chapter 3, [Causal attention](../causal-attention.md#38-exercises).

Expected answers are computed with `attention_lab.causal_attention` (masks,
masked softmax) and, for the weights, from chapter 2's scaled scores of the six
words (`init_projection_weights(3, 4, seed=123)`); every known mistake is
written out with the package, so it is recognised by value. Masks follow the
package's convention: **`True` = may attend**.
"""

from __future__ import annotations

import torch

from attention_lab._chapter_seeds import chapter_2_weights
from attention_lab.causal_attention import causal_mask, causal_padding_mask, padding_mask
from attention_lab.exercises._core import TRANSPOSED_MASK, Exercise, Mistake, mistaken_value, value_exercise
from attention_lab.self_attention import trainable_self_attention
from attention_lab.simplified_attention import example_inputs, softmax

__all__ = ["CHAPTER", "EXERCISES", "PAGE"]

CHAPTER = 3
"""The chapter these exercises belong to."""
PAGE = "causal-attention.md"
"""The page under `docs/` whose "Exercises" section poses them."""


def _one_number(what: str) -> Mistake:
    return Mistake("one_number", f"give both numbers, as a pair: {what}.", lambda answer: answer.numel() == 1)


# --- 3.1 -----------------------------------------------------------------------------------------

COUNT_TOKENS = 10  # exercise 3.1: L


def _hidden_count() -> int:
    return int((~causal_mask(COUNT_TOKENS)).sum())


_L = COUNT_TOKENS
_HIDDEN = value_exercise(
    "3.1",
    "What the causal mask hides",
    _hidden_count,
    atol=0.0,
    mistakes=[
        mistaken_value(
            "kept",
            "that is how many weights the mask keeps, the lower triangle with its diagonal, L (L + 1) / 2; "
            "it zeroes the others, those above the diagonal.",
            lambda: _L * (_L + 1) // 2,
            atol=0.0,
        ),
        mistaken_value(
            "half",
            "half of the L² weights is too many: the diagonal (each token on itself) is kept, "
            "so only the L (L - 1) / 2 entries strictly above it are zeroed.",
            lambda: _L * _L // 2,
            atol=0.0,
        ),
        mistaken_value(
            "one_row",
            "that is what row 0 loses (every key but itself); row 1 loses one fewer, and so on down to "
            "the last row, which loses none: add them up.",
            lambda: _L - 1,
            atol=0.0,
        ),
        mistaken_value(
            "diagonal_only",
            "the mask keeps more than the diagonal: query i may attend to every j ≤ i, not only to itself.",
            lambda: _L * _L - _L,
            atol=0.0,
        ),
    ],
    solved="A fraction (L - 1) / (2L) of the weights, just under half for a long text.",
)


# --- 3.2 -----------------------------------------------------------------------------------------

QUERY = 3  # exercise 3.2's query: 'with'


def _full_weights() -> torch.Tensor:
    """Chapter 2's scaled weights of the six words, (L, L), no mask."""
    scores = trainable_self_attention(example_inputs(), chapter_2_weights()).scores
    return softmax(scores, dim=1)


def _kept_sum() -> torch.Tensor:
    """What the causal mask keeps of query QUERY's weights, summed."""
    return (_full_weights()[QUERY] * causal_mask(6)[QUERY]).sum()


_RENORMALISE = value_exercise(
    "3.2",
    "Renormalising is minus infinity in disguise",
    lambda: 1.0 / _kept_sum(),
    atol=1e-3,
    mistakes=[
        mistaken_value(
            "kept_sum",
            "that is s, the sum of the kept weights; renormalising divides by it, so the factor is 1 / s.",
            _kept_sum,
            atol=1e-3,
        ),
        mistaken_value(
            "future_weight",
            "that is the weight 'with' gave its future, 1 - s; the factor divides by what is kept, s.",
            lambda: 1.0 - _kept_sum(),
            atol=1e-3,
        ),
        mistaken_value(
            "inverse_future",
            "you divided by the future's weight, 1 - s; renormalising divides by the kept weights' sum, s.",
            lambda: 1.0 / (1.0 - _kept_sum()),
            atol=1e-3,
        ),
        mistaken_value(
            "wrong_row",
            "that is the factor of row 2, 'starts': indices count from 0, so query 3, 'with', is the fourth row.",
            lambda: 1.0 / (_full_weights()[QUERY - 1] * causal_mask(6)[QUERY - 1]).sum(),
            atol=1e-3,
        ),
    ],
    solved="The full softmax's denominator cancels: what is left is the softmax over the kept scores.",
)


# --- 3.3 -----------------------------------------------------------------------------------------

WEIGHT, DROP = 0.3, 0.25  # exercise 3.3: alpha and p


_DROPOUT = value_exercise(
    "3.3",
    "What dropout keeps on average",
    lambda: (WEIGHT / (1 - DROP), (1 - DROP) * (WEIGHT / (1 - DROP)) + DROP * 0.0),  # kept value, E[α']
    atol=1e-4,
    mistakes=[
        _one_number("(value when kept, expected value)"),
        mistaken_value(
            "unscaled",
            "without the 1 / (1 - p) scaling a surviving weight keeps its value, and on average it shrinks "
            "to (1 - p) α: dropout divides the survivors by 1 - p.",
            lambda: (WEIGHT, (1 - DROP) * WEIGHT),
        ),
        mistaken_value(
            "times_keep",
            "a survivor is divided by 1 - p, not multiplied by it: it grows, to make up for the dropped ones.",
            lambda: (WEIGHT * (1 - DROP), (1 - DROP) ** 2 * WEIGHT),
        ),
        mistaken_value(
            "divided_by_p",
            "divide by the probability of surviving, 1 - p = 0.75, not by the probability of being dropped, p.",
            lambda: (WEIGHT / DROP, (1 - DROP) * WEIGHT / DROP),
        ),
        mistaken_value(
            "survivors_only",
            "the expected value counts the dropped case too: (1 - p) · α / (1 - p) + p · 0.",
            lambda: (WEIGHT / (1 - DROP), WEIGHT / (1 - DROP)),
        ),
    ],
    solved="On average nothing changes: that is why evaluation can simply switch dropout off.",
)


# --- 3.4 -----------------------------------------------------------------------------------------

LENGTHS, PADDED_TOKENS = (4, 2, 5), 5  # exercise 3.4: three sentences padded on the right to L = 5


def _batch_mask() -> torch.Tensor:
    return causal_padding_mask(list(LENGTHS), PADDED_TOKENS)  # (B, L, L)


def _keys_real() -> torch.Tensor:
    return padding_mask(list(LENGTHS), PADDED_TOKENS)  # (B, L)


_BATCH_MASK = value_exercise(
    "3.4",
    "The mask of a padded batch",
    _batch_mask,
    axes=("sentence", "row", "column"),
    mistakes=[
        mistaken_value(
            "polarity",
            "True marks what is hidden in your mask; the package and SDPA read True as 'may attend': invert it.",
            lambda: ~_batch_mask(),
        ),
        mistaken_value(
            "causal_only",
            "this is the causal mask alone: the padding queries may still attend to padding. "
            "Combine it (&) with the padding mask of the keys.",
            lambda: causal_mask(PADDED_TOKENS).expand(len(LENGTHS), -1, -1),
        ),
        mistaken_value(
            "padding_only",
            "this is the padding mask alone, broadcast over the rows: the real tokens see their future. "
            "Combine it (&) with the causal mask.",
            lambda: _keys_real()[:, None, :].expand(-1, PADDED_TOKENS, -1),
        ),
        mistaken_value(
            "queries_masked",
            "you hid the padding queries (rows) instead of the padding keys (columns): the padding mask "
            "describes keys, so broadcast it as (B, 1, L), with real[:, None, :].",
            lambda: causal_mask(PADDED_TOKENS) & _keys_real()[:, :, None],
        ),
        mistaken_value("transposed", TRANSPOSED_MASK, lambda: _batch_mask().mT),
    ],
    solved="Real tokens see their past, padding queries see the real tokens, and nobody sees padding.",
)


# --- 3.5 -----------------------------------------------------------------------------------------

MHA_LENGTHS, MHA_TOKENS = (3, 5), 5  # exercise 3.5: the batch of nn.MultiheadAttention's masks


def _mha_masks() -> tuple[torch.Tensor, torch.Tensor]:
    """nn.MultiheadAttention's attn_mask (L, L) and key_padding_mask (B, L): True = masked out."""
    return ~causal_mask(MHA_TOKENS), ~padding_mask(list(MHA_LENGTHS), MHA_TOKENS)


def _sdpa_mask() -> torch.Tensor:
    return causal_padding_mask(list(MHA_LENGTHS), MHA_TOKENS)  # (B, L, L): True = may attend


def _combined(invert_attn: bool, invert_padding: bool, *, on_queries: bool = False, either: bool = False) -> torch.Tensor:
    attn_mask, key_padding = _mha_masks()
    attn = ~attn_mask if invert_attn else attn_mask  # (L, L)
    padding = ~key_padding if invert_padding else key_padding  # (B, L)
    broadcast = padding[:, :, None] if on_queries else padding[:, None, :]  # (B, L, 1) or (B, 1, L)
    return attn | broadcast if either else attn & broadcast  # (B, L, L)


_CONVERSION = value_exercise(
    "3.5",
    "From nn.MultiheadAttention's masks to SDPA's",
    _sdpa_mask,
    axes=("sentence", "row", "column"),
    mistakes=[
        mistaken_value(
            "not_inverted",
            "this is nn.MultiheadAttention's convention, True = masked out; SDPA's True means may attend: "
            "invert the combined mask.",
            lambda: _combined(False, False, either=True),
        ),
        mistaken_value(
            "or_not_and",
            "a key may be attended only when both masks allow it: combine the inverted masks with &, not |. "
            "(The inverse of a | b is ~a & ~b.)",
            lambda: _combined(True, True, either=True),
        ),
        mistaken_value(
            "padding_on_queries",
            "key_padding_mask marks keys (columns): broadcast it as (B, 1, L), key_padding_mask[:, None, :], "
            "not along the rows.",
            lambda: _combined(True, True, on_queries=True),
        ),
        mistaken_value(
            "padding_not_inverted",
            "you inverted attn_mask but not key_padding_mask: in nn.MultiheadAttention both mark with True "
            "what is masked out.",
            lambda: _combined(True, False),
        ),
        mistaken_value(
            "attn_not_inverted",
            "you inverted key_padding_mask but not attn_mask: in nn.MultiheadAttention both mark with True "
            "what is masked out.",
            lambda: _combined(False, True),
        ),
        mistaken_value("transposed", TRANSPOSED_MASK, lambda: _sdpa_mask().mT),
    ],
    solved="Same masks, opposite words: SDPA now hides exactly what nn.MultiheadAttention hid.",
)

EXERCISES: tuple[Exercise, ...] = (_HIDDEN, _RENORMALISE, _DROPOUT, _BATCH_MASK, _CONVERSION)
"""The exercises of chapter 3, in page order."""
