"""Chapter 6 (attention_lab.positions): absolute and rotary positions, checked against references.

- the sinusoidal table against its formula written out entry by entry;
- each pair turned by its rotation matrix; shifting every position leaves the weights as they are;
- the two pairings: the same rotation up to a fixed permutation of a head's coordinates
  (bit for bit: the same elementwise products, moved), and weights converted with it;
- the interleaved pairing against Meta's complex-number form, written here;
- (Hugging Face's Llama and the distance property over random inputs:
  tests/test_positions_properties.py);
- rope_self_attention against SDPA on the rotated queries and keys; offsets; what
  forgetting the positions looks like.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from attention_lab import (
    example_inputs,
    init_projection_weights,
    trainable_self_attention,
)
from attention_lab.positions import (
    ROPE_BASE,
    add_positions,
    apply_rope,
    interleaved_to_halves,
    rope_angles,
    rope_frequencies,
    rope_self_attention,
    rotate_half,
    sinusoidal_positions,
)

PAIRINGS = ("halves", "interleaved")
# Two computations of the same rotation in another order of operations (a rotation matrix per
# pair, Meta's complex numbers, SDPA's fused kernel on the rotated q and k). Largest differences
# seen over these grids: float32 9e-6 (SDPA's context), 3e-7 (Meta's form, positions below
# 4,096); float64 below 1e-12.
TOLERANCE = {torch.float32: {"rtol": 1e-4, "atol": 2e-5}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}


def randn(seed: int, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- absolute positions -----------------------------------------------------------------------


def test_the_sinusoidal_table_is_its_formula_entry_by_entry() -> None:
    table = sinusoidal_positions(50, 8, dtype=torch.float64)
    for p in range(50):
        for i in range(4):
            omega = 10_000 ** (-2 * i / 8)
            assert table[p, 2 * i].item() == pytest.approx(math.sin(p * omega), abs=1e-15)
            assert table[p, 2 * i + 1].item() == pytest.approx(math.cos(p * omega), abs=1e-15)
    assert sinusoidal_positions(50, 8).dtype == torch.float32
    assert torch.equal(sinusoidal_positions(50, 8), table.float())
    assert sinusoidal_positions(3, 2, base=2.0)[2, 0].item() == pytest.approx(math.sin(2.0))  # base^0 = 1 in every table


def test_every_position_gets_its_own_row_and_near_positions_near_rows() -> None:
    table = sinusoidal_positions(512, 64, dtype=torch.float64)
    distances = torch.cdist(table, table)  # (512, 512)
    off_diagonal = distances + torch.eye(512, dtype=torch.float64) * 1e9
    assert off_diagonal.min() > 0.5  # no two positions share a row
    assert bool((distances[0, 1:] > 0).all())
    assert distances[100, 101] < distances[100, 110] < distances[100, 200]  # farther apart, farther


def test_add_positions_adds_row_p_to_token_p_in_every_sentence_of_a_batch() -> None:
    table = sinusoidal_positions(10, 4)
    inputs = randn(0, 2, 6, 4)
    assert torch.equal(add_positions(inputs, table), inputs + table[:6])
    assert torch.equal(add_positions(inputs[0], table), inputs[0] + table[:6])
    learned = torch.nn.Embedding(10, 4).weight.detach()  # a learned table works the same way
    assert torch.equal(add_positions(inputs, learned), inputs + learned[:6])


def test_with_absolute_positions_a_permutation_no_longer_just_permutes_the_context() -> None:
    inputs, weights = example_inputs(), init_projection_weights(3, 4, seed=123)
    order = torch.tensor([5, 4, 3, 2, 1, 0])
    table = sinusoidal_positions(6, 4)[:, :3]  # E = 3 is odd: three columns of a 4-column table
    without = trainable_self_attention(inputs, weights).context
    permuted = trainable_self_attention(inputs[order], weights).context
    torch.testing.assert_close(permuted, without[order])  # order-blind (chapter 2, 2.8)
    placed = trainable_self_attention(add_positions(inputs, table), weights).context
    placed_permuted = trainable_self_attention(add_positions(inputs[order], table), weights).context
    assert (placed_permuted - placed[order]).abs().max() > 1e-2  # now the order shows


# --- rotary positions -------------------------------------------------------------------------


def test_frequencies_and_angles_are_the_formula() -> None:
    frequencies = rope_frequencies(8)
    assert frequencies.dtype == torch.float64
    assert frequencies.tolist() == pytest.approx([10_000 ** (-2 * i / 8) for i in range(4)], rel=1e-15)
    angles = rope_angles(torch.tensor([0, 3, 7]), 8, base=100.0)
    assert angles[1, 1].item() == pytest.approx(3 * 100 ** (-2 / 8), rel=1e-15)
    assert ROPE_BASE == 10_000.0


def rotation(angle: float, dtype: torch.dtype) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pairing", PAIRINGS)
def test_each_pair_is_turned_by_its_rotation_matrix(pairing: str, dtype: torch.dtype) -> None:
    x = randn(1, 5, 6, dtype=dtype)  # L = 5, H = 6: three pairs
    rotated = apply_rope(x, base=100.0, pairing=pairing)
    frequencies = rope_frequencies(6, base=100.0)
    for m in range(5):
        for i in range(3):
            pair = [i, i + 3] if pairing == "halves" else [2 * i, 2 * i + 1]
            expected = rotation(m * frequencies[i].item(), dtype) @ x[m, pair]
            torch.testing.assert_close(rotated[m, pair], expected, **TOLERANCE[dtype])


def test_without_the_rotation_of_both_sides_the_distance_property_breaks() -> None:
    """The named mistake: rotating the queries only (or with another offset than the keys)."""
    q, k = randn(2, 1, 8), randn(3, 1, 8)
    rotated = {p: apply_rope(q, torch.tensor([p])) for p in (3, 10)}
    keys = {p: apply_rope(k, torch.tensor([p])) for p in (1, 8)}
    same_distance = [(rotated[3] * keys[1]).sum(), (rotated[10] * keys[8]).sum()]
    torch.testing.assert_close(same_distance[0], same_distance[1], rtol=1e-4, atol=1e-5)
    queries_only = [(rotated[3] * k).sum(), (rotated[10] * k).sum()]
    assert (queries_only[0] - queries_only[1]).abs() > 0.1


@pytest.mark.parametrize("pairing", PAIRINGS)
def test_position_zero_is_no_rotation_and_the_values_are_untouched(pairing: str) -> None:
    x = randn(4, 3, 2, 8)
    rotated = apply_rope(x, torch.tensor([0, 0]), pairing=pairing)
    assert torch.equal(rotated, x)
    torch.testing.assert_close(apply_rope(x, pairing=pairing).norm(dim=-1), x.norm(dim=-1))  # rotations keep lengths


@pytest.mark.parametrize("pairing", PAIRINGS)
def test_an_offset_continues_the_positions_bit_for_bit(pairing: str) -> None:
    """Chapter 7's cache: the last 3 of 10 tokens, rotated alone from offset 7, are the
    rows the whole sequence gets (the same angles, the same products)."""
    x = randn(5, 2, 10, 8)
    whole = apply_rope(x, pairing=pairing)
    assert torch.equal(apply_rope(x[..., 7:, :], offset=7, pairing=pairing), whole[..., 7:, :])
    assert torch.equal(apply_rope(x[..., 7:, :], torch.arange(7, 10), pairing=pairing), whole[..., 7:, :])


def test_rotate_half_swaps_the_halves_and_negates_the_new_first() -> None:
    x = torch.arange(1.0, 7.0)
    assert rotate_half(x).tolist() == [-4.0, -5.0, -6.0, 1.0, 2.0, 3.0]
    assert torch.equal(rotate_half(rotate_half(x)), -x)  # two quarter turns: a half turn


# --- the two pairings -------------------------------------------------------------------------


@pytest.mark.parametrize("head_dim", [2, 4, 6, 64])
def test_the_pairings_are_one_permutation_apart_bit_for_bit(head_dim: int) -> None:
    perm = interleaved_to_halves(head_dim)
    assert sorted(perm.tolist()) == list(range(head_dim))
    x = randn(head_dim, 3, 7, head_dim)
    interleaved = apply_rope(x, pairing="interleaved")
    assert torch.equal(interleaved[..., perm], apply_rope(x[..., perm], pairing="halves"))


def test_weights_converted_with_the_permutation_give_the_same_attention() -> None:
    """A checkpoint trained with interleaved pairs, loaded into a halves model: permute the
    columns of W_q and W_k. Forgetting it (the most reported RoPE bug) changes the weights."""
    inputs = randn(6, 7, 16)
    weights = init_projection_weights(16, 8, seed=3)
    perm = interleaved_to_halves(8)
    converted = type(weights)(weights.query[:, perm], weights.key[:, perm], weights.value)
    trained = rope_self_attention(inputs, weights, pairing="interleaved")
    loaded = rope_self_attention(inputs, converted, pairing="halves")
    torch.testing.assert_close(loaded.weights, trained.weights, **TOLERANCE[torch.float32])
    torch.testing.assert_close(loaded.context, trained.context, **TOLERANCE[torch.float32])
    forgotten = rope_self_attention(inputs, weights, pairing="halves")
    assert (forgotten.weights - trained.weights).abs().max() > 0.05


def meta_interleaved_rope(x: torch.Tensor, positions: torch.Tensor, base: float) -> torch.Tensor:
    """Meta's Llama formula (complex numbers), written independently: pair (2i, 2i+1) is the
    complex number x_2i + j x_2i+1, multiplied by e^(j m theta_i)."""
    head_dim = x.shape[-1]
    theta = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    turns = torch.polar(torch.ones(len(positions), head_dim // 2, dtype=torch.float64), torch.outer(positions.double(), theta))
    as_complex = torch.view_as_complex(x.double().reshape(*x.shape[:-1], head_dim // 2, 2))
    return torch.view_as_real(as_complex * turns).flatten(-2).to(x.dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", range(6))
def test_the_interleaved_pairing_is_metas_complex_number_form(seed: int, dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(seed)
    length, head_dim = int(torch.randint(1, 40, (1,), generator=generator)), 2 * int(torch.randint(1, 40, (1,), generator=generator))
    x = torch.randn(2, 3, length, head_dim, generator=generator, dtype=dtype)
    positions = torch.randint(0, 4_096, (length,), generator=generator)
    base = [10_000.0, 500_000.0, 100.0][seed % 3]
    ours = apply_rope(x, positions, base=base, pairing="interleaved")
    torch.testing.assert_close(ours, meta_interleaved_rope(x, positions, base), **TOLERANCE[dtype])


# --- attention with RoPE ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pairing", PAIRINGS)
def test_rope_attention_is_sdpa_on_the_rotated_queries_and_keys(pairing: str, dtype: torch.dtype) -> None:
    inputs = randn(7, 3, 9, 12, dtype=dtype)
    weights = init_projection_weights(12, 8, seed=7, dtype=dtype)
    result = rope_self_attention(inputs, weights, offset=5, pairing=pairing, base=500_000.0)
    q, k, v = (inputs @ w for w in weights)
    positions = torch.arange(5, 14)
    q, k = (apply_rope(t, positions, base=500_000.0, pairing=pairing) for t in (q, k))
    torch.testing.assert_close(result.context, F.scaled_dot_product_attention(q, k, v, is_causal=True), **TOLERANCE[dtype])
    both_ways = rope_self_attention(inputs, weights, causal=False, pairing=pairing)
    q0, k0 = (apply_rope(t, pairing=pairing) for t in (inputs @ weights.query, inputs @ weights.key))
    torch.testing.assert_close(both_ways.context, F.scaled_dot_product_attention(q0, k0, inputs @ weights.value), **TOLERANCE[dtype])


def test_rope_attention_is_the_same_for_a_sentence_wherever_it_starts() -> None:
    """Shift every position by the same amount: the scores (so the weights) do not change."""
    inputs, weights = example_inputs(), init_projection_weights(3, 4, seed=123)
    at_start = rope_self_attention(inputs, weights)
    later = rope_self_attention(inputs, weights, offset=1_000)
    torch.testing.assert_close(later.weights, at_start.weights, rtol=1e-4, atol=1e-5)


def test_with_rope_dog_bites_man_and_man_bites_dog_differ() -> None:
    generator = torch.Generator().manual_seed(0)
    words = {word: torch.randn(8, generator=generator) for word in ("dog", "bites", "man")}
    first = torch.stack([words["dog"], words["bites"], words["man"]])
    second = torch.stack([words["man"], words["bites"], words["dog"]])
    order = torch.tensor([2, 1, 0])  # second = first[order]
    weights = init_projection_weights(8, 8, seed=1)
    plain_first = rope_self_attention(first, weights, positions=torch.zeros(3, dtype=torch.long), causal=False)
    plain_second = rope_self_attention(second, weights, positions=torch.zeros(3, dtype=torch.long), causal=False)
    torch.testing.assert_close(plain_second.context, plain_first.context[order])  # no positions: a permutation
    rope_first = rope_self_attention(first, weights, causal=False)
    rope_second = rope_self_attention(second, weights, causal=False)
    assert (rope_second.context - rope_first.context[order]).abs().max() > 1e-2
