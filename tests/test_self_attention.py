"""Chapter 2 (attention_lab.self_attention): values, randomness, modules and errors.

Equivalence over many seeds and shapes, and the property tests, are in
`test_self_attention_properties.py`.
"""

from __future__ import annotations

import inspect
import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import attention_lab
import attention_lab.self_attention as chapter_2
import attention_lab.simplified_attention as chapter_1
from attention_lab import (
    AttentionResult,
    ProjectionWeights,
    Projections,
    SelfAttentionLinear,
    SelfAttentionParams,
    attention_score,
    init_projection_weights,
    project,
    project_inputs,
    query_key_scores,
    scale_scores,
    trainable_attention_for_query,
    trainable_self_attention,
)

from .common import Bad, W, X, random_tensor
from .conftest import record_checks

MODULES = (SelfAttentionParams, SelfAttentionLinear)


# --- chapter 1 is reused, not redefined -----------------------------------------------------------


def test_chapter_1_is_reused_not_redefined() -> None:
    """Chapter 2 composes chapter 1's kernels (and its result type); it copies none of them."""
    shared = {"AttentionResult", "_attend", "_check_attention_overflow", "_score_matrix"}
    for name in shared:
        assert getattr(chapter_2, name) is getattr(chapter_1, name), name
    own = {name for name, value in vars(chapter_2).items() if inspect.isfunction(value) and value.__module__ == chapter_2.__name__}
    assert not own & set(vars(chapter_1)), own & set(vars(chapter_1))


def test_every_scaled_keyword_defaults_to_true_and_says_so() -> None:
    for function in (trainable_attention_for_query, trainable_self_attention, SelfAttentionParams, SelfAttentionLinear):
        assert inspect.signature(function).parameters["scaled"].default is True
        assert "**Default `True`**" in " ".join(function.__doc__.split()), function.__name__
    for module in (SelfAttentionParams(3, 4, seed=0), SelfAttentionLinear(3, 4, seed=0)):
        assert module.scaled is True


# --- random weights: explicit, reproducible, never global -------------------------


def test_init_projection_weights_draws_three_normal_matrices_in_order() -> None:
    generator = torch.Generator().manual_seed(123)
    expected = [torch.randn(3, 4, generator=generator) for _ in range(3)]
    assert isinstance(W, ProjectionWeights)
    assert W._fields == ("query", "key", "value")
    for ours, theirs in zip(W, expected):
        assert torch.equal(ours, theirs)
        assert ours.dtype == torch.float32
        assert not ours.requires_grad


def test_seed_and_generator_give_the_same_weights_and_a_generator_advances() -> None:
    generator = torch.Generator().manual_seed(5)
    first = init_projection_weights(2, 3, generator=generator)
    second = init_projection_weights(2, 3, generator=generator)
    assert all(torch.equal(a, b) for a, b in zip(first, init_projection_weights(2, 3, seed=5)))
    assert not torch.equal(first.query, second.query)


def test_dtype_is_respected() -> None:
    weights = init_projection_weights(2, 3, seed=0, dtype=torch.float64)
    assert {w.dtype for w in weights} == {torch.float64}
    assert SelfAttentionParams(2, 3, seed=0, dtype=torch.float64).W_query.dtype == torch.float64
    assert SelfAttentionLinear(2, 3, seed=0, bias=True, dtype=torch.float64).W_value.bias.dtype == torch.float64


def test_torch_global_random_state_is_neither_used_nor_changed() -> None:
    state = torch.get_rng_state()
    made = []
    for global_seed in (0, 1):
        with torch.random.fork_rng():
            torch.manual_seed(global_seed)
            made.append(
                [
                    *init_projection_weights(3, 4, seed=9),
                    *SelfAttentionParams(3, 4, seed=9).parameters(),
                    *SelfAttentionLinear(3, 4, bias=True, seed=9).parameters(),
                ]
            )
    init_projection_weights(3, 4, seed=9)
    SelfAttentionLinear(3, 4, bias=True, generator=torch.Generator().manual_seed(1))(X)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(*made))


def test_params_module_draws_like_init_projection_weights() -> None:
    module = SelfAttentionParams(3, 4, seed=123)
    assert all(torch.equal(a, b) for a, b in zip(module.parameters(), W))


