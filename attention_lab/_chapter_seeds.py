"""The seeds (and chapter 2's sizes) the chapters draw their weights with, as their pages write them out.

For the code that recomputes a chapter's numbers elsewhere: the exercises, the explorer's data and
the figures (tests/test_docs_harness.py checks that the pages still draw with these seeds).
"""

from __future__ import annotations

from attention_lab.self_attention import ProjectionWeights, init_projection_weights

__all__: list[str] = []

CHAPTER_2_SEED = 123
"""docs/self-attention.md: `init_projection_weights(3, 4, seed=123)`; chapters 3, 5 and 6 reuse these W's."""

CHAPTER_2_HIDDEN_DIM = 4
"""docs/self-attention.md: the hidden size H of those W's, each (E, H) = (3, 4)."""

CHAPTER_4_SEED = 7
"""docs/multihead-attention.md: `MultiHeadAttention(3, 3, seed=7)`, three heads of size 1."""


def chapter_2_weights() -> ProjectionWeights:
    """Chapter 2's W_q, W_k, W_v, drawn as its page draws them, each (E, H) = (3, 4)."""
    return init_projection_weights(3, CHAPTER_2_HIDDEN_DIM, seed=CHAPTER_2_SEED)
