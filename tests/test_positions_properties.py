"""Chapter 6: RoPE over random inputs, and against Hugging Face's Llama; tolerances throughout.

- hypothesis: a query at m and a key at n score the same after shifting both positions by any
  amount, for both pairings, head sizes up to 64, positions up to 4,000, float32 and float64;
- the halves pairing equals `transformers`' Llama rotary embedding (`LlamaRotaryEmbedding`,
  `apply_rotary_pos_emb`: a small `LlamaConfig`, random inputs, nothing downloaded) over random
  shapes, bases, float32 and float64; and at a long context's positions, where its float32
  angles drift, ours stay with the exact float64 form (Meta's, tests/test_positions.py).

Why `transformers`: it is the implementation most checkpoints are run with, maintained, and its
Llama code is what the ports copy; pinned in requirements.lock (5.25.0), used by the tests only.
These random comparisons are not rerun under other CPU kernels (tests/test_any_cpu.py).
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_lab.positions import ROPE_BASE, apply_rope, interleaved_to_halves

from .test_positions import PAIRINGS, TOLERANCE, meta_interleaved_rope, randn

# The Hugging Face reference runs offline: a small config, random weights, nothing fetched
# (its `kernels` hook would otherwise be allowed to look for a kernel on the hub).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import (
    LlamaRotaryEmbedding,
    apply_rotary_pos_emb,
)

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)


@PROPERTY_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    half=st.integers(1, 32),
    m=st.integers(0, 2_000),
    n=st.integers(0, 2_000),
    shift=st.integers(-2_000, 2_000),
    pairing=st.sampled_from(PAIRINGS),
    double=st.booleans(),
)
def test_a_score_depends_only_on_the_distance_between_query_and_key(
    seed: int, half: int, m: int, n: int, shift: int, pairing: str, double: bool
) -> None:
    dtype = torch.float64 if double else torch.float32
    shift = max(shift, -min(m, n))  # positions stay >= 0
    q, k = randn(seed, 1, 2 * half, dtype=dtype), randn(seed + 1, 1, 2 * half, dtype=dtype)

    def score(query_at: int, key_at: int) -> torch.Tensor:
        rotated_q = apply_rope(q, torch.tensor([query_at]), pairing=pairing)
        rotated_k = apply_rope(k, torch.tensor([key_at]), pairing=pairing)
        return (rotated_q * rotated_k).sum()

    tolerance = {"rtol": 1e-4, "atol": 1e-4 * 2 * half} if dtype == torch.float32 else TOLERANCE[dtype]
    torch.testing.assert_close(score(m + shift, n + shift), score(m, n), **tolerance)


def hugging_face_rope(q: torch.Tensor, positions: torch.Tensor, base: float) -> torch.Tensor:
    """Llama's rotary embedding from `transformers`, as its attention layer applies it to q (and k)."""
    heads, head_dim = q.shape[-3], q.shape[-1]
    config = LlamaConfig(hidden_size=heads * head_dim, num_attention_heads=heads, head_dim=head_dim,
                         rope_parameters={"rope_type": "default", "rope_theta": base}, max_position_embeddings=1 << 17)  # fmt: skip
    position_ids = positions.expand(q.shape[0], -1)  # (B, L)
    cos, sin = LlamaRotaryEmbedding(config)(q, position_ids)  # (B, L, H) each, angles in float32
    rotated, _ = apply_rotary_pos_emb(q, q, cos, sin)
    return rotated


# Hugging Face computes the angles m * theta_i in float32, we in float64: the rounding of an angle
# grows with m. Below position 256 the two agree to 4e-5 (seen), at 4,096 to 7e-4, at 131,072 to 2e-2;
# each time the difference is Hugging Face's (its distance to the float64 form is the same).
HUGGING_FACE_TOLERANCE = {"rtol": 0.0, "atol": 1e-4}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", range(6))
def test_the_halves_pairing_is_hugging_faces_llama_rope(seed: int, dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(seed)
    length, head_dim = int(torch.randint(1, 40, (1,), generator=generator)), 2 * int(torch.randint(1, 40, (1,), generator=generator))
    q = torch.randn(2, 3, length, head_dim, generator=generator, dtype=dtype)  # (B, heads, L, H), Llama's layout
    positions = torch.randint(0, 256, (length,), generator=generator)
    base = [10_000.0, 500_000.0, 100.0][seed % 3]
    ours = apply_rope(q, positions, base=base)
    torch.testing.assert_close(ours, hugging_face_rope(q, positions, base), **HUGGING_FACE_TOLERANCE)


def test_far_positions_keep_their_accuracy_where_float32_angles_drift() -> None:
    """At positions near 131,072 (a long context), float32 angles are off by up to 2^-24 * m
    radians: Hugging Face's rotation moves away from the exact one, ours does not."""
    q = randn(11, 1, 2, 64, 64)
    positions = torch.arange(131_008, 131_072)
    exact = hugging_face_layout_of_meta(q, positions)
    ours = (apply_rope(q, positions).double() - exact).abs().max().item()
    theirs = (hugging_face_rope(q, positions, ROPE_BASE).double() - exact).abs().max().item()
    assert ours < 1e-6 and theirs > 1e-3, (ours, theirs)


def hugging_face_layout_of_meta(q: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Meta's float64 complex form, in the halves layout (through the permutation)."""
    perm = interleaved_to_halves(q.shape[-1])
    return meta_interleaved_rope(q.double()[..., torch.argsort(perm)], positions, ROPE_BASE)[..., perm]