@pytest.mark.parametrize("bias", [False, True])
def test_linear_module_draws_like_nn_linear_default(bias: bool) -> None:
    """Same distribution and order as nn.Linear's own reset_parameters, from the generator."""
    with torch.random.fork_rng():
        torch.manual_seed(11)
        reference = nn.Linear(5, 7, bias=bias)
    ours = SelfAttentionLinear(5, 7, bias=bias, seed=11).W_query
    assert torch.equal(ours.weight, reference.weight)
    if bias:
        assert torch.equal(ours.bias, reference.bias)
    assert ours.weight.abs().max().item() <= 1 / math.sqrt(5)


# --- the steps against explicit torch ---------------------------------------------


def test_step_functions_match_explicit_torch() -> None:
    x = X[1]
    q, keys = x @ W.query, X @ W.key
    torch.testing.assert_close(project(x, W.query), q)
    torch.testing.assert_close(project(X, W.key), keys)
    torch.testing.assert_close(attention_score(q, keys[1]), torch.dot(q, keys[1]))
    assert attention_score(q, keys[1]).shape == ()
    queries = X @ W.query
    torch.testing.assert_close(query_key_scores(queries, keys), queries @ keys.T)
    torch.testing.assert_close(scale_scores(queries @ keys.T, 4), queries @ keys.T / 2)
    projections = project_inputs(X, W)
    assert isinstance(projections, Projections)
    for ours, theirs in zip(projections, (queries, keys, X @ W.value)):
        torch.testing.assert_close(ours, theirs)


def test_scale_scores_keeps_masked_scores() -> None:
    scaled = scale_scores(torch.tensor([4.0, float("-inf")]), key_dim=16)
    assert scaled[0].item() == 1.0
    assert torch.isneginf(scaled[1])


@pytest.mark.parametrize("scaled", [False, True])
def test_one_query_matches_explicit_torch(scaled: bool) -> None:
    q, keys, values = X[1] @ W.query, X @ W.key, X @ W.value
    scores = keys @ q / (2.0 if scaled else 1.0)
    weights = F.softmax(scores, dim=0)
    result = trainable_attention_for_query(X, 1, W, scaled=scaled)
    assert isinstance(result, AttentionResult)
    assert [tuple(t.shape) for t in result] == [(6,), (6,), (4,)]
    for ours, theirs in zip(result, (scores, weights, weights @ values)):
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("scaled", [False, True])
def test_all_queries_match_explicit_torch(scaled: bool) -> None:
    queries, keys, values = X @ W.query, X @ W.key, X @ W.value
    scores = queries @ keys.T / (2.0 if scaled else 1.0)
    weights = F.softmax(scores, dim=1)
    result = trainable_self_attention(X, W, scaled=scaled)
    assert [tuple(t.shape) for t in result] == [(6, 6), (6, 6), (6, 4)]
    for ours, theirs in zip(result, (scores, weights, weights @ values)):
        torch.testing.assert_close(ours, theirs)


def test_the_chapter_numbers() -> None:
    """The seed-123 results that docs/self-attention.md prints, to 4 decimals."""
    expected_row_1 = torch.tensor([0.1794, 0.1815, 0.1684, 0.1397, 0.0346, 0.2965])
    unscaled = trainable_self_attention(X, W, scaled=False)
    torch.testing.assert_close(unscaled.weights[1], expected_row_1, atol=5e-5, rtol=0)
    torch.testing.assert_close(unscaled.context[1], torch.tensor([-0.9952, -0.0975, 0.6367, -0.0535]), atol=5e-5, rtol=0)
    scaled = trainable_self_attention(X, W)
    torch.testing.assert_close(scaled.weights[1], torch.tensor([0.1792, 0.1802, 0.1736, 0.1581, 0.0787, 0.2303]), atol=5e-5, rtol=0)


def test_negative_query_index_counts_from_the_end() -> None:
    torch.testing.assert_close(
        trainable_attention_for_query(X, -5, W).context, trainable_attention_for_query(X, 1, W).context
    )


def test_scaling_flattens_the_weights_of_large_hidden_sizes() -> None:
    inputs = random_tensor(0, 8, 16)
    weights = init_projection_weights(16, 256, seed=0)
    unscaled = trainable_self_attention(inputs, weights, scaled=False).weights
    scaled = trainable_self_attention(inputs, weights).weights
    assert float(unscaled.max(dim=1).values.min()) > 0.99  # saturated: one key per query
    assert float(scaled.max(dim=1).values.mean()) < float(unscaled.max(dim=1).values.mean())


# --- the modules --------------------------------------------------------------------


