"""Chapter 2: equivalence with PyTorch and between forms, over seeds and shapes; properties.

- the package's scaled (and unscaled) attention equals `F.scaled_dot_product_attention`;
- the `nn.Parameter` and `nn.Linear` modules agree once weights are copied, both ways;
- the all-queries matrix form equals the one-query form, row by row;
- hypothesis: each row of weights sums to 1, and permuting the tokens permutes the outputs.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from attention_lab import (
    ProjectionWeights,
    SelfAttentionLinear,
    SelfAttentionParams,
    init_projection_weights,
    project_inputs,
    trainable_attention_for_query,
    trainable_self_attention,
)

from . import common
from .common import DTYPES, PROPERTY_SETTINGS, TOLERANCE, random_tensor

# (L tokens, E embedding size, H hidden size): the corners of 1..64 x 1..32 x 1..32 and a few between.
SHAPES = [(1, 1, 1), (6, 3, 4), (17, 5, 9), (64, 32, 32), (2, 32, 1), (64, 1, 32), (33, 7, 1)]


def random_inputs(seed: int, tokens: int, embed: int, dtype: torch.dtype) -> torch.Tensor:
    return random_tensor(10_000 + seed, tokens, embed, dtype=dtype)


def random_case(seed: int, tokens: int, embed: int, hidden: int, dtype: torch.dtype) -> tuple[torch.Tensor, ProjectionWeights]:
    """Inputs (L, E) and projection weights (E, H), both drawn from `seed`."""
    return random_inputs(seed, tokens, embed, dtype), init_projection_weights(embed, hidden, seed=seed, dtype=dtype)


sweep = common.sweep(pytest.mark.parametrize(("tokens", "embed", "hidden"), SHAPES, ids=[f"L{l}-E{e}-H{h}" for l, e, h in SHAPES]))


@sweep
def test_scaled_attention_equals_torch_scaled_dot_product_attention(
    tokens: int, embed: int, hidden: int, dtype: torch.dtype, seed: int
) -> None:
    inputs, weights = random_case(seed, tokens, embed, hidden, dtype)
    queries, keys, values = project_inputs(inputs, weights)
    scaled = trainable_self_attention(inputs, weights).context
    unscaled = trainable_self_attention(inputs, weights, scaled=False).context
    torch.testing.assert_close(scaled, F.scaled_dot_product_attention(queries, keys, values), **TOLERANCE[dtype])
    torch.testing.assert_close(
        unscaled, F.scaled_dot_product_attention(queries, keys, values, scale=1.0), **TOLERANCE[dtype]
    )
    assert scaled.dtype == dtype and scaled.shape == (tokens, hidden)


@sweep
@pytest.mark.parametrize("scaled", [False, True], ids=["unscaled", "scaled"])
def test_parameter_and_linear_modules_agree_after_a_weight_copy_both_ways(
    tokens: int, embed: int, hidden: int, dtype: torch.dtype, seed: int, scaled: bool
) -> None:
    inputs = random_inputs(seed, tokens, embed, dtype)
    params = SelfAttentionParams(embed, hidden, seed=seed, scaled=scaled, dtype=dtype)
    linear = SelfAttentionLinear(embed, hidden, bias=seed % 2 == 1, seed=seed + 100, scaled=scaled, dtype=dtype)
    with torch.no_grad():
        linear.load_projection_weights(params.projection_weights())  # Parameter -> Linear
        context, weights = params(inputs, return_weights=True)
        linear_context, linear_weights = linear(inputs, return_weights=True)
        torch.testing.assert_close(linear_context, context, **TOLERANCE[dtype])
        torch.testing.assert_close(linear_weights, weights, **TOLERANCE[dtype])

        other_params = SelfAttentionParams(embed, hidden, seed=seed + 200, scaled=scaled, dtype=dtype)
        other_linear = SelfAttentionLinear(embed, hidden, seed=seed + 300, scaled=scaled, dtype=dtype)
        other_params.load_projection_weights(other_linear.projection_weights())  # Linear -> Parameter
        torch.testing.assert_close(other_params(inputs), other_linear(inputs), **TOLERANCE[dtype])


@sweep
def test_matrix_form_equals_the_one_query_form_row_by_row(
    tokens: int, embed: int, hidden: int, dtype: torch.dtype, seed: int
) -> None:
    inputs, weights = random_case(seed, tokens, embed, hidden, dtype)
    scaled = seed != 1  # both forms, over the seeds
    matrices = trainable_self_attention(inputs, weights, scaled=scaled)
    for index in sorted({0, tokens // 2, tokens - 1}):
        one = trainable_attention_for_query(inputs, index, weights, scaled=scaled)
        for matrix, row in zip(matrices, one):
            torch.testing.assert_close(matrix[index], row, **TOLERANCE[dtype])


# --- properties (hypothesis) ---------------------------------------------------------


@st.composite
def attention_setups(draw: st.DrawFn) -> tuple[torch.Tensor, SelfAttentionParams | SelfAttentionLinear]:
    """Inputs (L, E) and a module of either kind, from drawn sizes, seed, dtype and scaling."""
    tokens = draw(st.integers(1, 16))
    embed = draw(st.integers(1, 8))
    hidden = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    dtype = draw(st.sampled_from(DTYPES))
    scaled = draw(st.booleans())
    if draw(st.booleans()):
        module = SelfAttentionParams(embed, hidden, seed=seed, scaled=scaled, dtype=dtype)
    else:
        module = SelfAttentionLinear(embed, hidden, bias=draw(st.booleans()), seed=seed, scaled=scaled, dtype=dtype)
    return random_inputs(seed, tokens, embed, dtype), module


@PROPERTY_SETTINGS
@given(attention_setups())
def test_each_row_of_attention_weights_is_a_distribution(setup) -> None:
    inputs, module = setup
    with torch.no_grad():
        _, weights = module(inputs, return_weights=True)
    tokens = inputs.shape[0]
    assert weights.shape == (tokens, tokens)
    assert bool((weights >= 0).all()) and bool((weights <= 1).all())
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(tokens, dtype=weights.dtype))


@PROPERTY_SETTINGS
@given(attention_setups(), st.data())
def test_permuting_the_tokens_permutes_the_outputs(setup, data: st.DataObject) -> None:
    inputs, module = setup
    tokens = inputs.shape[0]
    order = torch.tensor(data.draw(st.permutations(range(tokens))), dtype=torch.long)
    with torch.no_grad():
        context, weights = module(inputs, return_weights=True)
        permuted_context, permuted_weights = module(inputs[order], return_weights=True)
    tolerance = TOLERANCE[inputs.dtype]
    torch.testing.assert_close(permuted_context, context[order], **tolerance)
    torch.testing.assert_close(permuted_weights, weights[order][:, order], **tolerance)


@PROPERTY_SETTINGS
@given(attention_setups())
def test_the_functional_form_is_the_module(setup) -> None:
    inputs, module = setup
    with torch.no_grad():
        for bias in (getattr(layer, "bias", None) for layer in (module.W_query, module.W_key, module.W_value)):
            if bias is not None:
                bias.zero_()  # ProjectionWeights holds no biases
        context, weights = module(inputs, return_weights=True)
    result = trainable_self_attention(inputs, module.projection_weights(), scaled=module.scaled)
    torch.testing.assert_close(result.context, context, **TOLERANCE[inputs.dtype])
    torch.testing.assert_close(result.weights, weights, **TOLERANCE[inputs.dtype])
