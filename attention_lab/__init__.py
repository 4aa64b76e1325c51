"""Attention Lab: self-attention from first principles, one checked step at a time.

The package holds every computation that the chapters of the site teach:

- `attention_lab.simplified_attention`: chapter 1, attention with no trainable weights.
- `attention_lab.self_attention`: chapter 2, trainable query, key and value projections.
- `attention_lab.causal_attention`: chapter 3, causal masks, padding, dropout on the weights, batches.
- `attention_lab.multihead_attention`: chapter 4, several heads: a list of them, one matrix, PyTorch's module.
- `attention_lab.memory_efficient_attention`: chapter 5, online softmax and tiled
  attention, which never build the L×L matrix.
- `attention_lab.positions`: chapter 6, where the words are: absolute positions
  and rotary positions (RoPE).
- `attention_lab.generation`: chapter 7, generating one token at a time: the KV
  cache, grouped-query attention, sliding windows, latent attention.

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
from attention_lab.self_attention import (
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
from attention_lab.causal_attention import (
    CausalSelfAttention,
    attention_dropout,
    causal_mask,
    causal_padding_mask,
    causal_self_attention,
    mask_scores,
    masked_attention,
    masked_softmax,
    padding_mask,
    renormalize_masked_weights,
)
from attention_lab.self_attention import (  # section 2.7: learning the weights
    AttentionTraining,
    attention_focus_loss,
    train_attention_towards,
)
from attention_lab.multihead_attention import (
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    MultiHeadResult,
    MultiHeadWeights,
    merge_heads,
    multihead_parameter_count,
    multihead_self_attention,
    split_heads,
    to_torch_multihead,
)
from attention_lab.memory_efficient_attention import (
    AttentionBlock,
    OnlineSoftmaxStep,
    attention_blocks,
    attention_working_memory,
    full_attention,
    online_softmax,
    online_softmax_trace,
    tiled_attention,
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
from attention_lab.generation import (
    KVCache,
    LatentAttentionWeights,
    cache_causal_mask,
    cached_attention,
    grouped_query_attention,
    init_latent_attention_weights,
    kv_cache_bytes,
    latent_attention,
    repeat_kv_heads,
    sliding_window_mask,
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
    # Chapter 2: the "self" in self-attention
    "ProjectionWeights",
    "Projections",
    "SelfAttentionLinear",
    "SelfAttentionParams",
    "attention_score",
    "init_projection_weights",
    "project",
    "project_inputs",
    "query_key_scores",
    "scale_scores",
    "trainable_attention_for_query",
    "trainable_self_attention",
    "AttentionTraining",
    "attention_focus_loss",
    "train_attention_towards",
    # Chapter 3: causal attention
    "CausalSelfAttention",
    "attention_dropout",
    "causal_mask",
    "causal_padding_mask",
    "causal_self_attention",
    "mask_scores",
    "masked_attention",
    "masked_softmax",
    "padding_mask",
    "renormalize_masked_weights",
    # Chapter 4: multi-head attention
    "MultiHeadAttention",
    "MultiHeadAttentionWrapper",
    "MultiHeadResult",
    "MultiHeadWeights",
    "merge_heads",
    "multihead_parameter_count",
    "multihead_self_attention",
    "split_heads",
    "to_torch_multihead",
    # Chapter 5: attention without the L×L matrix
    "AttentionBlock",
    "OnlineSoftmaxStep",
    "attention_blocks",
    "attention_working_memory",
    "full_attention",
    "online_softmax",
    "online_softmax_trace",
    "tiled_attention",
    # Chapter 6: positions
    "ROPE_BASE",
    "add_positions",
    "apply_rope",
    "interleaved_to_halves",
    "rope_angles",
    "rope_frequencies",
    "rope_self_attention",
    "rotate_half",
    "sinusoidal_positions",
    # Chapter 7: generating one token at a time
    "KVCache",
    "LatentAttentionWeights",
    "cache_causal_mask",
    "cached_attention",
    "grouped_query_attention",
    "init_latent_attention_weights",
    "kv_cache_bytes",
    "latent_attention",
    "repeat_kv_heads",
    "sliding_window_mask",
]

__version__ = "0.1.0"