def test_parameters_are_the_three_matrices_and_trainable() -> None:
    params = SelfAttentionParams(3, 4, seed=0)
    assert [(name, tuple(p.shape), p.requires_grad) for name, p in params.named_parameters()] == [
        ("W_query", (3, 4), True),
        ("W_key", (3, 4), True),
        ("W_value", (3, 4), True),
    ]
    linear = SelfAttentionLinear(3, 4, bias=True, seed=0)
    assert [(name, tuple(p.shape)) for name, p in linear.named_parameters()] == [
        ("W_query.weight", (4, 3)),
        ("W_query.bias", (4,)),
        ("W_key.weight", (4, 3)),
        ("W_key.bias", (4,)),
        ("W_value.weight", (4, 3)),
        ("W_value.bias", (4,)),
    ]
    assert sum(p.numel() for p in SelfAttentionLinear(3, 4, seed=0).parameters()) == 36


@pytest.mark.parametrize("module_type", MODULES)
def test_forward_returns_context_or_context_and_weights(module_type: type[nn.Module]) -> None:
    module = module_type(3, 4, seed=0)
    context = module(X)
    both = module(X, return_weights=True)
    assert isinstance(context, torch.Tensor) and context.shape == (6, 4)
    assert isinstance(both, tuple) and len(both) == 2
    torch.testing.assert_close(both[0], context)
    assert both[1].shape == (6, 6)
    torch.testing.assert_close(both[1].sum(dim=1), torch.ones(6))


@pytest.mark.parametrize("module_type", MODULES)
def test_forward_stores_nothing_on_the_module(module_type: type[nn.Module]) -> None:
    module = module_type(3, 4, seed=0)
    before = {name: value for name, value in vars(module).items() if not isinstance(value, dict)}
    dicts = {name: dict(value) for name, value in vars(module).items() if isinstance(value, dict)}
    state = {name: tensor.clone() for name, tensor in module.state_dict().items()}
    module(X, return_weights=True)
    module(X[:2])
    assert {name: value for name, value in vars(module).items() if not isinstance(value, dict)} == before
    assert {name: dict(value) for name, value in vars(module).items() if isinstance(value, dict)} == dicts
    assert module.state_dict().keys() == state.keys()
    assert all(torch.equal(module.state_dict()[name], tensor) for name, tensor in state.items())
    assert list(module.buffers()) == []


@pytest.mark.parametrize("scaled", [False, True])
def test_params_module_is_the_functional_form(scaled: bool) -> None:
    module = SelfAttentionParams(3, 4, seed=123, scaled=scaled)
    context, weights = module(X, return_weights=True)
    expected = trainable_self_attention(X, W, scaled=scaled)
    torch.testing.assert_close(context, expected.context)
    torch.testing.assert_close(weights, expected.weights)


@pytest.mark.parametrize("module_type", MODULES)
def test_projection_weights_are_a_detached_copy(module_type: type[nn.Module]) -> None:
    module = module_type(3, 4, seed=0)
    exported = module.projection_weights()
    assert all(not w.requires_grad and w.shape == (3, 4) for w in exported)
    exported.query.zero_()
    assert not torch.equal(module.projection_weights().query, exported.query)


def test_loading_into_a_biased_linear_module_zeroes_its_biases() -> None:
    linear = SelfAttentionLinear(3, 4, bias=True, seed=0)
    assert all(bool(layer.bias.ne(0).any()) for layer in (linear.W_query, linear.W_key, linear.W_value))
    linear.load_projection_weights(W)
    assert all(bool((layer.bias == 0).all()) for layer in (linear.W_query, linear.W_key, linear.W_value))
    torch.testing.assert_close(linear(X), SelfAttentionParams(3, 4, seed=123)(X))
    assert all(torch.equal(a, b) for a, b in zip(linear.projection_weights(), W))


def test_loading_casts_to_the_module_dtype() -> None:
    module = SelfAttentionParams(3, 4, seed=0, dtype=torch.float64)
    module.load_projection_weights(W)
    assert module.W_key.dtype == torch.float64
    torch.testing.assert_close(module.W_key, W.key.double())


@pytest.mark.parametrize("module_type", MODULES)
def test_one_gradient_step_changes_every_parameter_and_lowers_the_loss(module_type: type[nn.Module]) -> None:
    module = module_type(3, 4, seed=3)
    before = [p.detach().clone() for p in module.parameters()]
    loss = module(X).square().mean()
    loss.backward()
    assert all(p.grad is not None and bool(p.grad.ne(0).any()) for p in module.parameters())
    with torch.no_grad():
        for parameter in module.parameters():
            parameter -= 0.1 * parameter.grad
        new_loss = module(X).square().mean()
    assert all(not torch.equal(old, new) for old, new in zip(before, module.parameters()))
    assert new_loss.item() < loss.item()


