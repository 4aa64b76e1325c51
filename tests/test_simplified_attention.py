"""Chapter 1 (attention_lab.simplified_attention): values, properties and errors."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

import attention_lab.simplified_attention as chapter_1
from attention_lab import (
    TOKENS,
    AttentionResult,
    attention_score_matrix,
    attention_scores_for_query,
    context_vector,
    context_vectors,
    example_inputs,
    naive_softmax,
    simplified_attention_for_query,
    simplified_self_attention,
    softmax,
)

from .common import Bad, random_tensor
from .conftest import record_checks


# --- the example data ---------------------------------------------------------


def test_example_inputs_match_tokens_and_are_fresh_copies() -> None:
    inputs = example_inputs()
    assert inputs.shape == (len(TOKENS), 3)
    assert inputs.dtype == torch.float32
    inputs[0, 0] = 99.0
    assert example_inputs()[0, 0].item() == pytest.approx(0.43)


def test_example_inputs_dtype() -> None:
    assert example_inputs(torch.float64).dtype == torch.float64
    with pytest.raises(TypeError, match=r"dtype must be a floating-point torch.dtype, got torch.int64"):
        example_inputs(torch.int64)


# --- values against torch -------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("tokens", "embed"), [(1, 1), (2, 5), (7, 3), (16, 8)])
def test_matrix_form_matches_explicit_torch(seed: int, tokens: int, embed: int) -> None:
    inputs = random_tensor(seed, tokens, embed)
    result = simplified_self_attention(inputs)
    expected_weights = F.softmax(inputs @ inputs.T, dim=1)
    torch.testing.assert_close(result.scores, inputs @ inputs.T)
    torch.testing.assert_close(result.weights, expected_weights)
    torch.testing.assert_close(result.context, expected_weights @ inputs)


@pytest.mark.parametrize("seed", range(3))
def test_each_row_of_the_matrix_form_is_the_single_query_form(seed: int) -> None:
    inputs = random_tensor(seed, 9, 4, dtype=torch.float64)
    all_queries = simplified_self_attention(inputs)
    for index in range(inputs.shape[0]):
        one = simplified_attention_for_query(inputs, index)
        for matrix, row in zip(all_queries, one):
            torch.testing.assert_close(matrix[index], row)


def test_negative_query_index_counts_from_the_end() -> None:
    inputs = example_inputs()
    torch.testing.assert_close(
        simplified_attention_for_query(inputs, -4).context,
        simplified_attention_for_query(inputs, 2).context,
    )


def test_result_is_a_named_tuple_of_scores_weights_context() -> None:
    result = simplified_attention_for_query(example_inputs(), 2)
    assert isinstance(result, AttentionResult)
    assert result._fields == ("scores", "weights", "context")
    assert [tuple(t.shape) for t in result] == [(6,), (6,), (3,)]


@pytest.mark.parametrize("seed", range(5))
def test_weights_are_positive_and_rows_sum_to_one(seed: int) -> None:
    weights = simplified_self_attention(random_tensor(seed, 12, 6)).weights
    assert bool((weights > 0).all())
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(12))


def test_context_vectors_lie_inside_the_inputs_bounding_box() -> None:
    inputs = example_inputs()
    context = simplified_self_attention(inputs).context
    assert bool((context >= inputs.min(dim=0).values).all())
    assert bool((context <= inputs.max(dim=0).values).all())


def test_context_vector_and_context_vectors() -> None:
    weights = torch.tensor([0.2, 0.8])
    values = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 2.0]])
    torch.testing.assert_close(context_vector(weights, values), torch.tensor([0.2, 0.8, 2.0]))
    torch.testing.assert_close(
        context_vectors(torch.stack([weights, weights.flip(0)]), values),
        torch.tensor([[0.2, 0.8, 2.0], [0.8, 0.2, 2.0]]),
    )


# --- softmax ------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_matches_torch(dim: int) -> None:
    scores = random_tensor(0, 5, 7) * 10
    torch.testing.assert_close(softmax(scores, dim=dim), torch.softmax(scores, dim=dim))
    torch.testing.assert_close(naive_softmax(scores, dim=dim), torch.softmax(scores, dim=dim))


def test_stable_softmax_survives_scores_of_1000_and_naive_overflows() -> None:
    scores = torch.tensor([1000.0, 999.0, 998.0])
    stable = softmax(scores)
    assert bool(torch.isfinite(stable).all())
    torch.testing.assert_close(stable, torch.softmax(scores, dim=0))
    assert bool(torch.isnan(naive_softmax(scores)).all())


def test_softmax_accepts_masked_scores() -> None:
    weights = softmax(torch.tensor([0.0, float("-inf"), 0.0]))
    torch.testing.assert_close(weights, torch.tensor([0.5, 0.0, 0.5]))


def test_softmax_is_shift_invariant() -> None:
    scores = torch.tensor([0.3, -1.2, 2.5])
    torch.testing.assert_close(softmax(scores), softmax(scores + 40.0))


# --- bad input gets a clear error -----------------------------------------------

X = example_inputs()


@pytest.mark.parametrize(
    "case",
    [
        # something that is not a tensor
        Bad(lambda: simplified_self_attention([[1.0, 2.0]]), TypeError, "inputs must be a torch.Tensor, got list"),
        Bad(lambda: attention_scores_for_query((1.0, 2.0, 3.0), X), TypeError, "query must be a torch.Tensor, got tuple"),
        Bad(lambda: softmax(0.5), TypeError, "scores must be a torch.Tensor, got float"),
        # integer and bool tensors
        Bad(
            lambda: simplified_self_attention(X.long()),
            TypeError,
            "inputs must be a floating-point tensor (for example torch.float32), got dtype torch.int64",
        ),
        Bad(lambda: attention_score_matrix(X > 0.5), TypeError, "got dtype torch.bool"),
        Bad(lambda: softmax(torch.tensor([1, 2])), TypeError, "scores must be a floating-point tensor"),
        # wrong rank
        Bad(lambda: simplified_self_attention(X[0]), ValueError, "inputs must have shape (L, E) (2-D), got shape (3,) (1-D)"),
        Bad(
            lambda: simplified_self_attention(X.unsqueeze(0)),
            ValueError,
            "inputs must have shape (L, E) (2-D), got shape (1, 6, 3) (3-D)",
        ),
        Bad(lambda: attention_scores_for_query(X[:2], X), ValueError, "query must have shape (E,) (1-D), got shape (2, 3) (2-D)"),
        Bad(lambda: softmax(torch.tensor(1.0)), ValueError, "scores must have at least 1 dimension, got a 0-D tensor"),
        Bad(lambda: context_vector(X, X), ValueError, "weights must have shape (L,) (1-D), got shape (6, 3) (2-D)"),
        # embedding sizes and token counts that do not match
        Bad(
            lambda: attention_scores_for_query(torch.ones(4), X),
            ValueError,
            "query and inputs must have the same embedding size E, got 4 and 3",
        ),
        Bad(
            lambda: context_vector(torch.ones(5) / 5, X),
            ValueError,
            "weights and values must have the same number of tokens L, got 5 and 6",
        ),
        Bad(
            lambda: context_vectors(torch.ones(5, 5) / 5, X),
            ValueError,
            "weights and values must have the same number of tokens L, got 5 and 6",
        ),
        Bad(
            lambda: context_vectors(torch.full((4, 6), 1 / 6), X),
            ValueError,
            "weights must be square, shape (L, L) with one row and one column per token, got shape (4, 6)",
        ),
        # mixed dtypes
        Bad(
            lambda: attention_scores_for_query(X[0].double(), X),
            TypeError,
            "query and inputs must have the same dtype, got torch.float64 and torch.float32",
        ),
        # an empty sequence
        Bad(
            lambda: simplified_self_attention(torch.empty(0, 3)),
            ValueError,
            "inputs must hold at least one token with at least one feature, got an empty tensor of shape (0, 3)",
        ),
        Bad(lambda: softmax(torch.empty(0)), ValueError, "got an empty tensor of shape (0,)"),
        # a query index out of range, or not an int
        Bad(lambda: simplified_attention_for_query(X, 6), IndexError, "query_index must be in [-6, 5] for 6 tokens, got 6"),
        Bad(lambda: simplified_attention_for_query(X, -7), IndexError, "got -7"),
        Bad(lambda: simplified_attention_for_query(X, 2.0), TypeError, "query_index must be an int, got float"),
        Bad(lambda: simplified_attention_for_query(X, True), TypeError, "query_index must be an int, got bool"),
        # NaN or inf
        Bad(
            lambda: simplified_self_attention(torch.tensor([[float("nan"), 1.0], [2.0, 3.0]])),
            ValueError,
            "inputs must hold finite values, found 1 NaN",
        ),
        Bad(
            lambda: attention_score_matrix(torch.tensor([[float("inf"), float("-inf")]])),
            ValueError,
            "inputs must hold finite values, found 1 +inf, 1 -inf",
        ),
        Bad(
            lambda: softmax(torch.tensor([1.0, float("nan")])),
            ValueError,
            "scores must hold finite values or -inf, found 1 NaN",
        ),
        Bad(lambda: softmax(torch.tensor([1.0, float("inf")])), ValueError, "found 1 +inf"),
        # a softmax dim out of range
        Bad(lambda: softmax(torch.ones(3), dim=1), ValueError, "dim must be an int in [-1, 0] for 1-D scores, got 1"),
        Bad(lambda: softmax(torch.ones(3), dim=1.0), TypeError, "dim must be an int in [-1, 0] for 1-D scores, got float"),
    ],
)
def test_bad_input_gets_a_clear_error(case: Bad) -> None:
    case.check()


# --- a slice with nothing to attend to, and the fused fast path ----------------------

NEG_INF = float("-inf")


def test_softmax_gives_zeros_for_an_all_minus_inf_slice_and_naive_softmax_shows_nan() -> None:
    scores = torch.tensor([[0.0, NEG_INF, 0.0], [NEG_INF, NEG_INF, NEG_INF]])
    torch.testing.assert_close(softmax(scores), torch.tensor([[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]))
    torch.testing.assert_close(softmax(scores.T, dim=0), torch.tensor([[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]).T)
    naive = naive_softmax(scores)
    torch.testing.assert_close(naive[0], torch.tensor([0.5, 0.0, 0.5]))
    assert bool(torch.isnan(naive[1]).all())
    assert bool(torch.isnan(torch.softmax(scores, dim=-1)[1]).all())  # what the zeros replace


def test_softmax_docstring_says_what_an_all_minus_inf_slice_gives() -> None:
    assert "entirely `-inf`" in softmax.__doc__ and "zeros" in softmax.__doc__


def _scores_with_masked_entries(seed: int, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(shape, generator=generator, dtype=dtype) * 8
    masked = torch.rand(shape, generator=generator) < 0.3
    scores = scores.masked_fill(masked, NEG_INF)
    scores[..., 0, :] = NEG_INF  # one slice along the last dim entirely -inf
    return scores


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("shape", "dim"), [((5, 7), -1), ((5, 7), 0), ((2, 3, 6, 6), -1), ((1, 1), -1)])
def test_the_fused_softmax_kernel_agrees_with_the_taught_one(
    seed: int, dtype: torch.dtype, shape: tuple[int, ...], dim: int
) -> None:
    scores = _scores_with_masked_entries(seed, shape, dtype)
    taught = chapter_1._stable_softmax(scores, dim)
    fused = chapter_1._softmax_fused(scores, dim)
    torch.testing.assert_close(fused, taught)
    torch.testing.assert_close(softmax(scores, dim=dim), taught)
    sums = taught.sum(dim=dim)
    empty = torch.isneginf(scores).all(dim=dim)
    torch.testing.assert_close(sums[~empty], torch.ones_like(sums[~empty]))
    assert bool((sums[empty] == 0).all())
    finite = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 30
    torch.testing.assert_close(chapter_1._softmax_fused(finite, dim, empty_slices=False), chapter_1._stable_softmax(finite, dim))


@pytest.mark.parametrize("seed", range(3))
def test_the_attend_kernel_matches_sdpa_with_batches(seed: int) -> None:
    """The kernel of chapters 1 and 2: any leading dims, scaled or not (chapter 3's adds masks)."""
    generator = torch.Generator().manual_seed(seed)
    queries, keys, values = (torch.randn(2, 3, 5, 4, generator=generator, dtype=torch.float64) for _ in range(3))
    scaled = chapter_1._attend(queries, keys, values, scaled=True)
    torch.testing.assert_close(scaled.context, F.scaled_dot_product_attention(queries, keys, values))
    unscaled = chapter_1._attend(queries, keys, values, scaled=False)
    torch.testing.assert_close(unscaled.context, F.scaled_dot_product_attention(queries, keys, values, scale=1.0))


# --- overflow inside the computation is reported against the argument ---------------


def test_an_overflow_of_the_scores_names_inputs() -> None:
    message = (
        "inputs is too large: the scores Q K^T overflowed to inf in torch.float32 (largest finite value 3.403e+38); "
        "expected values small enough for every product and sum to fit, got inputs up to 1e+20 in magnitude; "
        "scale them down or use torch.float64"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        simplified_self_attention(torch.full((2, 2), 1e20))
    with pytest.raises(ValueError, match=r"^inputs is too large: the scores Q K\^T overflowed"):
        simplified_attention_for_query(torch.full((2, 2), 1e20), 0)
    with pytest.raises(ValueError, match=r"^inputs is too large: the scores inputs @ inputs.T overflowed"):
        attention_score_matrix(torch.full((2, 2), 1e20))
    with pytest.raises(ValueError, match=r"^query and inputs are too large: the scores inputs @ query overflowed"):
        attention_scores_for_query(torch.full((2,), 1e20), torch.full((2, 2), 1e20))
    with pytest.raises(ValueError, match=r"^weights and values are too large: the context vectors weights @ values"):
        context_vectors(torch.full((2, 2), 1e20), torch.full((2, 2), 1e20))
    with pytest.raises(ValueError, match=r"^weights and values are too large: the context vector weights @ values"):
        context_vector(torch.full((2,), 1e20), torch.full((2, 2), 1e20))
    with pytest.raises(ValueError, match=r"overflowed to inf in torch.float64 .*; scale them down$"):
        simplified_self_attention(torch.full((2, 2), 1e200, dtype=torch.float64))


def test_large_values_that_do_not_overflow_are_accepted() -> None:
    """The cheap bound H * max|q| * max|k| is exceeded here, the exact check finds nothing wrong."""
    inputs = torch.tensor([[1e19, 0.0], [0.0, 1e19]])
    result = simplified_self_attention(inputs)
    torch.testing.assert_close(result.weights, torch.eye(2))
    torch.testing.assert_close(result.context, inputs)


def test_finite_scores_whose_sum_overflows_are_accepted() -> None:
    """At few tokens the check first sums the scores and the context; two finite scores of
    1.96e38 sum past float32's range, which must send it to the exact check, not to an error."""
    inputs = torch.tensor([[1.4e19, 0.0], [0.0, 1.4e19]])
    assert torch.isinf((inputs @ inputs.T).sum())
    result = simplified_self_attention(inputs)
    assert torch.isfinite(result.scores).all()
    torch.testing.assert_close(result.weights, torch.eye(2))


# --- check once, at the boundary ----------------------------------------------------


def test_simplified_self_attention_checks_its_inputs_once_and_their_values_through_the_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = example_inputs()
    calls: dict[str, int] = {}
    counts = record_checks(monkeypatch, {"inputs": inputs}, calls)
    result = simplified_self_attention(inputs)
    assert counts[("is_usual", "inputs")] == 1  # type, dtype and shape: once
    assert ("finite_flag", "inputs") not in counts and ("require_finite", "inputs") not in counts  # no reduction over it
    assert all(count == 1 for count in counts.values()), counts
    assert calls["finite_flag"] == 1  # the scores: the happy path's one reduction (they bound the context)
    assert result.context.isfinite().all()


def test_checks_on_the_meta_device_skip_values() -> None:
    result = simplified_self_attention(torch.empty(5, 3, device="meta"))
    assert [tuple(t.shape) for t in result] == [(5, 5), (5, 5), (5, 3)]
    assert softmax(torch.empty(4, device="meta")).device.type == "meta"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_every_supported_dtype_runs(dtype: torch.dtype) -> None:
    result = simplified_self_attention(example_inputs(dtype))
    assert result.context.dtype == dtype
    reference = simplified_self_attention(example_inputs())
    torch.testing.assert_close(result.context.float(), reference.context, atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("dtype", [torch.float8_e4m3fn, torch.float8_e5m2])
def test_float8_is_rejected_with_a_clear_error(dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match=re.escape(f"inputs must have dtype torch.float16, torch.bfloat16, torch.float32 or torch.float64 (the dtypes torch computes attention in on the CPU), got dtype {dtype}")):
        simplified_self_attention(example_inputs().to(dtype))
    with pytest.raises(TypeError, match=re.escape(f"dtype must be torch.float16, torch.bfloat16, torch.float32 or torch.float64 (the dtypes torch computes attention in on the CPU), got {dtype}")):
        example_inputs(dtype)
