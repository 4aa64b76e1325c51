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

Everything public is re-exported here: `__all__` is the modules' `__all__`, chapter by chapter.
"""

from __future__ import annotations

# One line per chapter: its module, in the order the chapters teach. Each module's `__all__` is
# its public API; the package re-exports all of it, and its `__all__` is theirs, in this order.
from attention_lab import (
    causal_attention,
    generation,
    memory_efficient_attention,
    multihead_attention,
    positions,
    self_attention,
    simplified_attention,
)
from attention_lab.simplified_attention import *  # noqa: F403  (chapter 1)
from attention_lab.self_attention import *  # noqa: F403  (chapter 2)
from attention_lab.causal_attention import *  # noqa: F403  (chapter 3)
from attention_lab.multihead_attention import *  # noqa: F403  (chapter 4)
from attention_lab.memory_efficient_attention import *  # noqa: F403  (chapter 5)
from attention_lab.positions import *  # noqa: F403  (chapter 6)
from attention_lab.generation import *  # noqa: F403  (chapter 7)

__all__ = (
    simplified_attention.__all__
    + self_attention.__all__
    + causal_attention.__all__
    + multihead_attention.__all__
    + memory_efficient_attention.__all__
    + positions.__all__
    + generation.__all__
)

__version__ = "0.1.0"