def test_repr_shows_sizes_and_scaling() -> None:
    assert repr(SelfAttentionParams(3, 4, seed=0)) == "SelfAttentionParams(embed_dim=3, hidden_dim=4, scaled=True)"
    assert "embed_dim=3, hidden_dim=4, scaled=False" in repr(SelfAttentionLinear(3, 4, seed=0, scaled=False))


# --- bad input gets a clear error ---------------------------------------------------

PARAMS = SelfAttentionParams(3, 4, seed=0)
LINEAR = SelfAttentionLinear(3, 4, seed=0)
BIASED = SelfAttentionLinear(3, 4, bias=True, seed=0)
MISMATCHED_H = ProjectionWeights(W.query, torch.ones(3, 5), W.value)
INFINITE_KEY = W._replace(key=torch.full((3, 4), float("inf")))


@pytest.mark.parametrize(
    "case",
    [
        # seeds and generators
        Bad(lambda: init_projection_weights(3, 4), ValueError, "pass exactly one of seed (an int) and generator (a torch.Generator), got neither"),
        Bad(lambda: init_projection_weights(3, 4, seed=1, generator=torch.Generator()), ValueError, "got both"),
        Bad(lambda: SelfAttentionParams(3, 4), ValueError, "got neither"),
        Bad(lambda: SelfAttentionLinear(3, 4, seed=1, generator=torch.Generator()), ValueError, "got both"),
        Bad(lambda: init_projection_weights(3, 4, seed=1.5), TypeError, "seed must be an int, got float"),
        Bad(lambda: init_projection_weights(3, 4, seed=True), TypeError, "seed must be an int, got bool"),
        Bad(lambda: init_projection_weights(3, 4, generator=7), TypeError, "generator must be a torch.Generator, got int"),
        Bad(lambda: SelfAttentionParams(3, 4, generator="123"), TypeError, "generator must be a torch.Generator, got str"),
        # sizes, flags and dtypes of the constructors
        Bad(lambda: init_projection_weights(0, 4, seed=0), ValueError, "embed_dim must be a positive int, got 0"),
        Bad(lambda: init_projection_weights(3, -1, seed=0), ValueError, "hidden_dim must be a positive int, got -1"),
        Bad(lambda: init_projection_weights(3.0, 4, seed=0), TypeError, "embed_dim must be a positive int, got float"),
        Bad(lambda: SelfAttentionParams(3, True, seed=0), TypeError, "hidden_dim must be a positive int, got bool"),
        Bad(lambda: SelfAttentionLinear(3, 4, seed=0, bias=1), TypeError, "bias must be a bool (True or False), got int"),
        Bad(lambda: SelfAttentionParams(3, 4, seed=0, scaled="yes"), TypeError, "scaled must be a bool (True or False), got str"),
        Bad(lambda: init_projection_weights(3, 4, seed=0, dtype=torch.int64), TypeError, "dtype must be a floating-point torch.dtype, got torch.int64"),
        Bad(lambda: SelfAttentionLinear(3, 4, seed=0, dtype="float32"), TypeError, "dtype must be a floating-point torch.dtype, got 'float32'"),
        # inputs whose embedding size does not match the weights
        Bad(lambda: trainable_self_attention(torch.ones(6, 4), W), ValueError, "inputs and projection_weights must have the same embedding size E, got 4 and 3"),
        Bad(lambda: trainable_attention_for_query(torch.ones(6, 2), 0, W), ValueError, "same embedding size E, got 2 and 3"),
        Bad(lambda: project(torch.ones(5), W.query), ValueError, "inputs and weight must have the same embedding size E, got 5 and 3"),
        Bad(lambda: PARAMS(torch.ones(6, 4)), ValueError, "inputs and the module must have the same embedding size E, got 4 and 3"),
        Bad(lambda: LINEAR(torch.ones(6, 2)), ValueError, "inputs and the module must have the same embedding size E, got 2 and 3"),
        # mismatched hidden (and embedding) sizes
        Bad(lambda: trainable_self_attention(X, MISMATCHED_H), ValueError, "projection_weights.query and projection_weights.key must have the same hidden size H, got 4 and 5"),
        Bad(
            lambda: project_inputs(X, ProjectionWeights(W.query, W.key, torch.ones(2, 4))),
            ValueError,
            "projection_weights.query and projection_weights.value must have the same embedding size E, got 3 and 2",
        ),
        Bad(lambda: attention_score(torch.ones(4), torch.ones(5)), ValueError, "query and key must have the same hidden size H, got 4 and 5"),
        Bad(lambda: query_key_scores(torch.ones(6, 4), torch.ones(6, 3)), ValueError, "queries and keys must have the same hidden size H, got 4 and 3"),
        Bad(lambda: PARAMS.load_projection_weights(init_projection_weights(3, 5, seed=0)), ValueError, "projection_weights must have shape (E, H) = (3, 4) to match the module, got (3, 5)"),
        Bad(lambda: LINEAR.load_projection_weights(init_projection_weights(2, 4, seed=0)), ValueError, "got (2, 4)"),
        # wrong ranks
        Bad(lambda: trainable_self_attention(X[0], W), ValueError, "inputs must have shape (L, E) (2-D), got shape (3,) (1-D)"),
        Bad(lambda: PARAMS(X.unsqueeze(0)), ValueError, "inputs must have shape (L, E) (2-D), got shape (1, 6, 3) (3-D)"),
        Bad(lambda: LINEAR(X[0]), ValueError, "inputs must have shape (L, E) (2-D), got shape (3,) (1-D)"),
        Bad(lambda: project(X.unsqueeze(0), W.query), ValueError, "inputs must have shape (E,) or (L, E) (1-D or 2-D), got shape (1, 6, 3) (3-D)"),
        Bad(lambda: project(torch.tensor(1.0), W.query), ValueError, "got shape () (0-D)"),
        Bad(lambda: project(X, W.query[0]), ValueError, "weight must have shape (E, H) (2-D), got shape (4,) (1-D)"),
        Bad(lambda: trainable_self_attention(X, ProjectionWeights(W.query[0], W.key, W.value)), ValueError, "projection_weights.query must have shape (E, H) (2-D), got shape (4,) (1-D)"),
        Bad(lambda: attention_score(torch.ones(2, 4), torch.ones(4)), ValueError, "query must have shape (H,) (1-D), got shape (2, 4) (2-D)"),
        Bad(lambda: query_key_scores(torch.ones(4), torch.ones(6, 4)), ValueError, "queries must have shape (L, H) (2-D), got shape (4,) (1-D)"),
        # wrong dtypes
        Bad(lambda: trainable_self_attention(X.long(), W), TypeError, "inputs must be a floating-point tensor (for example torch.float32), got dtype torch.int64"),
        Bad(lambda: trainable_self_attention(X.double(), W), TypeError, "inputs and projection_weights must have the same dtype, got torch.float64 and torch.float32"),
        Bad(lambda: PARAMS(X.double()), TypeError, "inputs and the module's parameters must have the same dtype, got torch.float64 and torch.float32"),
        Bad(lambda: LINEAR(X > 0.5), TypeError, "inputs must be a floating-point tensor (for example torch.float32), got dtype torch.bool"),
        Bad(lambda: project(X, W.query.double()), TypeError, "inputs and weight must have the same dtype, got torch.float32 and torch.float64"),
        Bad(
            lambda: project_inputs(X, ProjectionWeights(W.query, W.key.double(), W.value)),
            TypeError,
            "projection_weights.query and projection_weights.key must have the same dtype, got torch.float32 and torch.float64",
        ),
        Bad(lambda: scale_scores(torch.tensor([1, 2]), 4), TypeError, "scores must be a floating-point tensor"),
        # not tensors, or not a triple of them
        Bad(lambda: trainable_self_attention(X.tolist(), W), TypeError, "inputs must be a torch.Tensor, got list"),
        Bad(lambda: trainable_self_attention(X, W.query), TypeError, "projection_weights must be a ProjectionWeights(query, key, value), got Tensor"),
        Bad(lambda: trainable_self_attention(X, (W.query, W.key)), TypeError, "got tuple"),
        Bad(lambda: project_inputs(X, (W.query, W.key, [[1.0]])), TypeError, "projection_weights.value must be a torch.Tensor, got list"),
        # other arguments
        Bad(lambda: trainable_attention_for_query(X, 6, W), IndexError, "query_index must be in [-6, 5] for 6 tokens, got 6"),
        Bad(lambda: trainable_self_attention(X, W, scaled=1), TypeError, "scaled must be a bool (True or False), got int"),
        Bad(lambda: trainable_attention_for_query(X, 0, W, scaled=None), TypeError, "scaled must be a bool (True or False), got NoneType"),
        Bad(lambda: PARAMS(X, return_weights="yes"), TypeError, "return_weights must be a bool (True or False), got str"),
        Bad(lambda: scale_scores(torch.ones(3), 0), ValueError, "key_dim must be a positive int, got 0"),
        Bad(lambda: scale_scores(torch.ones(3), 4.0), TypeError, "key_dim must be a positive int, got float"),
        # empty, NaN or inf
        Bad(lambda: trainable_self_attention(torch.empty(0, 3), W), ValueError, "inputs must hold at least one token with at least one feature, got an empty tensor of shape (0, 3)"),
        Bad(lambda: PARAMS(torch.tensor([[float("nan"), 1.0, 2.0]])), ValueError, "inputs must hold finite values, found 1 NaN"),
        Bad(lambda: trainable_self_attention(X, INFINITE_KEY), ValueError, "projection_weights.key must hold finite values, found 12 +inf"),
        Bad(lambda: scale_scores(torch.tensor([float("nan")]), 4), ValueError, "scores must hold finite values or -inf, found 1 NaN"),
        # a bias that bias-free projection weights cannot hold
        Bad(lambda: BIASED.projection_weights(), ValueError, "W_query.bias must be zero to export projection weights without biases, got 4 nonzero entries"),
    ],
)
def test_bad_input_gets_a_clear_error(case: Bad) -> None:
    case.check()


