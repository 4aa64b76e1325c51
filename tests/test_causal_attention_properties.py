"""Chapter 3: equivalence with PyTorch over shapes, batch sizes, seeds and dtypes; properties.

- the package's causal attention equals `F.scaled_dot_product_attention(..., is_causal=True)`,
  and its masked attention equals SDPA given the same boolean mask or the equivalent float
  (0 / -inf) mask, unbatched and batched, float32 and float64;
- hypothesis: causality (changing a token after position t changes no output at or before t,
  changing one at or before t can), the two masking methods agree, padding changes nothing for
  the real tokens, masked weights are 0 and every row sums to 1 or is all 0.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from attention_lab import (
    CausalSelfAttention,
    causal_mask,
    causal_padding_mask,
    causal_self_attention,
    init_projection_weights,
    masked_attention,
    masked_softmax,
    padding_mask,
    renormalize_masked_weights,
)

from . import common
from .common import DTYPES, PROPERTY_SETTINGS, SEEDS, TOLERANCE, dtypes

# (B batch size or None for unbatched, L tokens, E embedding size, H hidden size)
SHAPES = [(None, 1, 1, 1), (None, 6, 3, 4), (1, 17, 5, 9), (3, 64, 32, 32), (4, 2, 32, 1), (2, 33, 7, 1), (5, 8, 1, 16)]
# As in chapter 2 (tests/common.py): float32 within 1e-3 of PyTorch's kernels, float64 assert_close's defaults.


def file_tensor(seed: int, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """This file's random tensors: `common.random_tensor` with its seeds 20,000 on, apart from the other files'."""
    return common.random_tensor(20_000 + seed, *shape, dtype=dtype)


def leading(batch: int | None) -> tuple[int, ...]:
    return () if batch is None else (batch,)


def random_mask(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    """A random boolean mask (True = may attend) in which every query keeps at least one key."""
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(30_000 + seed)) > 0.4
    mask[..., 0] = True
    return mask


sweep = common.sweep(
    pytest.mark.parametrize(
        ("batch", "tokens", "embed", "hidden"), SHAPES, ids=[f"B{b}-L{l}-E{e}-H{h}" for b, l, e, h in SHAPES]
    )
)


@sweep
def test_causal_attention_equals_sdpa_with_is_causal(
    batch: int | None, tokens: int, embed: int, hidden: int, dtype: torch.dtype, seed: int
) -> None:
    inputs = file_tensor(seed, *leading(batch), tokens, embed, dtype=dtype)
    weights = init_projection_weights(embed, hidden, seed=seed, dtype=dtype)
    queries, keys, values = (inputs @ matrix for matrix in weights)
    expected = F.scaled_dot_product_attention(queries, keys, values, is_causal=True)
    result = causal_self_attention(inputs, weights)
    torch.testing.assert_close(result.context, expected, **TOLERANCE[dtype])
    assert result.context.dtype == dtype and result.context.shape == (*leading(batch), tokens, hidden)
    module = CausalSelfAttention(embed, hidden, seed=seed, dtype=dtype)
    with torch.no_grad():
        torch.testing.assert_close(module(inputs), expected, **TOLERANCE[dtype])
    unscaled = causal_self_attention(inputs, weights, scaled=False).context
    torch.testing.assert_close(
        unscaled, F.scaled_dot_product_attention(queries, keys, values, is_causal=True, scale=1.0), **TOLERANCE[dtype]
    )


@sweep
def test_masked_attention_equals_sdpa_with_boolean_and_float_masks(
    batch: int | None, tokens: int, embed: int, hidden: int, dtype: torch.dtype, seed: int
) -> None:
    queries, keys, values = (
        file_tensor(seed + 100 * k, *leading(batch), tokens, hidden, dtype=dtype) for k in range(3)
    )
    mask = random_mask(seed, (*leading(batch), tokens, tokens))
    float_mask = torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask, float("-inf"))
    by_bool = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask)
    by_float = F.scaled_dot_product_attention(queries, keys, values, attn_mask=float_mask)
    ours = masked_attention(queries, keys, values, mask).context
    torch.testing.assert_close(ours, by_bool, **TOLERANCE[dtype])
    torch.testing.assert_close(ours, by_float, **TOLERANCE[dtype])
    # the causal switch AND an explicit mask, against SDPA given their conjunction
    both = masked_attention(queries, keys, values, mask, causal=True).context
    conjunction = mask & causal_mask(tokens)
    torch.testing.assert_close(
        both, F.scaled_dot_product_attention(queries, keys, values, attn_mask=conjunction), **TOLERANCE[dtype]
    )


@pytest.mark.parametrize("seed", SEEDS)
@dtypes
def test_padded_batches_equal_sdpa_and_each_sentence_alone(seed: int, dtype: torch.dtype) -> None:
    lengths = [7, 3, 1, 5]
    tokens, embed, hidden = 7, 5, 6
    weights = init_projection_weights(embed, hidden, seed=seed, dtype=dtype)
    sentences = [file_tensor(seed + n, length, embed, dtype=dtype) for n, length in enumerate(lengths)]
    batch = torch.stack([torch.cat([s, torch.zeros(tokens - len(s), embed, dtype=dtype)]) for s in sentences])
    mask = causal_padding_mask(lengths, tokens)
    result = causal_self_attention(batch, weights, mask=mask)
    queries, keys, values = (batch @ matrix for matrix in weights)
    torch.testing.assert_close(
        result.context, F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask), **TOLERANCE[dtype]
    )
    key_padding = padding_mask(lengths, tokens)[:, None, :]  # (B, 1, L), combined with the causal mask inside
    torch.testing.assert_close(causal_self_attention(batch, weights, mask=key_padding).context, result.context)
    for b, sentence in enumerate(sentences):
        alone = causal_self_attention(sentence, weights)
        torch.testing.assert_close(result.context[b, : len(sentence)], alone.context, **TOLERANCE[dtype])


# --- properties (hypothesis) --------------------------------------------------------------------------


@st.composite
def sentence_and_position(draw: st.DrawFn) -> tuple[int, int, int, int, int]:
    """(seed, L, E, H, t) with t a position of the sentence."""
    tokens = draw(st.integers(2, 12))
    return (
        draw(st.integers(0, 10_000)),
        tokens,
        draw(st.integers(1, 6)),
        draw(st.integers(1, 6)),
        draw(st.integers(0, tokens - 2)),
    )


@PROPERTY_SETTINGS
@given(sentence_and_position(), st.booleans())
def test_changing_a_later_token_changes_no_earlier_output(case: tuple[int, int, int, int, int], batched: bool) -> None:
    seed, tokens, embed, hidden, t = case
    inputs = file_tensor(seed, tokens, embed, dtype=torch.float64)
    weights = init_projection_weights(embed, hidden, seed=seed, dtype=torch.float64)
    changed = inputs.clone()
    changed[t + 1 :] = file_tensor(seed + 1, tokens - t - 1, embed, dtype=torch.float64)  # every token after t
    if batched:
        inputs, changed = torch.stack([inputs, changed]), torch.stack([changed, inputs])
    before = causal_self_attention(inputs, weights).context
    after = causal_self_attention(changed, weights).context
    assert torch.equal(before[..., : t + 1, :], after[..., : t + 1, :])  # exactly: the future is never read


@PROPERTY_SETTINGS
@given(sentence_and_position(), st.data())
def test_changing_a_token_at_or_before_t_changes_output_t(
    case: tuple[int, int, int, int, int], data: st.DataObject
) -> None:
    seed, tokens, embed, hidden, t = case
    s = data.draw(st.integers(0, t), label="changed position s <= t")
    inputs = file_tensor(seed, tokens, embed, dtype=torch.float64)
    weights = init_projection_weights(embed, hidden, seed=seed, dtype=torch.float64)
    changed = inputs.clone()
    changed[s] = changed[s] + 1.0 + file_tensor(seed + 2, embed, dtype=torch.float64).abs()
    before = causal_self_attention(inputs, weights).context
    after = causal_self_attention(changed, weights).context
    assert not torch.equal(before[t], after[t])  # output t reads token s (every weight j <= t is above 0)
    assert torch.equal(before[:s], after[:s])  # and nothing before s does


@PROPERTY_SETTINGS
@given(st.integers(0, 10_000), st.integers(1, 10), st.integers(1, 3), st.sampled_from(DTYPES))
def test_the_two_masking_methods_agree(seed: int, tokens: int, batch: int, dtype: torch.dtype) -> None:
    scores = 3 * file_tensor(seed, batch, tokens, tokens, dtype=dtype)
    mask = random_mask(seed, (batch, tokens, tokens)) & causal_mask(tokens)
    renormalized = renormalize_masked_weights(torch.softmax(scores, dim=-1), mask)
    minus_infinity = masked_softmax(scores, mask)
    torch.testing.assert_close(renormalized, minus_infinity, **TOLERANCE[dtype])
    assert torch.equal(minus_infinity == 0, ~mask)  # exactly the masked entries are 0 (scores are moderate)
    torch.testing.assert_close(minus_infinity.sum(dim=-1), torch.ones(batch, tokens, dtype=dtype))


@PROPERTY_SETTINGS
@given(st.integers(0, 10_000), st.integers(1, 8), st.data())
def test_masked_rows_are_zero_and_other_rows_sum_to_one(seed: int, tokens: int, data: st.DataObject) -> None:
    mask = torch.tensor(data.draw(st.lists(st.lists(st.booleans(), min_size=tokens, max_size=tokens), min_size=tokens, max_size=tokens)))
    scores = file_tensor(seed, tokens, tokens)
    weights = masked_softmax(scores, mask)
    assert not torch.isnan(weights).any()
    assert torch.equal(weights[~mask], torch.zeros(int((~mask).sum())))
    empty = ~mask.any(dim=-1)
    torch.testing.assert_close(weights.sum(dim=-1), (~empty).float())
    queries, keys, values = (file_tensor(seed + k, tokens, 3) for k in range(3))
    ours = masked_attention(queries, keys, values, mask).context
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask), rtol=1e-4, atol=1e-5)
