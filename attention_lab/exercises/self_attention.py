"""Exercises of chapter 2, [The "self" in self-attention](../self-attention.md#210-exercises).

Expected answers are computed with `attention_lab.self_attention` from the
chapter's matrices (`init_projection_weights(3, 4, seed=123)`) and the six
embeddings of [`example_inputs`][attention_lab.example_inputs]; every known
mistake is written out with the package, so it is recognised by value.
"""

from __future__ import annotations

import torch

from attention_lab._chapter_seeds import CHAPTER_2_HIDDEN_DIM, chapter_2_weights
from attention_lab.exercises._core import (
    ROWS_NOT_COLUMNS,
    UNSCALED,
    Exercise,
    Mistake,
    UnreadableAnswer,
    mistaken_value,
    require_module,
    value_exercise,
)
from attention_lab.self_attention import (
    ProjectionWeights,
    SelfAttentionLinear,
    SelfAttentionParams,
    trainable_self_attention,
)
from attention_lab.simplified_attention import TOKENS, example_inputs, softmax

__all__ = ["CHAPTER", "EXERCISES", "PAGE"]

CHAPTER = 2
"""The chapter these exercises belong to."""
PAGE = "self-attention.md"
"""The page under `docs/` whose "Exercises" section poses them."""

EMBED_DIM, HIDDEN_DIM = 3, CHAPTER_2_HIDDEN_DIM  # the chapter's E and H
BIG_EMBED_DIM, BIG_HIDDEN_DIM = 768, 64  # exercise 2.1: GPT-2's E and the H of one of its heads
LINEAR_SEED = 7  # exercise 2.2: the seed of the nn.Linear module before the copy