# --- Section 2.7: learning the weights ----------------------------------------------------------------


def test_focus_loss_is_minus_log_of_the_attention_weight() -> None:
    for scaled in (False, True):
        weights = trainable_self_attention(X, W, scaled=scaled).weights  # (L, L)
        loss = attention_lab.attention_focus_loss(X, W, 1, 4, scaled=scaled)
        assert loss.shape == ()
        assert torch.allclose(loss, -torch.log(weights[1, 4]))
    assert torch.allclose(attention_lab.attention_focus_loss(X, W, -5, -2, scaled=False),
                          attention_lab.attention_focus_loss(X, W, 1, 4, scaled=False))


def test_training_matches_a_plain_sgd_loop_and_leaves_its_arguments_alone() -> None:
    before = [matrix.clone() for matrix in W]
    run = attention_lab.train_attention_towards(X, W, 1, 4, steps=10, learning_rate=0.5, scaled=False)
    assert all(torch.equal(old, new) for old, new in zip(before, W))
    wq, wk = (matrix.clone().requires_grad_() for matrix in (W.query, W.key))
    optimizer = torch.optim.SGD([wq, wk], lr=0.5)
    for _ in range(10):
        optimizer.zero_grad()
        (-torch.log(F.softmax((X[1] @ wq) @ (X @ wk).T, dim=0)[4])).backward()
        optimizer.step()
    assert torch.allclose(run.projection_weights.query, wq, atol=1e-5)
    assert torch.allclose(run.projection_weights.key, wk, atol=1e-5)
    assert torch.equal(run.projection_weights.value, W.value)
    assert run.losses.shape == (10,) and run.target_weights.shape == (11,)
    assert bool((run.losses[1:] < run.losses[:-1]).all()), "every step lowers the loss"
    assert torch.allclose(run.losses, -torch.log(run.target_weights[:-1]))
    assert run.target_weights[-1] > 0.9
    assert not run.projection_weights.query.requires_grad


