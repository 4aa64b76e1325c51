"""Chapter 3 (attention_lab.causal_attention): masks, polarity, empty rows, dropout, module, errors.

Equivalence with PyTorch over random shapes, batch sizes, seeds and dtypes, and the
property tests (causality, agreement of the two masking methods), are in
`test_causal_attention_properties.py`.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import attention_lab.causal_attention as chapter_3
import attention_lab.self_attention as chapter_2
import attention_lab.simplified_attention as chapter_1
from attention_lab import (
    AttentionResult,
    CausalSelfAttention,
    Projections,
    SelfAttentionParams,
    attention_dropout,
    causal_mask,
    causal_padding_mask,
    causal_self_attention,
    init_projection_weights,
    mask_scores,
    masked_attention,
    masked_softmax,
    naive_softmax,
    padding_mask,
    renormalize_masked_weights,
)

from .common import Bad, W, X

Q, K, V = X @ W.query, X @ W.key, X @ W.value
SCORES = Q @ K.T / 2.0  # (L, L), scaled by 1/sqrt(H)
NEG_INF = float("-inf")


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- earlier chapters are reused, not redefined --------------------------------------------------


def test_earlier_chapters_are_reused_not_redefined() -> None:
    assert chapter_3._score_matrix is chapter_1._score_matrix  # the unchecked kernels of chapter 1
    assert chapter_3._softmax_fused is chapter_1._softmax_fused
    assert chapter_3.AttentionResult is chapter_1.AttentionResult
    assert chapter_3._check_projection_weights is chapter_2._check_projection_weights
    assert chapter_3.ProjectionWeights is chapter_2.ProjectionWeights
    assert issubclass(CausalSelfAttention, SelfAttentionParams)
    for name in ("_project", "projection_weights", "load_projection_weights", "_matrices", "_store"):
        assert name not in vars(CausalSelfAttention), f"{name} is redefined instead of inherited"


def test_every_docstring_taking_a_mask_states_the_polarity() -> None:
    for name in chapter_3.__all__:
        obj = getattr(chapter_3, name)
        callables = [obj, obj.forward] if inspect.isclass(obj) else [obj]
        for function in callables:
            parameters = inspect.signature(function).parameters
            if "mask" in parameters:
                text = " ".join(function.__doc__.split())
                assert "`True` = may attend" in text, name
                assert "torch.nn.MultiheadAttention" in text, name
    for function in (causal_mask, padding_mask, causal_padding_mask):
        assert "`True` = may attend" in " ".join(function.__doc__.split()), function.__name__
    assert '`True` means "may attend"' in chapter_3.__doc__


# --- masks ---------------------------------------------------------------------------------------


def test_causal_mask_is_the_lower_triangle() -> None:
    mask = causal_mask(5)
    assert mask.dtype == torch.bool and mask.shape == (5, 5)
    for i in range(5):
        for j in range(5):
            assert bool(mask[i, j]) == (j <= i)


def test_padding_masks_mark_real_tokens_and_combine_with_the_causal_mask() -> None:
    real = padding_mask([4, 1, 2], num_tokens=4)
    assert real.tolist() == [[True] * 4, [True, False, False, False], [True, True, False, False]]
    assert torch.equal(padding_mask(torch.tensor([4, 1, 2]), 4), real)
    combined = causal_padding_mask([4, 1, 2], num_tokens=4)
    assert combined.shape == (3, 4, 4)
    for b, length in enumerate([4, 1, 2]):
        for i in range(4):
            for j in range(4):
                assert bool(combined[b, i, j]) == (j <= i and j < length)


def test_mask_scores_writes_minus_infinity_where_the_mask_is_false() -> None:
    masked = mask_scores(SCORES, causal_mask(6))
    assert torch.equal(torch.isneginf(masked), ~causal_mask(6))
    assert torch.equal(masked[causal_mask(6)], SCORES[causal_mask(6)])
    assert not torch.isneginf(SCORES).any()  # the input is untouched


# --- the two ways to mask, and the explicit steps -------------------------------------------------


def test_both_masking_methods_agree_to_a_tolerance() -> None:
    """Equal in exact arithmetic; in float32 their bits may differ, and whether they do depends on the CPU."""
    mask = causal_mask(6)
    renormalized = renormalize_masked_weights(F.softmax(SCORES, dim=-1), mask)
    minus_infinity = masked_softmax(SCORES, mask)
    torch.testing.assert_close(renormalized, minus_infinity)
    explicit_renormalized = F.softmax(SCORES, dim=-1) * mask
    explicit_renormalized = explicit_renormalized / explicit_renormalized.sum(dim=-1, keepdim=True)
    explicit_minus_infinity = F.softmax(SCORES.masked_fill(~mask, NEG_INF), dim=-1)
    torch.testing.assert_close(explicit_renormalized, explicit_minus_infinity)
    torch.testing.assert_close(minus_infinity, explicit_minus_infinity)


@pytest.mark.parametrize("seed", range(3))
def test_the_attend_kernel_matches_sdpa_with_batches_and_a_mask(seed: int) -> None:
    """The kernel later chapters compose: any leading dims; True = may attend; nothing to attend to gives zeros."""
    generator = torch.Generator().manual_seed(seed)
    queries, keys, values = (torch.randn(2, 3, 5, 4, generator=generator, dtype=torch.float64) for _ in range(3))
    mask = torch.rand(2, 3, 5, 5, generator=generator) < 0.6
    mask[0, 0, 1] = False  # query 1 of the first batch and head may attend to nothing
    result = chapter_3._attend(
        Projections(queries, keys, values), mask, causal=False, scaled=True, dropout=0.0, generator=None, culprits=()
    )
    expected = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask)
    torch.testing.assert_close(result.context, expected)
    assert bool((result.weights[0, 0, 1] == 0).all()) and bool((result.context[0, 0, 1] == 0).all())
    assert bool(torch.isneginf(result.scores[~mask]).all())


def test_causal_self_attention_matches_the_explicit_steps_and_sdpa() -> None:
    result = causal_self_attention(X, W)
    assert isinstance(result, AttentionResult)
    assert [tuple(t.shape) for t in result] == [(6, 6), (6, 6), (6, 4)]
    expected_weights = F.softmax(SCORES.masked_fill(~causal_mask(6), NEG_INF), dim=-1)
    torch.testing.assert_close(result.weights, expected_weights)
    torch.testing.assert_close(result.context, expected_weights @ V)
    torch.testing.assert_close(result.context, F.scaled_dot_product_attention(Q, K, V, is_causal=True))
    unscaled = causal_self_attention(X, W, scaled=False)
    torch.testing.assert_close(
        unscaled.context, F.scaled_dot_product_attention(Q, K, V, is_causal=True, scale=1.0)
    )


def test_the_chapter_numbers() -> None:
    """The seed-123 causal results that docs/causal-attention.md prints, to 4 decimals."""
    result = causal_self_attention(X, W)
    torch.testing.assert_close(result.weights[2], torch.tensor([0.3363, 0.3380, 0.3257, 0, 0, 0]), atol=5e-5, rtol=0)
    torch.testing.assert_close(result.context[1], torch.tensor([-1.0840, -0.1033, 1.0306, 0.0859]), atol=5e-5, rtol=0)


def test_the_first_token_sees_only_itself_and_the_last_sees_everything() -> None:
    result = causal_self_attention(X, W)
    torch.testing.assert_close(result.context[0], V[0])
    full = F.softmax(SCORES, dim=-1)
    torch.testing.assert_close(result.weights[-1], full[-1])


# --- the mask-polarity trap -------------------------------------------------------------------------


def identity_multihead_attention(embed_dim: int) -> nn.MultiheadAttention:
    """One head, every projection the identity: computes softmax(x x^T / sqrt(E)) x."""
    mha: nn.MultiheadAttention = nn.utils.skip_init(  # type: ignore[no-untyped-call]
        nn.MultiheadAttention, embed_dim, 1, batch_first=True
    )
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.eye(embed_dim).repeat(3, 1))
        mha.in_proj_bias.zero_()
        mha.out_proj.weight.copy_(torch.eye(embed_dim))
        mha.out_proj.bias.zero_()
    return mha


def test_sdpa_keeps_true_while_multihead_attention_masks_true_out() -> None:
    x = X[:4]
    keep = causal_mask(4)
    sdpa_weights = F.scaled_dot_product_attention(x, x, torch.eye(4), attn_mask=keep)
    mha = identity_multihead_attention(3)
    with torch.no_grad():
        _, inverted = mha(x, x, x, attn_mask=keep)
        _, right = mha(x, x, x, attn_mask=~keep)
    assert torch.equal(sdpa_weights.triu(diagonal=1), torch.zeros(4, 4))  # SDPA: causal
    assert torch.equal(inverted[:3].tril(), torch.zeros(3, 4))  # MHA given `keep`: only the future
    assert torch.isnan(inverted[3]).all()  # the last row kept everything, so MHA masked everything
    torch.testing.assert_close(right, sdpa_weights)
    torch.testing.assert_close(masked_softmax(x @ x.T / 3**0.5, keep), sdpa_weights)


def test_the_package_reads_masks_like_sdpa() -> None:
    mask = torch.rand(6, 6, generator=generator(3)) > 0.5
    mask[:, 0] = True  # every query may attend to something
    ours = masked_attention(Q, K, V, mask).context
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(Q, K, V, attn_mask=mask))


# --- rows with nothing to attend to ---------------------------------------------------------------


EMPTY_FIRST_ROW = causal_mask(6) & torch.tensor([False, True, True, True, True, True])


def test_a_hand_written_softmax_gives_nan_and_sdpa_and_the_package_give_zeros() -> None:
    masked = SCORES.masked_fill(~EMPTY_FIRST_ROW, NEG_INF)
    assert torch.isnan(naive_softmax(masked[0])).all()
    assert torch.isnan(F.softmax(masked, dim=-1)[0]).all()
    sdpa = F.scaled_dot_product_attention(Q, K, V, attn_mask=EMPTY_FIRST_ROW)
    assert torch.equal(sdpa[0], torch.zeros(4))
    weights = masked_softmax(SCORES, EMPTY_FIRST_ROW)
    assert torch.equal(weights[0], torch.zeros(6))
    torch.testing.assert_close(weights[1:].sum(dim=-1), torch.ones(5))
    assert torch.equal(renormalize_masked_weights(F.softmax(SCORES, dim=-1), EMPTY_FIRST_ROW)[0], torch.zeros(6))
    assert torch.equal(masked_softmax(torch.full((2, 3), NEG_INF), torch.ones(3, dtype=torch.bool)), torch.zeros(2, 3))


@pytest.mark.parametrize("form", ["function", "module"])
def test_fully_masked_rows_give_zero_context_and_finite_gradients(form: str) -> None:
    inputs = X.clone().requires_grad_(True)
    if form == "function":
        weights = W._replace(query=W.query.clone().requires_grad_(True))
        result = causal_self_attention(inputs, weights, mask=EMPTY_FIRST_ROW)
        context, attention = result.context, result.weights
        parameters = [weights.query]
    else:
        module = CausalSelfAttention(3, 4, seed=123)
        context, attention = module(inputs, mask=EMPTY_FIRST_ROW, return_weights=True)
        parameters = list(module.parameters())
    assert torch.equal(context[0], torch.zeros(4)) and torch.equal(attention[0], torch.zeros(6))
    torch.testing.assert_close(context, F.scaled_dot_product_attention(Q, K, V, attn_mask=EMPTY_FIRST_ROW))
    context.sum().backward()
    for tensor in [inputs, *parameters]:
        assert tensor.grad is not None and bool(tensor.grad.isfinite().all())


def test_a_row_of_minus_infinity_scores_gets_zero_weights_and_zero_gradients() -> None:
    """Issue 33: a row whose scores are all -inf (an additive 0/-inf mask, or masked twice) gave
    zeros forward but NaN gradients, and through Q K^T they reached every key."""
    scores = torch.tensor([[0.0, 1.0], [NEG_INF, NEG_INF]], requires_grad=True)
    (masked_softmax(scores, torch.ones(2, 2, dtype=torch.bool)) * torch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert scores.grad is not None and torch.equal(scores.grad[1], torch.zeros(2))
    torch.testing.assert_close(scores.grad[0], torch.tensor([-0.1966, 0.1966]), atol=1e-4, rtol=0)
    # The additive form: Q K^T / sqrt(H) + M with M = 0 or -inf, one query with nothing to see.
    queries, keys = Q.clone().requires_grad_(True), K.clone().requires_grad_(True)
    additive = torch.zeros(6, 6).masked_fill(~EMPTY_FIRST_ROW, NEG_INF)
    weights = masked_softmax(queries @ keys.T / 2 + additive, torch.ones(6, 6, dtype=torch.bool))
    (weights @ V).sum().backward()
    for tensor in (queries, keys):
        assert tensor.grad is not None and bool(tensor.grad.isfinite().all()), "NaN gradient"
    assert torch.equal(queries.grad[0], torch.zeros(4))  # the query that sees nothing learns nothing
    sdpa_queries = Q.clone().requires_grad_(True)
    F.scaled_dot_product_attention(sdpa_queries, K, V, attn_mask=EMPTY_FIRST_ROW).sum().backward()
    torch.testing.assert_close(queries.grad, sdpa_queries.grad)  # what SDPA's gradient is


@pytest.mark.parametrize(
    "call",
    [
        lambda s, m: mask_scores(s, m),
        lambda s, m: masked_softmax(s, m),
        lambda s, m: renormalize_masked_weights(s, m),
        lambda s, m: masked_attention(s, s, s, m).context,
        lambda s, m: masked_attention(s, s, s, m, causal=True).weights,
    ],
    ids=["mask_scores", "masked_softmax", "renormalize_masked_weights", "masked_attention", "masked_attention causal"],
)
def test_a_mask_moves_to_the_device_of_the_scores(call) -> None:
    """Issue 33: one rule for every function taking a mask, as SDPA's: the mask moves to the
    scores' device. On `meta` (shapes only) these raised torch's own "not on the expected device"
    or called `.item()`; a CPU mask now works with meta scores, and the result stays on meta."""
    scores = torch.empty(2, 6, 6, device="meta")
    for mask in (causal_mask(6), causal_mask(6, device="meta"), causal_padding_mask([6, 3], 6)):
        result = call(scores, mask)
        assert result.device.type == "meta" and result.shape == (2, 6, 6)


def test_the_mask_builders_take_a_device() -> None:
    for mask in (causal_mask(4, device="meta"), padding_mask([2, 4], 4, device=torch.device("meta")),
                 causal_padding_mask([2, 4], 4, device="meta")):  # fmt: skip
        assert mask.device.type == "meta" and mask.dtype == torch.bool
    assert torch.equal(causal_mask(4, device="cpu"), causal_mask(4))
    assert torch.equal(causal_padding_mask([2, 4], 4, device=None), causal_padding_mask([2, 4], 4))
    assert torch.equal(padding_mask([2, 4], 4, device="cpu"), padding_mask([2, 4], 4))


def test_minus_1e9_leaks_and_overflows_in_float16() -> None:
    leaked = F.softmax(SCORES.masked_fill(~EMPTY_FIRST_ROW, -1e9), dim=-1)[0]
    torch.testing.assert_close(leaked, torch.full((6,), 1 / 6))  # uniform over the forbidden keys
    with pytest.raises(RuntimeError, match="cannot be converted to type c10::Half without overflow"):
        SCORES.half().masked_fill(~causal_mask(6), -1e9)
    assert torch.isneginf(torch.tensor(-1e9).half())
    half = masked_softmax(SCORES.half(), EMPTY_FIRST_ROW)
    assert half.dtype == torch.float16 and torch.equal(half[0], torch.zeros(6, dtype=torch.float16))


# --- dropout --------------------------------------------------------------------------------------


def test_dropout_draws_its_mask_from_the_generator_and_rescales() -> None:
    weights = causal_self_attention(X, W).weights
    expected_keep = torch.rand(6, 6, generator=generator(7)) >= 0.3
    dropped = attention_dropout(weights, 0.3, generator=generator(7))
    torch.testing.assert_close(dropped, weights * expected_keep / 0.7)
    assert torch.equal(attention_dropout(weights, 0.3, generator=generator(7)), dropped)  # same seed, same mask
    assert not torch.equal(attention_dropout(weights, 0.3, generator=generator(8)), dropped)  # other seed
    shared = generator(7)
    first, second = (attention_dropout(weights, 0.3, generator=shared) for _ in range(2))
    assert not torch.equal(first, second)  # a generator advances
    assert attention_dropout(weights, 0.0, generator=generator(7)) is weights  # p = 0: nothing drawn


def test_dropout_keeps_the_expected_weights() -> None:
    weights = causal_self_attention(X, W).weights
    draws = torch.Generator().manual_seed(0)
    mean = torch.stack([attention_dropout(weights, 0.5, generator=draws) for _ in range(20_000)]).mean(dim=0)
    torch.testing.assert_close(mean, weights, atol=0.015, rtol=0)
    one_draw = attention_dropout(weights, 0.5, generator=generator(0))
    assert (one_draw - weights).abs().max() > 0.1  # one draw is far off: the average is what converges


@pytest.mark.parametrize(("dtype", "p"), [(torch.bfloat16, 0.001), (torch.bfloat16, 0.5), (torch.bfloat16, 0.997),
                                         (torch.float16, 1e-4), (torch.float16, 0.9), (torch.float32, 0.3)])  # fmt: skip
def test_dropout_drops_the_rate_asked_and_keeps_the_mean_in_every_dtype(dtype: torch.dtype, p: float) -> None:
    """Issue 33: uniforms drawn in bfloat16/float16 (8 and 11 bits) dropped 0.0029 instead of 0.001
    and gave a mean of 1.34 instead of 1 at p = 0.997; they are drawn in float32 now."""
    ones = torch.ones(4_000_000, dtype=dtype)
    dropped = attention_dropout(ones, p, generator=generator(3))
    assert dropped.dtype == dtype
    rate = float((dropped == 0).double().mean())
    spread = 5 * math.sqrt(p * (1 - p) / ones.numel())  # five standard deviations of the measured rate
    assert abs(rate - p) <= spread, (rate, p)
    mean = float(dropped.double().mean())  # E[a'] = a = 1; the scale 1/(1-p) rounds to the dtype
    relative = 5 * math.sqrt(p / ((1 - p) * ones.numel())) + torch.finfo(dtype).eps
    assert abs(mean - 1) <= relative, (mean, relative)


def test_dropout_never_touches_the_global_random_state() -> None:
    state = torch.get_rng_state()
    attention_dropout(torch.ones(4, 4), 0.5, generator=generator(1))
    causal_self_attention(X, W, dropout=0.5, generator=generator(1))
    CausalSelfAttention(3, 4, dropout=0.5, seed=1)(X, generator=generator(1))
    assert torch.equal(torch.get_rng_state(), state)


def test_functional_dropout_equals_the_explicit_steps() -> None:
    plain = causal_self_attention(X, W)
    dropped = causal_self_attention(X, W, dropout=0.25, generator=generator(5))
    expected = attention_dropout(plain.weights, 0.25, generator=generator(5))
    torch.testing.assert_close(dropped.weights, expected)
    torch.testing.assert_close(dropped.context, expected @ V)
    torch.testing.assert_close(dropped.scores, plain.scores)


# --- the module ------------------------------------------------------------------------------------


def test_module_has_chapter_2_parameters_and_repr() -> None:
    module = CausalSelfAttention(3, 4, dropout=0.1, seed=123)
    assert [name for name, _ in module.named_parameters()] == ["W_query", "W_key", "W_value"]
    assert all(torch.equal(a, b) for a, b in zip(module.projection_weights(), W))
    assert repr(module) == "CausalSelfAttention(embed_dim=3, hidden_dim=4, scaled=True, dropout=0.1)"
    assert module.dropout == 0.1 and module.training


def test_module_in_eval_mode_equals_the_no_dropout_module_exactly() -> None:
    batch = torch.stack([X, X.flip(0)])
    dropping = CausalSelfAttention(3, 4, dropout=0.7, seed=123).eval()
    plain = CausalSelfAttention(3, 4, seed=123)
    for inputs in (X, batch):
        ours = dropping(inputs, return_weights=True)
        theirs = plain(inputs, return_weights=True)
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
        assert torch.equal(dropping(inputs, generator=generator(0)), theirs[0])  # a generator changes nothing


def test_module_in_train_mode_drops_reproducibly_from_the_generator() -> None:
    module = CausalSelfAttention(3, 4, dropout=0.5, seed=123)
    first = module(X, generator=generator(1), return_weights=True)[1]
    again = module(X, generator=generator(1), return_weights=True)[1]
    other = module(X, generator=generator(2), return_weights=True)[1]
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    torch.testing.assert_close(first, causal_self_attention(X, W, dropout=0.5, generator=generator(1)).weights)
    assert torch.equal(first == 0, (torch.rand(6, 6, generator=generator(1)) < 0.5) | ~causal_mask(6))


def test_module_equals_the_function_on_a_padded_batch() -> None:
    batch = torch.stack([X, torch.cat([X[:3], torch.zeros(3, 3)])])
    mask = causal_padding_mask([6, 3], 6)
    module = CausalSelfAttention(3, 4, seed=123)
    context, weights = module(batch, mask=mask, return_weights=True)
    expected = causal_self_attention(batch, W, mask=mask)
    torch.testing.assert_close(context, expected.context)
    torch.testing.assert_close(weights, expected.weights)
    assert context.shape == (2, 6, 4) and weights.shape == (2, 6, 6)


def test_module_stores_nothing_between_calls() -> None:
    module = CausalSelfAttention(3, 4, dropout=0.5, seed=0)
    before = {name: value for name, value in vars(module).items() if not isinstance(value, dict)}
    state = {name: tensor.clone() for name, tensor in module.state_dict().items()}
    module(X, generator=generator(0), return_weights=True)
    assert {name: value for name, value in vars(module).items() if not isinstance(value, dict)} == before
    assert all(torch.equal(module.state_dict()[name], tensor) for name, tensor in state.items())
    assert list(module.buffers()) == []


def test_module_trains() -> None:
    module = CausalSelfAttention(3, 4, dropout=0.2, seed=3)
    loss = module(X, generator=generator(0)).square().mean()
    loss.backward()
    assert all(p.grad is not None and bool(p.grad.ne(0).any()) for p in module.parameters())


# --- bad input gets a clear error -------------------------------------------------------------------

MODULE = CausalSelfAttention(3, 4, seed=0)
DROPPING = CausalSelfAttention(3, 4, dropout=0.5, seed=0)
BATCH = torch.stack([X, X])
HALF_WEIGHTS = init_projection_weights(3, 4, seed=0, dtype=torch.float16)
HALF_MODULE = CausalSelfAttention(3, 4, seed=0, dtype=torch.float16)
HUGE_HALF = torch.full((2, 6, 3), 300.0, dtype=torch.float16)  # scores near -1e6: beyond float16


@pytest.mark.parametrize(
    "case",
    [
        # masks of the wrong dtype
        Bad(lambda: mask_scores(SCORES, causal_mask(6).float()), TypeError, "mask must be a boolean tensor (True = may attend, False = masked out), got dtype torch.float32"),
        Bad(lambda: causal_self_attention(X, W, mask=causal_mask(6).long()), TypeError, "mask must be a boolean tensor (True = may attend, False = masked out), got dtype torch.int64"),
        Bad(lambda: MODULE(X, mask=[[True]]), TypeError, "mask must be a torch.Tensor, got list"),
        # masks of the wrong shape
        Bad(lambda: masked_softmax(SCORES, causal_mask(5)), ValueError, "mask must broadcast to the scores' shape (L, L) = (6, 6), got shape (5, 5)"),
        Bad(lambda: causal_self_attention(BATCH, W, mask=torch.ones(3, 6, 6, dtype=torch.bool)), ValueError, "mask must broadcast to the scores' shape (B, L, L) = (2, 6, 6), got shape (3, 6, 6)"),
        Bad(lambda: MODULE(X, mask=torch.ones(2, 6, 6, dtype=torch.bool)), ValueError, "mask must broadcast to the scores' shape (L, L) = (6, 6), got shape (2, 6, 6)"),
        Bad(lambda: masked_attention(Q, K, V, torch.ones(6, dtype=torch.bool).unsqueeze(0).unsqueeze(0).expand(1, 2, 6)), ValueError, "mask must broadcast to the scores' shape (L, L) = (6, 6), got shape (1, 2, 6)"),
        Bad(lambda: renormalize_masked_weights(torch.ones(6, 6), torch.ones(6, 5, dtype=torch.bool)), ValueError, "got shape (6, 5)"),
        # dropout rates outside [0, 1)
        Bad(lambda: attention_dropout(torch.ones(2, 2), 1.0, generator=generator(0)), ValueError, "p must be in [0, 1) (the fraction of weights dropped), got 1.0"),
        Bad(lambda: attention_dropout(torch.ones(2, 2), -0.1, generator=generator(0)), ValueError, "p must be in [0, 1) (the fraction of weights dropped), got -0.1"),
        Bad(lambda: CausalSelfAttention(3, 4, dropout=1, seed=0), ValueError, "dropout must be in [0, 1) (the fraction of weights dropped), got 1"),
        Bad(lambda: causal_self_attention(X, W, dropout=1.5, generator=generator(0)), ValueError, "dropout must be in [0, 1) (the fraction of weights dropped), got 1.5"),
        Bad(lambda: CausalSelfAttention(3, 4, dropout="0.1", seed=0), TypeError, "dropout must be a float in [0, 1), got str"),
        Bad(lambda: masked_attention(Q, K, V, dropout=True), TypeError, "dropout must be a float in [0, 1), got bool"),
        # generators
        Bad(lambda: causal_self_attention(X, W, dropout=0.5), ValueError, "generator must be a torch.Generator when dropout > 0 (got dropout=0.5 and no generator)"),
        Bad(lambda: DROPPING(X), ValueError, "generator must be a torch.Generator while dropout is active (training mode, dropout=0.5), got None"),
        Bad(lambda: attention_dropout(torch.ones(2, 2), 0.5, generator=0), TypeError, "generator must be a torch.Generator, got int"),
        Bad(lambda: DROPPING(X, generator=123), TypeError, "generator must be a torch.Generator, got int"),
        # embedding sizes that do not match, one sentence or a batch
        Bad(lambda: causal_self_attention(torch.ones(2, 6, 4), W), ValueError, "inputs and projection_weights must have the same embedding size E, got 4 and 3"),
        Bad(lambda: MODULE(torch.ones(2, 6, 5)), ValueError, "inputs and the module must have the same embedding size E, got 5 and 3"),
        Bad(lambda: MODULE(torch.ones(6, 2)), ValueError, "inputs and the module must have the same embedding size E, got 2 and 3"),
        # ranks, shapes and dtypes of the tensors
        Bad(lambda: causal_self_attention(X[0], W), ValueError, "inputs must have shape (L, E) or (B, L, E) (2-D or 3-D), got shape (3,) (1-D)"),
        Bad(lambda: MODULE(BATCH.unsqueeze(0)), ValueError, "inputs must have shape (L, E) or (B, L, E) (2-D or 3-D), got shape (1, 2, 6, 3) (4-D)"),
        Bad(lambda: masked_attention(Q[0], K[0], V[0]), ValueError, "queries must have shape (..., L, H) (2-D or more), got shape (4,) (1-D)"),
        Bad(lambda: masked_attention(Q, K[:5], V), ValueError, "queries and keys must have the same shape, got (6, 4) and (5, 4)"),
        Bad(lambda: masked_attention(Q, K, V.double()), TypeError, "queries and values must have the same dtype, got torch.float32 and torch.float64"),
        Bad(lambda: MODULE(X.double()), TypeError, "inputs and the module's parameters must have the same dtype, got torch.float64 and torch.float32"),
        Bad(lambda: causal_self_attention(X.long(), W), TypeError, "inputs must be a floating-point tensor (for example torch.float32), got dtype torch.int64"),
        Bad(lambda: causal_self_attention(torch.empty(2, 0, 3), W), ValueError, "inputs must hold at least one token with at least one feature, got an empty tensor of shape (2, 0, 3)"),
        Bad(lambda: MODULE(torch.full((6, 3), float("nan"))), ValueError, "inputs must hold finite values, found 18 NaN"),
        Bad(lambda: renormalize_masked_weights(-torch.ones(2, 2), causal_mask(2)), ValueError, "weights must be non-negative, found 4 negative values"),
        # finite inputs whose scores overflow (a silent -inf would look like a mask)
        Bad(lambda: causal_self_attention(HUGE_HALF, HALF_WEIGHTS), ValueError, "inputs and projection_weights are too large: the scores Q K^T overflowed to inf in torch.float16"),
        Bad(lambda: HALF_MODULE(HUGE_HALF), ValueError, "inputs and the module's parameters are too large: the scores Q K^T overflowed"),
        Bad(lambda: masked_attention(*(HUGE_HALF @ matrix for matrix in HALF_WEIGHTS), causal=True), ValueError, "queries and keys and values are too large"),
        # other arguments
        Bad(lambda: causal_mask(0), ValueError, "num_tokens must be a positive int, got 0"),
        Bad(lambda: causal_mask(2.0), TypeError, "num_tokens must be a positive int, got float"),
        Bad(lambda: padding_mask([3, 7], 6), ValueError, "lengths must each be in [1, 6] for 6 tokens, got 7"),
        Bad(lambda: padding_mask([], 6), ValueError, "lengths must hold one length per sentence, got an empty sequence"),
        Bad(lambda: padding_mask("36", 6), TypeError, "lengths must be a sequence of ints, one per sentence, got str"),
        Bad(lambda: causal_padding_mask([2.5], 6), TypeError, "lengths must hold ints, got float"),
        Bad(lambda: padding_mask(torch.tensor([2.0]), 6), TypeError, "lengths must be a sequence of ints or a 1-D integer tensor"),
        Bad(lambda: masked_attention(Q, K, V, causal=1), TypeError, "causal must be a bool (True or False), got int"),
        Bad(lambda: MODULE(X, return_weights=None), TypeError, "return_weights must be a bool (True or False), got NoneType"),
    ],
)
def test_bad_input_gets_a_clear_error(case: Bad) -> None:
    case.check()
