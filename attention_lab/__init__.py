"""Attention Lab: self-attention from first principles, one checked step at a time.

The package holds every computation that the chapters of the site teach:

- `attention_lab.simplified_attention`: chapter 1, attention with no trainable weights.

Everything public is re-exported here; `__all__` lists it.
"""

from __future__ import annotations

from attention_lab.simplified_attention import (
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

__all__ = [
    # Chapter 1: simplified self-attention
    "TOKENS",
    "AttentionResult",
    "attention_score_matrix",
    "attention_scores_for_query",
    "context_vector",
    "context_vectors",
    "example_inputs",
    "naive_softmax",
    "simplified_attention_for_query",
    "simplified_self_attention",
    "softmax",
]

__version__ = "0.1.0"
