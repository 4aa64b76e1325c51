"""Chapter 5: properties over random inputs (hypothesis), beside tests/test_memory_efficient_attention.py.

- the result of tiled attention does not depend on the block size;
- online softmax equals chapter 1's softmax for random scores and block sizes, rows with -inf
  and all -inf included.

Random inputs compared with tolerances: left out of the CPU-kernel reruns (tests/test_any_cpu.py),
as the other chapters' property files are.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_lab import online_softmax, softmax, tiled_attention

from .test_memory_efficient_attention import TOLERANCE, random_qkv

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)


@PROPERTY_SETTINGS
@given(
    tokens=st.integers(1, 40),
    hidden=st.integers(1, 12),
    block_sizes=st.lists(st.integers(1, 50), min_size=2, max_size=4),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_the_result_does_not_depend_on_the_block_size(
    tokens: int, hidden: int, block_sizes: list[int], causal: bool, seed: int
) -> None:
    queries, keys, values = random_qkv(seed, (tokens, hidden), torch.float64)
    results = [tiled_attention(queries, keys, values, block_size=size, causal=causal) for size in block_sizes]
    for result in results[1:]:
        torch.testing.assert_close(result, results[0], **TOLERANCE[torch.float64])


def chapter_1_softmax_with_zero_rows(scores: torch.Tensor) -> torch.Tensor:
    """Chapter 1's softmax, with the shared decision for all -inf rows (zeros) applied."""
    nothing = torch.isneginf(scores).all(dim=-1, keepdim=True)
    return torch.where(nothing, torch.zeros_like(scores), softmax(scores, dim=-1))


score_rows = st.lists(
    st.one_of(st.floats(-1e4, 1e4, allow_nan=False, width=64), st.just(float("-inf"))), min_size=1, max_size=30
)


@PROPERTY_SETTINGS
@given(rows=st.lists(score_rows, min_size=1, max_size=4).filter(lambda r: len({len(x) for x in r}) == 1),
       block_size=st.integers(1, 40))  # fmt: skip
def test_online_softmax_equals_chapter_1_softmax(rows: list[list[float]], block_size: int) -> None:
    scores = torch.tensor(rows, dtype=torch.float64)  # (rows, L): some -inf, some rows all -inf
    weights = online_softmax(scores, block_size=block_size)
    torch.testing.assert_close(weights, chapter_1_softmax_with_zero_rows(scores))
    assert torch.isfinite(weights).all()