def test_scaled_training_also_moves_attention_towards_the_target() -> None:
    run = attention_lab.train_attention_towards(X, W, 0, 3, steps=5)
    assert run.target_weights[-1] > run.target_weights[0]
    assert torch.allclose(trainable_self_attention(X, run.projection_weights).weights[0, 3], run.target_weights[-1])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: attention_lab.train_attention_towards(X, W, 1, 4, steps=0), ValueError, "steps must be a positive int, got 0"),
        (lambda: attention_lab.train_attention_towards(X, W, 1, 4, steps=2.0), TypeError, "steps must be a positive int, got float"),
        (lambda: attention_lab.train_attention_towards(X, W, 1, 4, learning_rate=-1.0), ValueError, "learning_rate must be a positive, finite float, got -1.0"),
        (lambda: attention_lab.train_attention_towards(X, W, 1, 4, learning_rate=float("nan")), ValueError, "learning_rate must be a positive, finite float, got nan"),
        (lambda: attention_lab.train_attention_towards(X, W, 1, 4, learning_rate="0.5"), TypeError, "learning_rate must be a positive float, got str"),
        (lambda: attention_lab.train_attention_towards(X, W, 1, 6), IndexError, "key_index must be in [-6, 5] for 6 tokens, got 6"),
        (lambda: attention_lab.attention_focus_loss(X, W, 1.0, 4), TypeError, "query_index must be an int, got float"),
        (lambda: attention_lab.attention_focus_loss(X[:, :2], W, 1, 4), ValueError, "embedding size E"),
        (lambda: attention_lab.attention_focus_loss(X, (W.query, W.key), 1, 4), TypeError, "projection_weights must be a ProjectionWeights"),
        (lambda: attention_lab.attention_focus_loss(X, W, 1, 4, scaled=1), TypeError, "scaled must be a bool"),
    ],
)
def test_training_errors_name_the_argument(call, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=re.escape(message)):
        call()