def _parameter_count(module: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


# --- 2.1 -----------------------------------------------------------------------------------------


def _parameter_counts() -> tuple[int, int]:
    plain = SelfAttentionParams(BIG_EMBED_DIM, BIG_HIDDEN_DIM, seed=0)
    biased = SelfAttentionLinear(BIG_EMBED_DIM, BIG_HIDDEN_DIM, bias=True, seed=0)
    return _parameter_count(plain), _parameter_count(biased)


_E, _H = BIG_EMBED_DIM, BIG_HIDDEN_DIM
_COUNTING = value_exercise(
    "2.1",
    "Counting parameters",
    _parameter_counts,
    atol=0.0,
    mistakes=[
        Mistake(
            "one_number",
            "give both counts, as a pair: (without bias, with bias).",
            lambda answer: answer.numel() == 1,
        ),
        mistaken_value(
            "one_projection",
            "those are the counts of one projection; the module has three: W_q, W_k and W_v.",
            lambda: (_E * _H, _E * _H + _H),
            atol=0.0,
        ),
        mistaken_value(
            "forgot_bias",
            "both counts are the same: a bias adds H numbers to each of the three projections.",
            lambda: (3 * _E * _H, 3 * _E * _H),
            atol=0.0,
        ),
        mistaken_value(
            "one_bias",
            "each of the three nn.Linear layers has its own bias of H numbers, not one for all.",
            lambda: (3 * _E * _H, 3 * _E * _H + _H),
            atol=0.0,
        ),
        mistaken_value(
            "square",
            "W maps an embedding of size E to a vector of size H: it is E × H, not E × E.",
            lambda: (3 * _E * _E, 3 * _E * _E + 3 * _E),
            atol=0.0,
        ),
    ],
    solved="The count grows with E · H and does not depend on the sentence length L.",
)


# --- 2.2 -----------------------------------------------------------------------------------------


def _read_linear_module(answer: object) -> torch.Tensor:
    """The three layer weights of a SelfAttentionLinear(3, 4), stacked: (3, H, E)."""
    answer = require_module(
        answer, SelfAttentionLinear, "SelfAttentionLinear module", "a SelfAttentionLinear",
        embed_dim=EMBED_DIM, hidden_dim=HIDDEN_DIM,
    )
    layers = (answer.W_query, answer.W_key, answer.W_value)
    return torch.stack([layer.weight.detach().to(torch.float64) for layer in layers])  # (3, H, E)


def _copied_weights() -> torch.Tensor:
    """What the three layers must hold: each W transposed, stacked (3, H, E)."""
    return torch.stack([matrix.T for matrix in chapter_2_weights()])


def _initial_linear_weights() -> torch.Tensor:
    module = SelfAttentionLinear(EMBED_DIM, HIDDEN_DIM, seed=LINEAR_SEED)
    return torch.stack([module.W_query.weight, module.W_key.weight, module.W_value.weight]).detach()


def _mixed_up(answer: torch.Tensor) -> bool:
    """Some layer holds another projection's matrix."""
    expected = _copied_weights().to(torch.float64)
    return any(
        torch.allclose(answer[held], expected[meant], atol=1e-6)
        for held in range(3)
        for meant in range(3)
        if held != meant
    )


_COPYING = value_exercise(
    "2.2",
    "Copying nn.Parameter weights into nn.Linear",
    _copied_weights,
    axes=("projection", "row", "column"),
    read=_read_linear_module,
    mistakes=[
        mistaken_value(
            "reshaped",
            "you reshaped (reshape or view) instead of transposing: the shape is right, but the numbers "
            "land in the wrong places. nn.Linear stores W transposed: copy W.T.",
            lambda: torch.stack([matrix.reshape(HIDDEN_DIM, EMBED_DIM) for matrix in chapter_2_weights()]),
        ),
        mistaken_value(
            "untouched",
            "your module still holds its own initial weights: copy into each layer's weight, "
            "inside torch.no_grad(), with weight.copy_(...).",
            _initial_linear_weights,
        ),
        Mistake(
            "mixed_up",
            "a matrix went into the wrong layer: W_query.weight must hold W_q.T, W_key.weight W_k.T "
            "and W_value.weight W_v.T.",
            _mixed_up,
        ),
    ],
    solved="Both modules now compute the same context vectors.",
)


# --- 2.3 -----------------------------------------------------------------------------------------

QUARTER_TURN = torch.tensor(
    [[0.0, 1.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, -1.0, 0.0]]
)  # (H, H): exercise 2.3's R, (a, b) -> (-b, a) in hidden coordinates 0, 1 and 2, 3


def _scores_with_keys(key_matrix: torch.Tensor, *, scaled: bool = True) -> torch.Tensor:
    """Scores of the example sentence with the chapter's W_q and `key_matrix` as W_k, (L, L)."""
    weights = chapter_2_weights()
    keyed = ProjectionWeights(weights.query, key_matrix, weights.value)
    return trainable_self_attention(example_inputs(), keyed, scaled=scaled).scores


def _turned_scores(*, scaled: bool = True) -> torch.Tensor:
    """Scores with W_k = W_q R: Q (Q R)ᵀ, antisymmetric, (L, L)."""
    return _scores_with_keys(chapter_2_weights().query @ QUARTER_TURN, scaled=scaled)


_TURNED = value_exercise(
    "2.3",
    "Keys a quarter turn away from the queries",
    _turned_scores,
    axes=("query", "key"),
    mistakes=[
        mistaken_value("unscaled", UNSCALED, lambda: _turned_scores(scaled=False)),
        mistaken_value(
            "sign_flipped",
            "every score has the wrong sign: you computed K Qᵀ instead of Q Kᵀ (row i must hold the query "
            "of token i), or turned the other way (W_q Rᵀ, and Rᵀ = −R). Keys are W_k = W_q @ R.",
            lambda: -_turned_scores(),
        ),
        mistaken_value(
            "symmetric",
            "these are the symmetric scores of W_k = W_q (section 2.3.3): either R is missing, or you turned "
            "the queries as well as the keys, and a turn applied to both keeps every dot product. "
            "Turn the keys only: W_k = W_q @ R.",
            lambda: _scores_with_keys(chapter_2_weights().query),
        ),
        mistaken_value(
            "original_keys",
            "these use the chapter's own W_k: the exercise builds the keys from the queries, W_k = W_q @ R.",
            lambda: trainable_self_attention(example_inputs(), chapter_2_weights()).scores,
        ),
        mistaken_value(
            "weights",
            "these are the attention weights, after the softmax; the exercise asks for the scaled scores, before it.",
            lambda: softmax(_turned_scores(), dim=1),
        ),
        mistaken_value(
            "divided_by_H",
            "you divided by H = 4; scaled attention divides by √H = 2.",
            lambda: _turned_scores(scaled=False) / HIDDEN_DIM,
        ),
    ],
    solved="The scores are antisymmetric: ω_ji = −ω_ij, and every token scores itself 0.",
)


# --- 2.4 -----------------------------------------------------------------------------------------

QUERY, KEY, TARGET_WEIGHT = 4, 5, 0.9  # 'one' must give 'step' at least 0.9 of its attention
TARGET_HIDDEN = 4  # exercise 2.4 asks for H = 4, so that scaling divides by 2


def _read_projection_weights(answer: object) -> torch.Tensor:
    """Scaled and unscaled attention weights of the example sentence, stacked: (2, L, L)."""
    if not isinstance(answer, tuple) or len(answer) != 3:
        raise UnreadableAnswer(
            f"expected ProjectionWeights(W_q, W_k, W_v), three (3, H) matrices, got a {type(answer).__qualname__}"
        )
    if not all(isinstance(matrix, torch.Tensor) for matrix in answer):
        raise UnreadableAnswer("expected ProjectionWeights(W_q, W_k, W_v) holding three torch.Tensor matrices")
    weights = ProjectionWeights(*(matrix.detach().to(torch.float64) for matrix in answer))
    inputs = example_inputs(torch.float64)  # (L, E)
    try:
        scaled = trainable_self_attention(inputs, weights).weights  # (L, L)
        unscaled = trainable_self_attention(inputs, weights, scaled=False).weights  # (L, L)
    except (TypeError, ValueError) as error:
        raise UnreadableAnswer(f"these projection weights cannot be used: {error}") from None
    if weights.query.shape[1] != TARGET_HIDDEN:
        raise UnreadableAnswer(
            f"the exercise asks for H = {TARGET_HIDDEN}: W_q and W_k must be ({EMBED_DIM}, {TARGET_HIDDEN}), "
            f"got W_q of shape {tuple(weights.query.shape)}; pad unused hidden coordinates with zero columns"
        )
    return torch.stack([scaled, unscaled])


def _hand_weights_of_section_2_6() -> torch.Tensor:
    """Scaled weights of section 2.6's W_q = (0, 2, 2) and W_k = (1, -1, 0), padded to H = 4: (L, L)."""
    w_q, w_k = torch.zeros(EMBED_DIM, TARGET_HIDDEN), torch.zeros(EMBED_DIM, TARGET_HIDDEN)  # (E, H)
    w_q[:, 0] = torch.tensor([0.0, 2.0, 2.0])
    w_k[:, 0] = torch.tensor([1.0, -1.0, 0.0])
    hand = ProjectionWeights(w_q.double(), w_k.double(), w_k.double())
    return trainable_self_attention(example_inputs(torch.float64), hand).weights


def _judge_attends(answer: torch.Tensor) -> str | None:
    weights = answer[0]  # (L, L), scaled
    weight = float(weights[QUERY, KEY])
    if weight >= TARGET_WEIGHT:
        return None
    favourite = int(weights[QUERY].argmax())
    verdict = (
        "'step' already gets its largest weight, but the other scores are too close: make the query longer"
        if favourite == KEY
        else f"its largest weight goes to {TOKENS[favourite]!r} ({float(weights[QUERY, favourite]):.4f})"
    )
    return (
        f"with your matrices 'one' gives 'step' a weight of {weight:.4f} (α_45, scaled attention), "
        f"{TARGET_WEIGHT - weight:.4f} short of {TARGET_WEIGHT}; {verdict}."
    )


_CHOOSING = Exercise(
    id="2.4",
    title="Choosing W for another pair, with H = 4",
    read=_read_projection_weights,
    judge=_judge_attends,
    mistakes=(
        Mistake(
            "reversed",
            "you made 'step' attend to 'one' (α_54). Row i belongs to query i: 'one' is the query, "
            "so it is its query x^(4) W_q that must point towards the key of 'step'.",
            lambda answer: float(answer[0, KEY, QUERY]) >= TARGET_WEIGHT,
        ),
        Mistake(
            "counted_from_1",
            "you made 'with' attend to 'one' (α_34): indices count from 0, so 'one' is token 4 "
            "and 'step' is token 5.",
            lambda answer: float(answer[0, QUERY - 1, KEY - 1]) >= TARGET_WEIGHT,
        ),
        Mistake(
            "chapter_pair",
            "these are section 2.6's matrices, padded to H = 4: they make 'journey' attend to 'one'. "
            "This exercise asks for 'one' (token 4) attending to 'step' (token 5): find a combination of "
            "the coordinates that is largest for 'step', for the keys.",
            lambda answer: torch.allclose(answer[0], _hand_weights_of_section_2_6(), atol=1e-4),
        ),
        Mistake(
            "unscaled_only",
            "it works without scaling, but attention divides the scores by √H = 2, which halves every gap "
            "between them: make the query longer, for example by multiplying W_q by a larger number.",
            lambda answer: float(answer[1, QUERY, KEY]) >= TARGET_WEIGHT,
        ),
    ),
    solved="A long query along what sets 'step' apart gives it almost all the attention.",
)


# --- 2.5 -----------------------------------------------------------------------------------------


def _scaled_scores() -> torch.Tensor:
    """The chapter's scaled scores Q Kᵀ / √H, (L, L)."""
    return trainable_self_attention(example_inputs(), chapter_2_weights()).scores


def _masked_softmax(scores: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Softmax by rows after setting the scores where `hidden` is True to -inf."""
    return softmax(scores.masked_fill(hidden, float("-inf")), dim=1)


def _future(length: int, diagonal: int = 1) -> torch.Tensor:
    """True above the diagonal (j > i, or j >= i with diagonal=0): what a causal mask hides."""
    return torch.ones(length, length, dtype=torch.bool).triu(diagonal)


_CAUSAL = value_exercise(
    "2.5",
    "A causal mask by hand (a preview of chapter 3)",
    lambda: _masked_softmax(_scaled_scores(), _future(6)),
    axes=("query", "key"),
    mistakes=[
        mistaken_value(
            "future_kept",
            "token 0 attends to the tokens after it: you hid the past and kept the future. "
            "Keep j ≤ i, the lower triangle: torch.tril(torch.ones(L, L, dtype=torch.bool)).",
            lambda: _masked_softmax(_scaled_scores(), _future(6).T),
        ),
        mistaken_value(
            "zero_not_inf",
            "the hidden scores are 0, not -inf: exp(0) = 1 still gives the future a weight. "
            "Fill them with float('-inf').",
            lambda: softmax(_scaled_scores().masked_fill(_future(6), 0.0), dim=1),
        ),
        mistaken_value(
            "zeroed_after_softmax",
            "your rows do not sum to 1: you zeroed the future's weights after the softmax. "
            "Divide each row by its new sum, or set the scores to -inf before the softmax.",
            lambda: softmax(_scaled_scores(), dim=1).masked_fill(_future(6), 0.0),
        ),
        mistaken_value(
            "diagonal_hidden",
            "the diagonal is hidden too: a token may attend to itself (keep j ≤ i, diagonal included); "
            "row 0 then has nothing left to attend to.",
            lambda: _masked_softmax(_scaled_scores(), _future(6, diagonal=0)),
            nan_as_zero=True,
        ),
        mistaken_value(
            "polarity",
            "you hid what each token may see and kept the future: masked_fill fills where the mask is True, "
            "but a mask that marks with True what may be attended (attention_lab's and SDPA's convention) "
            "must be filled where it is False: scores.masked_fill(~mask, float('-inf')).",
            lambda: _masked_softmax(_scaled_scores(), _future(6).logical_not()),
            nan_as_zero=True,
        ),
        mistaken_value(
            "unscaled",
            "these are causal weights of the unscaled scores: divide the scores by √H = 2 before the softmax.",
            lambda: _masked_softmax(
                trainable_self_attention(example_inputs(), chapter_2_weights(), scaled=False).scores, _future(6)
            ),
        ),
        mistaken_value(
            "transposed",
            "you have the transpose of the causal weights: your matrix keeps the future (its upper triangle) "
            "and its columns sum to 1. Row i is query i, its weights over keys 0 to i summing to 1: transpose "
            "it back with .T.",
            lambda: _masked_softmax(_scaled_scores(), _future(6)).T,
        ),
        mistaken_value(
            "columns",
            ROWS_NOT_COLUMNS,
            lambda: softmax(_scaled_scores().masked_fill(_future(6), float("-inf")), dim=0),
        ),
    ],
    solved="Row i now mixes only tokens 0 to i; row 0 attends to itself alone.",
)

EXERCISES: tuple[Exercise, ...] = (_COUNTING, _COPYING, _TURNED, _CHOOSING, _CAUSAL)
"""The exercises of chapter 2, in page order."""