# --- check once, at the boundary ------------------------------------------------------


@pytest.mark.parametrize("scaled", [False, True])
def test_trainable_self_attention_checks_each_argument_once_and_its_values_through_the_result(
    monkeypatch: pytest.MonkeyPatch, scaled: bool
) -> None:
    inputs = random_tensor(0, 5, 3)
    watched = {"inputs": inputs, **{name: matrix for name, matrix in zip(ProjectionWeights._fields, W)}}
    calls: dict[str, int] = {}
    counts = record_checks(monkeypatch, watched, calls)
    trainable_self_attention(inputs, W, scaled=scaled)
    assert counts[("is_usual", "query")] == counts[("is_usual", "inputs")] == 1  # type, dtype, shape: once
    # key and value: compared with query (a tensor of its shape and dtype), in no check function
    assert not any(name in ("key", "value") for _, name in counts)
    for name in watched:
        assert ("finite_flag", name) not in counts, name  # no reduction over it
    # the two reductions of the happy path: the scores and the context (values checked through them)
    assert calls["finite_flag"] == 2
    # W_q's dtype is compared with the inputs' once; nothing re-validates an argument
    assert {key: count for key, count in counts.items() if count != 1} == {}


@pytest.mark.parametrize("module", [SelfAttentionParams(3, 4, seed=0), SelfAttentionLinear(3, 4, bias=True, seed=0)], ids=["params", "linear"])
@pytest.mark.parametrize("return_weights", [False, True])
def test_forward_validates_its_inputs_exactly_once(monkeypatch: pytest.MonkeyPatch, module: nn.Module, return_weights: bool) -> None:
    inputs = random_tensor(1, 4, 3)
    counts = record_checks(monkeypatch, {"inputs": inputs})
    module(inputs, return_weights=return_weights)
    assert counts[("is_usual", "inputs")] == 1
    assert counts[("require_finite", "inputs")] == 1
    assert counts[("finite_flag", "inputs")] == 1
    assert all(count == 1 for count in counts.values()), counts


def test_the_one_query_form_validates_its_inputs_exactly_once(monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = random_tensor(2, 4, 3)
    counts = record_checks(monkeypatch, {"inputs": inputs})
    trainable_attention_for_query(inputs, 1, W)
    assert counts[("require_finite", "inputs")] == 1
    assert all(count == 1 for count in counts.values()), counts


def test_public_steps_still_check_when_called_one_by_one() -> None:
    with pytest.raises(ValueError, match="queries must hold finite values, found 1 NaN"):
        query_key_scores(torch.tensor([[float("nan"), 1.0]]), torch.ones(1, 2))
    with pytest.raises(ValueError, match="scores must hold finite values or -inf, found 1 \\+inf"):
        scale_scores(torch.tensor([float("inf")]), 4)


# --- exact at the edges --------------------------------------------------------------


@pytest.mark.parametrize("seed", [-(2**63), -1, 0, 2**63, 2**64 - 1])
def test_every_seed_torch_accepts_is_accepted(seed: int) -> None:
    expected = torch.randn(3, 4, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(init_projection_weights(3, 4, seed=seed).query, expected)
    assert torch.equal(SelfAttentionParams(3, 4, seed=seed).W_query, expected)
    SelfAttentionLinear(3, 4, seed=seed)


@pytest.mark.parametrize(
    ("seed", "shown"), [(2**64, "18446744073709551616"), (-(2**63) - 1, "-9223372036854775809"), (10**400, "an int of 401 digits (1000...)")]
)
def test_a_seed_out_of_range_is_reported_as_such(seed: int, shown: str) -> None:
    message = f"seed must be an int in [-2**63, 2**64 - 1] (what torch.Generator accepts), got {shown}"
    for make in (init_projection_weights, SelfAttentionParams, SelfAttentionLinear):
        with pytest.raises(ValueError, match=re.escape(message)):
            make(3, 4, seed=seed)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_modules_and_functions_run(dtype: torch.dtype) -> None:
    inputs = X.to(dtype)
    weights = init_projection_weights(3, 4, seed=123, dtype=dtype)
    result = trainable_self_attention(inputs, weights)
    assert result.context.dtype == dtype
    torch.testing.assert_close(result.context.float(), trainable_self_attention(X, ProjectionWeights(*(w.float() for w in weights))).context, atol=3e-2, rtol=3e-2)
    for module in (SelfAttentionParams(3, 4, seed=0, dtype=dtype), SelfAttentionLinear(3, 4, seed=0, bias=True, dtype=dtype)):
        assert module(inputs).dtype == dtype


def test_modules_and_functions_run_on_the_meta_device_without_value_checks() -> None:
    inputs = torch.empty(7, 3, device="meta")
    weights = ProjectionWeights(*(torch.empty(3, 4, device="meta") for _ in range(3)))
    result = trainable_self_attention(inputs, weights)
    assert [(t.device.type, tuple(t.shape)) for t in result] == [("meta", (7, 7)), ("meta", (7, 7)), ("meta", (7, 4))]
    for module in (SelfAttentionParams(3, 4, seed=0), SelfAttentionLinear(3, 4, seed=0)):
        assert module.to("meta")(inputs).shape == (7, 4)


def test_an_overflow_names_the_arguments_it_came_from() -> None:
    with pytest.raises(ValueError, match=r"^inputs and projection_weights are too large: the scores Q K\^T overflowed to inf in torch.float32 .* got inputs up to 8.9e\+29 and projection_weights up to 1.42 in magnitude"):
        trainable_self_attention(X * 1e30, W)
    with pytest.raises(ValueError, match=r"^inputs and projection_weights are too large: the projections \(queries, keys, values\) overflowed"):
        trainable_self_attention(X * 1e38, W._replace(value=W.value * 100))
    with pytest.raises(ValueError, match=r"^inputs and projection_weights are too large"):
        trainable_attention_for_query(X * 1e30, 2, W)
    for module in (PARAMS, LINEAR):
        with pytest.raises(ValueError, match=r"^inputs and the module's parameters are too large: the scores Q K\^T overflowed"):
            module(X * 1e30)
    with pytest.raises(ValueError, match=r"^inputs and projection_weights are too large: the projections overflowed"):
        project_inputs(X * 1e38, W._replace(value=W.value * 100))
    with pytest.raises(ValueError, match=r"^inputs and weight are too large: the projection inputs @ weight overflowed"):
        project(X * 1e38, W.value * 100)
    with pytest.raises(ValueError, match=r"^queries and keys are too large: the scores queries @ keys.T overflowed"):
        query_key_scores(torch.full((2, 2), 1e20), torch.full((2, 2), 1e20))
    with pytest.raises(ValueError, match=r"^query and key are too large: the score query @ key overflowed"):
        attention_score(torch.full((2,), 1e20), torch.full((2,), -1e20))


def test_scores_that_overflow_to_minus_inf_only_are_caught() -> None:
    """Every score of a row at -inf: the row would silently attend to nothing; it is an overflow."""
    inputs = torch.full((2, 1), 1e20)
    weights = ProjectionWeights(torch.ones(1, 1), -torch.ones(1, 1), torch.ones(1, 1))
    with pytest.raises(ValueError, match=r"the scores Q K\^T overflowed"):
        trainable_self_attention(inputs, weights, scaled=False)


def test_scale_scores_with_a_key_dim_no_tensor_can_have() -> None:
    with pytest.raises(ValueError, match=re.escape("key_dim must be a positive int of at most 2**63 - 1 (the largest tensor size), got an int of 401 digits (1000...)")):
        scale_scores(torch.ones(2), 10**400)
    torch.testing.assert_close(scale_scores(torch.tensor([2.0**40]), 2**62), torch.tensor([2.0**40 / 2**31]))


def test_query_key_scores_needs_one_token_count() -> None:
    with pytest.raises(ValueError, match=re.escape("queries and keys must have the same number of tokens L, got 4 and 6")):
        query_key_scores(torch.ones(4, 2), torch.ones(6, 2))
