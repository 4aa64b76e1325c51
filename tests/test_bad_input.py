"""Bad input to every public function: our own clear error, at the boundary (issue 14, part 2).

One table of bad calls across the public API. Each row gives the exception type and three
fragments the message must contain: the argument's name, what was expected, what was given.
Nothing may surface as a torch error from deep inside a computation. Each chapter's test file
holds a table of the same kind (`tests/common.Bad`) that pins its messages word for word.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import attention_lab
from attention_lab import (
    CausalSelfAttention,
    KVCache,
    LatentAttentionWeights,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    MultiHeadWeights,
    ProjectionWeights,
    SelfAttentionLinear,
    SelfAttentionParams,
    add_positions,
    apply_rope,
    attention_blocks,
    attention_dropout,
    attention_focus_loss,
    attention_score,
    attention_score_matrix,
    attention_scores_for_query,
    attention_working_memory,
    cache_causal_mask,
    cached_attention,
    causal_mask,
    causal_padding_mask,
    causal_self_attention,
    context_vector,
    context_vectors,
    example_inputs,
    full_attention,
    grouped_query_attention,
    init_latent_attention_weights,
    init_projection_weights,
    interleaved_to_halves,
    kv_cache_bytes,
    latent_attention,
    mask_scores,
    masked_attention,
    masked_softmax,
    merge_heads,
    multihead_parameter_count,
    multihead_self_attention,
    naive_softmax,
    online_softmax,
    online_softmax_trace,
    padding_mask,
    plotting,
    project,
    project_inputs,
    query_key_scores,
    renormalize_masked_weights,
    repeat_kv_heads,
    rope_angles,
    rope_frequencies,
    rope_self_attention,
    rotate_half,
    scale_scores,
    simplified_attention_for_query,
    simplified_self_attention,
    sinusoidal_positions,
    sliding_window_mask,
    softmax,
    split_heads,
    tiled_attention,
    to_torch_multihead,
    train_attention_towards,
    trainable_attention_for_query,
    trainable_self_attention,
)

from .common import Bad, W, X

WEIGHTS = torch.full((6, 6), 1 / 6)
TOKENS = ["Your", "journey", "starts", "with", "one", "step"]
NAN, INF = float("nan"), float("inf")
F8 = torch.float8_e4m3fn
SUPPORTED = "torch.float16, torch.bfloat16, torch.float32 or torch.float64"
PARAMS = SelfAttentionParams(3, 4, seed=0)
MHA = MultiHeadAttention(6, 2, seed=0)
IDENTITY_6 = MultiHeadWeights(*(torch.eye(6) for _ in range(4)), out_bias=None)
BATCH_6 = torch.ones(2, 5, 6)
LINEAR = SelfAttentionLinear(3, 4, seed=0)
CAUSAL = CausalSelfAttention(3, 4, dropout=0.5, seed=0)  # in training mode, as every new module
MASK = "a boolean tensor (True = may attend, False = masked out)"


def filled_cache(max_tokens: int | None = None) -> KVCache:
    """A cache holding 2 tokens of a batch of 2: keys and values (B, L, H) = (2, 2, 4)."""
    cache = KVCache(max_tokens=max_tokens)
    cache.append(torch.ones(2, 2, 4), torch.ones(2, 2, 4))
    return cache


CASES: dict[str, Bad] = {
    # --- chapter 1 ---------------------------------------------------------------------
    "example_inputs dtype int": Bad(lambda: example_inputs(torch.int32), TypeError, "dtype", "floating-point torch.dtype", "torch.int32"),
    "example_inputs dtype float8": Bad(lambda: example_inputs(F8), TypeError, "dtype", SUPPORTED, "torch.float8_e4m3fn"),
    "example_inputs dtype str": Bad(lambda: example_inputs("float32"), TypeError, "dtype", "floating-point torch.dtype", "'float32'"),
    "scores_for_query query list": Bad(lambda: attention_scores_for_query([1.0, 2.0, 3.0], X), TypeError, "query", "torch.Tensor", "got list"),
    "scores_for_query inputs 3-D": Bad(lambda: attention_scores_for_query(X[0], X[None]), ValueError, "inputs", "(L, E) (2-D)", "(1, 6, 3) (3-D)"),
    "scores_for_query sizes": Bad(lambda: attention_scores_for_query(torch.ones(2), X), ValueError, "query and inputs", "same embedding size E", "got 2 and 3"),
    "scores_for_query dtypes": Bad(lambda: attention_scores_for_query(X[0].double(), X), TypeError, "query and inputs", "same dtype", "torch.float64 and torch.float32"),
    "scores_for_query overflow": Bad(lambda: attention_scores_for_query(X[0] * 1e38, X * 1e38), ValueError, "query and inputs", "values small enough", "up to 8.9e+37"),
    "softmax scores int": Bad(lambda: softmax(torch.tensor([1, 2])), TypeError, "scores", "floating-point tensor", "torch.int64"),
    "softmax scores float8": Bad(lambda: softmax(torch.ones(2).to(F8)), TypeError, "scores", SUPPORTED, "float8_e4m3fn"),
    "softmax scores 0-D": Bad(lambda: softmax(torch.tensor(1.0)), ValueError, "scores", "at least 1 dimension", "0-D tensor"),
    "softmax scores NaN": Bad(lambda: softmax(torch.tensor([NAN, 1.0])), ValueError, "scores", "finite values or -inf", "1 NaN"),
    "softmax scores +inf": Bad(lambda: softmax(torch.tensor([INF, INF])), ValueError, "scores", "finite values or -inf", "2 +inf"),
    "softmax dim float": Bad(lambda: softmax(torch.ones(3), dim=1.0), TypeError, "dim", "an int in [-1, 0]", "got float"),
    "softmax dim bool": Bad(lambda: softmax(torch.ones(3), dim=True), TypeError, "dim", "an int in [-1, 0]", "got bool"),
    "softmax dim range": Bad(lambda: softmax(torch.ones(2, 3), dim=2), ValueError, "dim", "an int in [-2, 1] for 2-D scores", "got 2"),
    "softmax scores empty": Bad(lambda: softmax(torch.empty(0)), ValueError, "scores", "at least one token", "shape (0,)"),
    "naive_softmax dim str": Bad(lambda: naive_softmax(torch.ones(3), dim="0"), TypeError, "dim", "an int", "got str"),
    "naive_softmax scores list": Bad(lambda: naive_softmax([1.0]), TypeError, "scores", "torch.Tensor", "got list"),
    "context_vector weights 2-D": Bad(lambda: context_vector(WEIGHTS, X), ValueError, "weights", "(L,) (1-D)", "(6, 6) (2-D)"),
    "context_vector token count": Bad(lambda: context_vector(torch.ones(5) / 5, X), ValueError, "weights and values", "same number of tokens L", "got 5 and 6"),
    "context_vector values int": Bad(lambda: context_vector(torch.ones(6) / 6, X.int()), TypeError, "values", "floating-point tensor", "torch.int32"),
    "context_vector weights NaN": Bad(lambda: context_vector(torch.tensor([NAN] * 6), X), ValueError, "weights", "finite values", "6 NaN"),
    "score_matrix inputs 1-D": Bad(lambda: attention_score_matrix(X[0]), ValueError, "inputs", "(L, E) (2-D)", "(3,) (1-D)"),
    "score_matrix inputs -inf": Bad(lambda: attention_score_matrix(torch.tensor([[-INF, 1.0]])), ValueError, "inputs", "finite values", "1 -inf"),
    "score_matrix overflow": Bad(lambda: attention_score_matrix(torch.full((2, 2), 1e20)), ValueError, "inputs", "values small enough", "up to 1e+20"),
    "context_vectors weights not square": Bad(lambda: context_vectors(torch.full((4, 6), 1 / 6), X), ValueError, "weights", "square, shape (L, L)", "shape (4, 6)"),
    "context_vectors token count": Bad(lambda: context_vectors(torch.eye(5), X), ValueError, "weights and values", "same number of tokens L", "got 5 and 6"),
    "context_vectors dtypes": Bad(lambda: context_vectors(WEIGHTS.double(), X), TypeError, "weights and values", "same dtype", "torch.float64 and torch.float32"),
    "for_query index float": Bad(lambda: simplified_attention_for_query(X, 1.0), TypeError, "query_index", "an int", "got float"),
    "for_query index range": Bad(lambda: simplified_attention_for_query(X, -7), IndexError, "query_index", "in [-6, 5] for 6 tokens", "got -7"),
    "for_query inputs bool": Bad(lambda: simplified_attention_for_query(X > 0, 0), TypeError, "inputs", "floating-point tensor", "torch.bool"),
    "self_attention inputs nested list": Bad(lambda: simplified_self_attention(X.tolist()), TypeError, "inputs", "torch.Tensor", "got list"),
    "self_attention inputs empty": Bad(lambda: simplified_self_attention(torch.empty(0, 3)), ValueError, "inputs", "at least one token", "shape (0, 3)"),
    "self_attention inputs float8": Bad(lambda: simplified_self_attention(X.to(F8)), TypeError, "inputs", SUPPORTED, "torch.float8_e4m3fn"),
    "self_attention overflow": Bad(lambda: simplified_self_attention(torch.full((2, 2), 1e20)), ValueError, "inputs", "values small enough", "inputs up to 1e+20"),
    # --- chapter 2: weights, seeds, generators -------------------------------------------
    "init seed 2**64": Bad(lambda: init_projection_weights(3, 2, seed=2**64), ValueError, "seed", "[-2**63, 2**64 - 1]", "18446744073709551616"),
    "init seed -2**63-1": Bad(lambda: init_projection_weights(3, 2, seed=-(2**63) - 1), ValueError, "seed", "[-2**63, 2**64 - 1]", "-9223372036854775809"),
    "init seed float": Bad(lambda: init_projection_weights(3, 2, seed=1.0), TypeError, "seed", "an int", "got float"),
    "init seed str": Bad(lambda: init_projection_weights(3, 2, seed="1"), TypeError, "seed", "an int", "got str"),
    "init generator int": Bad(lambda: init_projection_weights(3, 2, generator=1), TypeError, "generator", "torch.Generator", "got int"),
    "init neither": Bad(lambda: init_projection_weights(3, 2), ValueError, "seed", "exactly one of seed (an int) and generator", "got neither"),
    "init both": Bad(lambda: init_projection_weights(3, 2, seed=1, generator=torch.Generator()), ValueError, "generator", "exactly one of seed", "got both"),
    "init embed_dim 0": Bad(lambda: init_projection_weights(0, 2, seed=0), ValueError, "embed_dim", "a positive int", "got 0"),
    "init hidden_dim huge": Bad(lambda: init_projection_weights(3, 10**30, seed=0), ValueError, "hidden_dim", "at most 2**63 - 1", "an int of 31 digits"),
    "init hidden_dim str": Bad(lambda: init_projection_weights(3, "2", seed=0), TypeError, "hidden_dim", "a positive int", "got str"),
    "init dtype float8": Bad(lambda: init_projection_weights(3, 2, seed=0, dtype=F8), TypeError, "dtype", SUPPORTED, "torch.float8_e4m3fn"),
    "init dtype complex": Bad(lambda: init_projection_weights(3, 2, seed=0, dtype=torch.complex64), TypeError, "dtype", "floating-point torch.dtype", "torch.complex64"),
    "params seed 2**64": Bad(lambda: SelfAttentionParams(3, 2, seed=2**64), ValueError, "seed", "[-2**63, 2**64 - 1]", "18446744073709551616"),
    "linear seed -2**63-1": Bad(lambda: SelfAttentionLinear(3, 2, seed=-(2**63) - 1), ValueError, "seed", "[-2**63, 2**64 - 1]", "-9223372036854775809"),
    "linear dtype float8": Bad(lambda: SelfAttentionLinear(3, 2, seed=0, dtype=torch.float8_e5m2), TypeError, "dtype", SUPPORTED, "torch.float8_e5m2"),
    "params dtype float8": Bad(lambda: SelfAttentionParams(3, 2, seed=0, dtype=F8), TypeError, "dtype", SUPPORTED, "torch.float8_e4m3fn"),
    "linear bias str": Bad(lambda: SelfAttentionLinear(3, 2, seed=0, bias="no"), TypeError, "bias", "a bool", "got str"),
    "params scaled int": Bad(lambda: SelfAttentionParams(3, 2, seed=0, scaled=0), TypeError, "scaled", "a bool", "got int"),
    "linear embed_dim float": Bad(lambda: SelfAttentionLinear(3.0, 2, seed=0), TypeError, "embed_dim", "a positive int", "got float"),
    # --- chapter 2: steps ----------------------------------------------------------------
    "project weight 1-D": Bad(lambda: project(X, W.query[0]), ValueError, "weight", "(E, H) (2-D)", "(4,) (1-D)"),
    "project inputs 3-D": Bad(lambda: project(X[None], W.query), ValueError, "inputs", "(E,) or (L, E)", "(1, 6, 3) (3-D)"),
    "project sizes": Bad(lambda: project(torch.ones(2), W.query), ValueError, "inputs and weight", "same embedding size E", "got 2 and 3"),
    "project weight inf": Bad(lambda: project(X, torch.full((3, 4), INF)), ValueError, "weight", "finite values", "12 +inf"),
    "project overflow": Bad(lambda: project(X * 1e38, W.value * 100), ValueError, "inputs and weight", "values small enough", "inputs up to 8.9e+37"),
    "project_inputs not a triple": Bad(lambda: project_inputs(X, [W.query, W.key]), TypeError, "projection_weights", "ProjectionWeights(query, key, value)", "got list"),
    "project_inputs a tensor": Bad(lambda: project_inputs(X, W.query), TypeError, "projection_weights", "ProjectionWeights(query, key, value)", "got Tensor"),
    "project_inputs H mismatch": Bad(lambda: project_inputs(X, W._replace(value=torch.ones(3, 5))), ValueError, "projection_weights.value", "same hidden size H", "got 4 and 5"),
    "project_inputs E mismatch": Bad(lambda: project_inputs(torch.ones(6, 5), W), ValueError, "inputs and projection_weights", "same embedding size E", "got 5 and 3"),
    "attention_score 2-D key": Bad(lambda: attention_score(torch.ones(4), torch.ones(1, 4)), ValueError, "key", "(H,) (1-D)", "(1, 4) (2-D)"),
    "attention_score sizes": Bad(lambda: attention_score(torch.ones(4), torch.ones(3)), ValueError, "query and key", "same hidden size H", "got 4 and 3"),
    "query_key_scores token counts": Bad(lambda: query_key_scores(torch.ones(4, 2), torch.ones(6, 2)), ValueError, "queries and keys", "same number of tokens L", "got 4 and 6"),
    "query_key_scores hidden sizes": Bad(lambda: query_key_scores(torch.ones(4, 2), torch.ones(4, 3)), ValueError, "queries and keys", "same hidden size H", "got 2 and 3"),
    "query_key_scores keys list": Bad(lambda: query_key_scores(torch.ones(4, 2), [[1.0, 2.0]]), TypeError, "keys", "torch.Tensor", "got list"),
    "scale_scores key_dim 10**400": Bad(lambda: scale_scores(torch.ones(2), 10**400), ValueError, "key_dim", "at most 2**63 - 1", "an int of 401 digits"),
    "scale_scores key_dim 0": Bad(lambda: scale_scores(torch.ones(2), 0), ValueError, "key_dim", "a positive int", "got 0"),
    "scale_scores key_dim float": Bad(lambda: scale_scores(torch.ones(2), 4.0), TypeError, "key_dim", "a positive int", "got float"),
    "scale_scores scores NaN": Bad(lambda: scale_scores(torch.tensor([NAN]), 4), ValueError, "scores", "finite values or -inf", "1 NaN"),
    "scale_scores scores empty": Bad(lambda: scale_scores(torch.empty(2, 0), 4), ValueError, "scores", "at least one token", "shape (2, 0)"),
    # --- chapter 2: attention and modules ---------------------------------------------------
    "for_query scaled None": Bad(lambda: trainable_attention_for_query(X, 0, W, scaled=None), TypeError, "scaled", "a bool", "got NoneType"),
    "for_query index str": Bad(lambda: trainable_attention_for_query(X, "0", W), TypeError, "query_index", "an int", "got str"),
    "trainable for_query index range": Bad(lambda: trainable_attention_for_query(X, 6, W), IndexError, "query_index", "in [-6, 5] for 6 tokens", "got 6"),
    "for_query overflow": Bad(lambda: trainable_attention_for_query(X * 1e30, 0, W), ValueError, "inputs and projection_weights", "values small enough", "inputs up to 8.9e+29"),
    "trainable inputs float8": Bad(lambda: trainable_self_attention(X.to(F8), W), TypeError, "inputs", SUPPORTED, "torch.float8_e4m3fn"),
    "trainable weights float8": Bad(lambda: trainable_self_attention(X, ProjectionWeights(*(w.to(F8) for w in W))), TypeError, "projection_weights.query", SUPPORTED, "float8_e4m3fn"),
    "trainable dtypes": Bad(lambda: trainable_self_attention(X.double(), W), TypeError, "inputs and projection_weights", "same dtype", "torch.float64 and torch.float32"),
    "trainable weight NaN": Bad(lambda: trainable_self_attention(X, W._replace(key=torch.full((3, 4), NAN))), ValueError, "projection_weights.key", "finite values", "12 NaN"),
    "trainable overflow": Bad(lambda: trainable_self_attention(X * 1e30, W), ValueError, "inputs and projection_weights", "values small enough", "inputs up to 8.9e+29"),
    "trainable scaled str": Bad(lambda: trainable_self_attention(X, W, scaled="yes"), TypeError, "scaled", "a bool", "got str"),
    "params forward E": Bad(lambda: PARAMS(torch.ones(6, 4)), ValueError, "inputs and the module", "same embedding size E", "got 4 and 3"),
    "params forward dtype": Bad(lambda: PARAMS(X.double()), TypeError, "inputs and the module's parameters", "same dtype", "torch.float64 and torch.float32"),
    "params forward overflow": Bad(lambda: PARAMS(X * 1e30), ValueError, "inputs and the module's parameters", "values small enough", "inputs up to 8.9e+29"),
    "linear forward overflow": Bad(lambda: LINEAR(X * 1e30), ValueError, "inputs and the module's parameters", "values small enough", "inputs up to 8.9e+29"),
    "linear forward return_weights": Bad(lambda: LINEAR(X, return_weights=1), TypeError, "return_weights", "a bool", "got int"),
    "linear forward float8": Bad(lambda: LINEAR(X.to(F8)), TypeError, "inputs", SUPPORTED, "torch.float8_e4m3fn"),
    "params forward NaN": Bad(lambda: PARAMS(torch.tensor([[NAN, 1.0, 2.0]])), ValueError, "inputs", "finite values", "1 NaN"),
    "load shape": Bad(lambda: PARAMS.load_projection_weights(init_projection_weights(3, 5, seed=0)), ValueError, "projection_weights", "(E, H) = (3, 4)", "got (3, 5)"),
    "load not a triple": Bad(lambda: LINEAR.load_projection_weights(W.query), TypeError, "projection_weights", "ProjectionWeights(query, key, value)", "got Tensor"),
    # --- chapter 3: masks, dropout, batches -----------------------------------------------
    "causal_mask num_tokens float": Bad(lambda: causal_mask(6.0), TypeError, "num_tokens", "a positive int", "got float"),
    "causal_mask device name": Bad(lambda: causal_mask(3, device="gpu0"), ValueError, "device", "a device such as 'cpu'", "got 'gpu0'"),
    "padding_mask device int": Bad(lambda: padding_mask([2], 3, device=0), TypeError, "device", "a torch.device", "got int"),
    "causal_padding_mask device": Bad(lambda: causal_padding_mask([2], 3, device="x"), ValueError, "device", "a device such as 'cpu'", "got 'x'"),
    "padding_mask length too long": Bad(lambda: padding_mask([7], 6), ValueError, "lengths", "in [1, 6] for 6 tokens", "got 7"),
    "causal_padding_mask lengths str": Bad(lambda: causal_padding_mask("6", 6), TypeError, "lengths", "a sequence of ints", "got str"),
    "mask_scores float mask": Bad(lambda: mask_scores(WEIGHTS, causal_mask(6).float()), TypeError, "mask", MASK, "torch.float32"),
    "masked_softmax mask shape": Bad(lambda: masked_softmax(WEIGHTS, causal_mask(5)), ValueError, "mask", "broadcast to the scores' shape (L, L) = (6, 6)", "shape (5, 5)"),
    "masked_softmax scores float8": Bad(lambda: masked_softmax(WEIGHTS.to(F8), causal_mask(6)), TypeError, "scores", SUPPORTED, "float8_e4m3fn"),
    "renormalize weights negative": Bad(lambda: renormalize_masked_weights(-WEIGHTS, causal_mask(6)), ValueError, "weights", "non-negative", "36 negative values"),
    "attention_dropout p 1": Bad(lambda: attention_dropout(WEIGHTS, 1.0, generator=torch.Generator()), ValueError, "p", "in [0, 1)", "got 1.0"),
    "attention_dropout generator int": Bad(lambda: attention_dropout(WEIGHTS, 0.5, generator=1), TypeError, "generator", "torch.Generator", "got int"),
    "masked_attention shapes": Bad(lambda: masked_attention(torch.ones(6, 4), torch.ones(5, 4), torch.ones(6, 4)), ValueError, "queries and keys", "same shape", "(6, 4) and (5, 4)"),
    "masked_attention overflow": Bad(lambda: masked_attention(torch.full((6, 4), 1e20), torch.full((6, 4), 1e20), torch.ones(6, 4), causal=True), ValueError, "queries and keys and values", "values small enough", "queries up to 1e+20"),
    "causal_self_attention batch E": Bad(lambda: causal_self_attention(torch.ones(2, 6, 4), W), ValueError, "inputs and projection_weights", "same embedding size E", "got 4 and 3"),
    "causal_self_attention no generator": Bad(lambda: causal_self_attention(X, W, dropout=0.5), ValueError, "generator", "torch.Generator when dropout > 0", "no generator"),
    "causal_self_attention inputs 4-D": Bad(lambda: causal_self_attention(X[None, None], W), ValueError, "inputs", "(L, E) or (B, L, E)", "(1, 1, 6, 3) (4-D)"),
    "causal module dropout 1.5": Bad(lambda: CausalSelfAttention(3, 4, dropout=1.5, seed=0), ValueError, "dropout", "in [0, 1)", "got 1.5"),
    "causal module seed 2**64": Bad(lambda: CausalSelfAttention(3, 4, seed=2**64), ValueError, "seed", "[-2**63, 2**64 - 1]", "18446744073709551616"),
    "causal forward no generator": Bad(lambda: CAUSAL(X), ValueError, "generator", "torch.Generator while dropout is active", "got None"),
    "causal forward mask int": Bad(lambda: CAUSAL(X, mask=causal_mask(6).int(), generator=torch.Generator()), TypeError, "mask", MASK, "torch.int32"),
    "causal forward batch E": Bad(lambda: CAUSAL(torch.ones(2, 6, 5)), ValueError, "inputs and the module", "same embedding size E", "got 5 and 3"),
    # --- chapter 4: multi-head attention ------------------------------------------------------
    "mha heads do not divide E": Bad(lambda: MultiHeadAttention(6, 4, seed=0), ValueError, "num_heads", "E must be divisible by num_heads", "got E=6 and num_heads=4"),
    "mha inputs size": Bad(lambda: MHA(torch.ones(2, 5, 4)), ValueError, "inputs and the module", "same embedding size E", "got 4 and 6"),
    "mha mask shape": Bad(lambda: MHA(BATCH_6, mask=torch.ones(3, 5, 5, dtype=torch.bool)), ValueError, "mask", "broadcast to the scores' shape (B, L, L) = (2, 5, 5)", "got shape (3, 5, 5)"),
    "wrapper heads float": Bad(lambda: MultiHeadAttentionWrapper(6, 3, 2.0, seed=0), TypeError, "num_heads", "a positive int", "got float"),
    "wrapper inputs size": Bad(lambda: MultiHeadAttentionWrapper(6, 3, 2, seed=0)(torch.ones(5, 3)), ValueError, "inputs and the module", "same embedding size E", "got 3 and 6"),
    "function weights not a tuple": Bad(lambda: multihead_self_attention(BATCH_6, torch.eye(6), 2), TypeError, "multihead_weights", "MultiHeadWeights(query, key, value, out, out_bias)", "got Tensor"),
    "function out shape": Bad(lambda: multihead_self_attention(BATCH_6, IDENTITY_6._replace(out=torch.eye(4)), 2), ValueError, "multihead_weights.out", "(E, E) = (6, 6)", "got (4, 4)"),
    "function inputs size": Bad(lambda: multihead_self_attention(torch.ones(5, 4), IDENTITY_6, 2), ValueError, "inputs and multihead_weights", "same embedding size E", "got 4 and 6"),
    "load bias missing": Bad(lambda: MHA.load_multihead_weights(MultiHeadWeights(*(torch.eye(6) for _ in range(4)), out_bias=None)), ValueError, "out_bias", "the module has an output bias", "got None"),
    "split heads": Bad(lambda: split_heads(BATCH_6, 4), ValueError, "num_heads", "E must be divisible by num_heads", "got E=6 and num_heads=4"),
    "merge heads 2-D": Bad(lambda: merge_heads(torch.ones(5, 6)), ValueError, "tensor", "(..., heads, L, H) (3-D or more)", "got shape (5, 6) (2-D)"),
    "parameter count heads": Bad(lambda: multihead_parameter_count(768, 10), ValueError, "num_heads", "E must be divisible by num_heads", "got E=768 and num_heads=10"),
    "to_torch not our module": Bad(lambda: to_torch_multihead(PARAMS), TypeError, "module", "attention_lab.MultiHeadAttention", "got SelfAttentionParams"),
    # --- chapter 5 ------------------------------------------------------------------------
    "tiled block_size 0": Bad(lambda: tiled_attention(X, X, X, block_size=0), ValueError, "block_size", "a positive int", "got 0"),
    "tiled block_size float": Bad(lambda: tiled_attention(X, X, X, block_size=2.0), TypeError, "block_size", "a positive int", "got float"),
    "tiled keys L": Bad(lambda: tiled_attention(X, X[:5], X, block_size=2), ValueError, "queries and keys", "same number of tokens L", "got 6 and 5"),
    "tiled keys H": Bad(lambda: tiled_attention(X, X[:, :2], X, block_size=2), ValueError, "queries and keys", "same hidden size H", "got 3 and 2"),
    "tiled batch B": Bad(lambda: tiled_attention(X[None].expand(2, 6, 3), X[None], X[None], block_size=2), ValueError, "queries and keys", "same batch size B", "got 2 and 1"),
    "tiled ranks": Bad(lambda: tiled_attention(X[None], X, X, block_size=2), ValueError, "queries and keys", "both be 2-D (L, H) or both 3-D (B, L, H)", "got 3-D and 2-D"),
    "tiled float8": Bad(lambda: tiled_attention(X.to(F8), X, X, block_size=2), TypeError, "queries", SUPPORTED, "float8_e4m3fn"),
    "tiled overflow": Bad(lambda: tiled_attention(X * 1e30, X * 1e30, X, block_size=2), ValueError, "queries and keys are too large: the scores", "values small enough", "queries up to 8.9e+29"),
    "tiled causal int": Bad(lambda: tiled_attention(X, X, X, block_size=2, causal=1), TypeError, "causal", "a bool", "got int"),
    "full dtypes": Bad(lambda: full_attention(X, X, X.double()), TypeError, "queries and values", "same dtype", "torch.float32 and torch.float64"),
    "full overflow": Bad(lambda: full_attention(X * 1e30, X * 1e30, X), ValueError, "queries and keys", "values small enough", "queries up to 8.9e+29"),
    "cached overflow": Bad(lambda: cached_attention(X * 1e30, X * 1e30, X), ValueError, "queries and keys", "values small enough", "queries up to 8.9e+29"),
    "grouped overflow": Bad(lambda: grouped_query_attention(X[None] * 1e30, X[None] * 1e30, X[None]), ValueError, "queries and keys", "values small enough", "queries up to 8.9e+29"),
    "latent overflow": Bad(lambda: latent_attention(X * 1e30, LatentAttentionWeights(*(torch.eye(3),) * 4), 1), ValueError, "inputs and weights", "values small enough", "inputs up to 8.9e+29"),
    "full values 1-D": Bad(lambda: full_attention(X, X, X[0]), ValueError, "values", "(L, Hv) or (B, L, Hv) (2-D or 3-D)", "got shape (3,) (1-D)"),
    "online_softmax block_size str": Bad(lambda: online_softmax(X, block_size="2"), TypeError, "block_size", "a positive int", "got str"),
    "online_softmax scores NaN": Bad(lambda: online_softmax(torch.tensor([1.0, NAN]), block_size=1), ValueError, "scores", "finite values or -inf", "1 NaN"),
    "trace tokens": Bad(lambda: online_softmax_trace(X[0], X[:2], block_size=1), ValueError, "scores and values", "same number of tokens L", "got 3 and 2"),
    "trace scores 2-D": Bad(lambda: online_softmax_trace(X, X, block_size=1), ValueError, "scores", "(L,) (1-D)", "(6, 3) (2-D)"),
    "blocks tokens 0": Bad(lambda: attention_blocks(0, block_size=2), ValueError, "tokens", "a positive int", "got 0"),
    "working memory element_size": Bad(lambda: attention_working_memory(6, 4, element_size=0.5), TypeError, "element_size", "a positive int", "got float"),
    # --- chapter 6 ---------------------------------------------------------------------
    "sinusoidal dim odd": Bad(lambda: sinusoidal_positions(6, 3), ValueError, "dim", "must be even", "got 3"),
    "sinusoidal positions 0": Bad(lambda: sinusoidal_positions(0, 4), ValueError, "num_positions", "a positive int", "got 0"),
    "sinusoidal base 0": Bad(lambda: sinusoidal_positions(6, 4, base=0), ValueError, "base", "a finite number above 0", "got 0"),
    "sinusoidal dtype int": Bad(lambda: sinusoidal_positions(6, 4, dtype=torch.int64), TypeError, "dtype", "floating-point torch.dtype", "torch.int64"),
    "add_positions table short": Bad(lambda: add_positions(X, sinusoidal_positions(4, 3 + 1)[:, :3]), ValueError, "position table", "holds 4 positions", "inputs has 6 tokens"),
    "add_positions sizes": Bad(lambda: add_positions(X, sinusoidal_positions(6, 4)), ValueError, "inputs and table", "same embedding size E", "got 3 and 4"),
    "add_positions dtypes": Bad(lambda: add_positions(X, X.double()), TypeError, "inputs and table", "same dtype", "torch.float32 and torch.float64"),
    "rope_frequencies odd": Bad(lambda: rope_frequencies(5), ValueError, "head_dim", "must be even", "got 5"),
    "rope_frequencies base negative": Bad(lambda: rope_frequencies(4, base=-1.0), ValueError, "base", "a finite number above 0", "got -1.0"),
    "rope_frequencies base str": Bad(lambda: rope_frequencies(4, base="1e4"), TypeError, "base", "a number above 0", "got str"),
    "rope_angles float positions": Bad(lambda: rope_angles(torch.arange(3.0), 4), TypeError, "positions", "an integer tensor", "got dtype torch.float32"),
    "rope_angles negative": Bad(lambda: rope_angles(torch.tensor([0, -2]), 4), ValueError, "positions", "0 or more", "got -2 at index 1"),
    "rope_angles 2-D": Bad(lambda: rope_angles(torch.zeros(2, 2, dtype=torch.long), 4), ValueError, "positions", "1-D tensor (L,)", "got shape (2, 2)"),
    "rotate_half odd": Bad(lambda: rotate_half(X), ValueError, "x's last axis H", "must be even", "got 3"),
    "rotate_half int": Bad(lambda: rotate_half(torch.ones(4, dtype=torch.long)), TypeError, "x", "floating-point tensor", "torch.int64"),
    "apply_rope odd H": Bad(lambda: apply_rope(X), ValueError, "head size H", "must be even", "got 3"),
    "apply_rope 1-D": Bad(lambda: apply_rope(torch.ones(4)), ValueError, "x", "(..., L, H) (2-D or more)", "(4,) (1-D)"),
    "apply_rope positions length": Bad(lambda: apply_rope(torch.ones(6, 4), torch.arange(5)), ValueError, "positions and the tokens", "same length L", "got 5 and 6"),
    "apply_rope offset negative": Bad(lambda: apply_rope(torch.ones(6, 4), offset=-1), ValueError, "offset", "0 or more", "got -1"),
    "apply_rope offset float": Bad(lambda: apply_rope(torch.ones(6, 4), offset=1.0), TypeError, "offset", "an int", "got float"),
    "apply_rope offset and positions": Bad(lambda: apply_rope(torch.ones(6, 4), torch.arange(6), offset=2), ValueError, "positions or offset", "not both", "offset=2"),
    "apply_rope pairing": Bad(lambda: apply_rope(torch.ones(6, 4), pairing="complex"), ValueError, "pairing", "'halves' or 'interleaved'", "got 'complex'"),
    "apply_rope NaN": Bad(lambda: apply_rope(torch.full((6, 4), NAN)), ValueError, "x", "finite values", "24 NaN"),
    "position_table values": Bad(lambda: plotting.plot_position_table(X * 10, title="t"), ValueError, "table", "values in [-1, 1]", "got up to"),
    "position_table title": Bad(lambda: plotting.plot_position_table(WEIGHTS, title=3), TypeError, "title", "a string", "got int"),
    "rotating_pair zero": Bad(lambda: plotting.plot_rotating_pair(torch.zeros(2), torch.ones(2), [(1, 0)]), ValueError, "query", "not be the zero vector", "no direction"),
    "rotating_pair shape": Bad(lambda: plotting.plot_rotating_pair(torch.ones(3), torch.ones(2), [(1, 0)]), ValueError, "query", "shape (2,)", "got shape (3,)"),
    "rotating_pair positions": Bad(lambda: plotting.plot_rotating_pair(torch.ones(2), torch.ones(2), [(1, -1)]), ValueError, "position_pairs", "pairs of ints from 0", "got (1, -1)"),
    "rotating_pair stacked": Bad(lambda: plotting.plot_rotating_pair(torch.ones(2), torch.ones(2), [(1, 0)], stacked=1), TypeError, "stacked", "a bool", "got int"),
    "interleaved_to_halves odd": Bad(lambda: interleaved_to_halves(3), ValueError, "head_dim", "must be even", "got 3"),
    "rope_self_attention odd H": Bad(lambda: rope_self_attention(X, init_projection_weights(3, 3, seed=0)), ValueError, "head size H", "must be even", "got 3"),
    "rope_self_attention dtypes": Bad(lambda: rope_self_attention(X.double(), W), TypeError, "inputs and projection_weights", "same dtype", "torch.float64 and torch.float32"),
    "rope_self_attention causal int": Bad(lambda: rope_self_attention(X, W, causal=1), TypeError, "causal", "a bool", "got int"),
    "rope_self_attention E": Bad(lambda: rope_self_attention(torch.ones(6, 4), W), ValueError, "inputs and projection_weights", "same embedding size E", "got 4 and 3"),
    # --- chapter 7 (in progress) ---------------------------------------------------------
    "cache_mask more queries": Bad(lambda: cache_causal_mask(5, 3), ValueError, "queries", "at most 3 queries", "got 5"),
    "cache_mask queries 0": Bad(lambda: cache_causal_mask(0, 3), ValueError, "num_queries", "a positive int", "got 0"),
    "cached H": Bad(lambda: cached_attention(torch.ones(2, 4), torch.ones(3, 5), torch.ones(3, 5)), ValueError, "queries and keys", "same hidden size H", "got 4 and 5"),
    "cached leading axes": Bad(lambda: cached_attention(torch.ones(2, 1, 4), torch.ones(3, 3, 4), torch.ones(3, 3, 4)), ValueError, "queries and keys", "same leading axes", "got (2,) and (3,)"),
    "cached more queries": Bad(lambda: cached_attention(torch.ones(4, 4), torch.ones(3, 4), torch.ones(3, 4)), ValueError, "queries", "at most 3 queries", "got 4"),
    "cached dtypes": Bad(lambda: cached_attention(torch.ones(2, 4), torch.ones(3, 4).double(), torch.ones(3, 4)), TypeError, "queries and keys", "same dtype", "torch.float32 and torch.float64"),
    "cache batch changed": Bad(lambda: filled_cache().append(torch.ones(3, 1, 4), torch.ones(3, 1, 4)), ValueError, "keys", "match the cache's leading axes (batch, heads)", "got shape (3, 1, 4)"),
    "cache full": Bad(lambda: filled_cache(max_tokens=3).append(torch.ones(2, 2, 4), torch.ones(2, 2, 4)), ValueError, "max_tokens=3", "it has 2", "got 2 more"),
    "cache dtype": Bad(lambda: filled_cache().append(torch.ones(2, 1, 4).double(), torch.ones(2, 1, 4).double()), TypeError, "keys and the cached keys", "same dtype", "torch.float64 and torch.float32"),
    "cache keys and values": Bad(lambda: KVCache().append(torch.ones(2, 3, 4), torch.ones(2, 2, 4)), ValueError, "keys and values", "same leading axes and number of tokens", "(2, 3, 4) and (2, 2, 4)"),
    "cache max_tokens 0": Bad(lambda: KVCache(max_tokens=0), ValueError, "max_tokens", "a positive int", "got 0"),
    "kv_cache_bytes layers 0": Bad(lambda: kv_cache_bytes(layers=0, kv_heads=8, head_dim=128, tokens=1), ValueError, "layers", "a positive int", "got 0"),
    "kv_cache_bytes float": Bad(lambda: kv_cache_bytes(layers=1, kv_heads=8, head_dim=128, tokens=1.5), TypeError, "tokens", "a positive int", "got float"),
    "gqa kv_heads divide": Bad(lambda: grouped_query_attention(torch.ones(6, 3, 4), torch.ones(4, 3, 4), torch.ones(4, 3, 4)), ValueError, "kv_heads must divide the query heads", "each group", "got 6 query heads and 4 key/value heads"),
    "gqa no heads axis": Bad(lambda: grouped_query_attention(torch.ones(3, 4), torch.ones(3, 4), torch.ones(3, 4)), ValueError, "heads axis", "(..., heads, L, H) (3-D or more)", "got shapes (3, 4)"),
    "gqa kv heads differ": Bad(lambda: grouped_query_attention(torch.ones(4, 3, 4), torch.ones(2, 3, 4), torch.ones(1, 3, 4)), ValueError, "keys and values", "same number of key/value heads", "got 2 and 1"),
    "repeat_kv 2-D": Bad(lambda: repeat_kv_heads(torch.ones(3, 4), 2), ValueError, "x", "(..., kv_heads, L, H) (3-D or more)", "got shape (3, 4)"),
    "repeat_kv groups 0": Bad(lambda: repeat_kv_heads(torch.ones(2, 3, 4), 0), ValueError, "groups", "a positive int", "got 0"),
    "window 0": Bad(lambda: sliding_window_mask(3, 3, 0), ValueError, "window", "a positive int", "got 0"),
    "window device": Bad(lambda: sliding_window_mask(3, 3, 2, device=[]), TypeError, "device", "a torch.device", "got list"),
    "cache_mask device": Bad(lambda: cache_causal_mask(2, 3, device="nowhere"), ValueError, "device", "a device such as 'cpu'", "got 'nowhere'"),
    "cached window float": Bad(lambda: cached_attention(torch.ones(2, 4), torch.ones(3, 4), torch.ones(3, 4), window=2.0), TypeError, "window", "a positive int", "got float"),
    "cache window and max_tokens": Bad(lambda: KVCache(max_tokens=8, window=4), ValueError, "max_tokens or window", "not both", "max_tokens=8, window=4"),
    "latent weights": Bad(lambda: latent_attention(torch.ones(5, 16), (torch.ones(16, 16),) * 3, 2), TypeError, "weights", "a LatentAttentionWeights(query, down, up_key, up_value)", "got tuple"),
    "latent heads": Bad(lambda: latent_attention(torch.ones(5, 16), init_latent_attention_weights(16, 4, 2, 8, seed=0), 3), ValueError, "num_heads", "divide heads·H = 16", "got 3"),
    "latent R": Bad(lambda: latent_attention(torch.ones(5, 16), LatentAttentionWeights(torch.ones(16, 16), torch.ones(16, 4), torch.ones(5, 16), torch.ones(4, 16)), 2), ValueError, "weights.down and weights.up_key", "same latent size R", "got 4 and 5"),
    "latent E": Bad(lambda: latent_attention(torch.ones(5, 8), init_latent_attention_weights(16, 4, 2, 8, seed=0), 2), ValueError, "inputs and weights.query", "same embedding size E", "got 8 and 16"),
    "latent seed": Bad(lambda: init_latent_attention_weights(16, 4, 2, 8, seed=1.0), TypeError, "seed", "an int", "got float"),
    "masks not a mapping": Bad(lambda: plotting.plot_masks([causal_mask(3)]), TypeError, "masks", "a non-empty mapping of titles to boolean masks", "got list"),
    "masks float": Bad(lambda: plotting.plot_masks({"a": torch.ones(2, 3)}), TypeError, "masks['a']", "a boolean tensor", "got dtype torch.float32"),
    "masks more queries": Bad(lambda: plotting.plot_masks({"a": torch.ones(4, 3, dtype=torch.bool)}), ValueError, "masks['a']", "1 <= Lq <= Lk", "got shape (4, 3)"),
    # --- plotting ----------------------------------------------------------------------------
    "heatmaps titles None": Bad(lambda: plotting.plot_attention_heatmaps([WEIGHTS], TOKENS, titles=None), TypeError, "titles", "a sequence of strings", "got NoneType"),
    "heatmaps titles 3": Bad(lambda: plotting.plot_attention_heatmaps([WEIGHTS], TOKENS, titles=3), TypeError, "titles", "a sequence of strings", "got int"),
    "heatmaps titles count": Bad(lambda: plotting.plot_attention_heatmaps([WEIGHTS, WEIGHTS], TOKENS, titles=["a"]), ValueError, "titles", "one title per matrix (2)", "got 1 titles"),
    "heatmaps matrices not a sequence": Bad(lambda: plotting.plot_attention_heatmaps(iter([WEIGHTS]), TOKENS, titles=["a"]), TypeError, "weight_matrices", "a non-empty sequence of (L, L) tensors", "got list_iterator"),
    "heatmaps matrices a tensor": Bad(lambda: plotting.plot_attention_heatmaps(WEIGHTS, TOKENS, titles=["a"]), TypeError, "weight_matrices", "a non-empty sequence of (L, L) tensors", "got Tensor"),
    "heatmaps matrices empty": Bad(lambda: plotting.plot_attention_heatmaps((), TOKENS, titles=()), ValueError, "weight_matrices", "a non-empty sequence", "got an empty tuple"),
    "heatmaps decimals str": Bad(lambda: plotting.plot_attention_heatmaps([WEIGHTS], TOKENS, titles=["a"], decimals="2"), TypeError, "decimals", "an int from 0 to 8", "got str"),
    "heatmap decimals 9": Bad(lambda: plotting.plot_attention_heatmap(WEIGHTS, TOKENS, decimals=9), ValueError, "decimals", "an int from 0 to 8", "got 9"),
    "heatmap tokens count": Bad(lambda: plotting.plot_attention_heatmap(WEIGHTS, TOKENS[:5]), ValueError, "tokens", "one label per token (6)", "got 5 labels"),
    "heatmap tokens int": Bad(lambda: plotting.plot_attention_heatmap(WEIGHTS, 6), TypeError, "tokens", "a sequence of strings", "got int"),
    "query_weights decimals float": Bad(lambda: plotting.plot_query_weights(WEIGHTS[0], TOKENS, decimals=2.0), TypeError, "decimals", "an int from 0 to 8", "got float"),
    "query_weights index": Bad(lambda: plotting.plot_query_weights(WEIGHTS[0], TOKENS, query_index=10), IndexError, "query_index", "in [-6, 5]", "got 10"),
    "embeddings context shape": Bad(lambda: plotting.plot_embeddings_with_context(X, TOKENS, X[:4]), ValueError, "context", "the shape of inputs (6, 3)", "got (4, 3)"),
    "embeddings inputs int": Bad(lambda: plotting.plot_embeddings_with_context(X.long(), TOKENS, X), TypeError, "inputs", "floating-point tensor", "torch.int64"),
    "scaling tokens order": Bad(lambda: plotting.plot_scaling([2, 1], {"y": {"a": [1, 1]}}), ValueError, "tokens", "positive and increasing", "got [2, 1]"),
    "scaling series zero": Bad(lambda: plotting.plot_scaling([1, 2], {"y": {"a": [1, 0]}}), ValueError, "panels['y']['a']", "positive finite numbers", "got [1.0, 0.0]"),
    "flow result a tensor": Bad(lambda: plotting.plot_attention_flow(X, WEIGHTS), TypeError, "result", "an AttentionResult(scores, weights, context)", "got Tensor"),
    "flow scaled without projections": Bad(lambda: plotting.plot_attention_flow(X, simplified_self_attention(X), scaled=True), ValueError, "scaled=True", "needs projections", "no hidden size H"),
    # --- section 2.7: learning the weights -------------------------------------------------------
    "train steps 0": Bad(lambda: train_attention_towards(X, W, 1, 4, steps=0), ValueError, "steps", "a positive int", "got 0"),
    "train learning_rate negative": Bad(lambda: train_attention_towards(X, W, 1, 4, learning_rate=-1.0), ValueError, "learning_rate", "a positive, finite float", "got -1.0"),
    "focus key_index 6": Bad(lambda: attention_focus_loss(X, W, 1, 6), IndexError, "key_index", "in [-6, 5]", "got 6"),
    "blocks tile outside": Bad(lambda: plotting.plot_attention_blocks({"a": [(0, 3, 0, 3, False)]}, 2), ValueError, "a tile", "inside the (2, 2) matrix", "got (0, 3, 0, 3)"),
}


def test_no_case_of_the_tables_is_written_twice() -> None:
    """A key written twice in a dict literal silently drops the earlier case ('for_query index range' once did)."""
    import ast

    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    tables = [node.value for node in ast.walk(tree) if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Dict)]
    assert len(tables) >= 2  # CASES and ONE_SCORE_TO_MINUS_INF
    for table in tables:
        keys = [key.value for key in table.keys if isinstance(key, ast.Constant)]
        assert len(keys) == len(set(keys)), sorted({key for key in keys if keys.count(key) > 1})


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_bad_call_gets_a_clear_error_naming_argument_expectation_and_value(case: Bad) -> None:
    assert len(case.says) == 3, "a row of this table names the argument, what was expected and what was given"
    case.check()


def test_the_table_is_large_and_covers_the_public_api() -> None:
    assert len(CASES) >= 60
    sources = " ".join(case.call.__code__.co_names.__repr__() for case in CASES.values())
    covered = {name for name in [*attention_lab.__all__, *attention_lab.plotting.__all__] if name in sources}
    not_callable = {
        "TOKENS", "AttentionResult", "ProjectionWeights", "Projections", "AttentionBlock", "OnlineSoftmaxStep",
        "AttentionTraining", "MultiHeadResult", "ROPE_BASE",
    }
    missing = set(attention_lab.__all__) - not_callable - covered
    assert not missing, missing
    assert set(attention_lab.plotting.__all__) <= covered


# --- values checked through the result (issue 33) ------------------------------------------------
# The one-call functions check their arguments' types and shapes up front and their values through
# their results: a NaN or inf in an argument makes a result non-finite (IEEE 754), and only then are
# the arguments examined. The error must be the one a check up front gives, word for word, wherever
# the bad value sits, including where it meets exact zeros (0 * NaN and 0 * inf are NaN) and where
# a mask or a zero attention weight hides it.


def _arguments(function: str, zeros_meet: int) -> dict[str, torch.Tensor]:
    """Finite arguments of `function` (L = 4, E = 6, 2 heads), with the row or column that a bad value at
    feature `zeros_meet` multiplies set to zero (so nothing but IEEE arithmetic carries it on)."""
    generator = torch.Generator().manual_seed(33)
    x = torch.randn(4, 6, generator=generator)
    if function == "simplified_self_attention":
        x[1:, zeros_meet] = 0.0  # the other tokens' feature: the bad value's only partners are zeros
        return {"inputs": x}
    if function == "full_attention":
        q, k, v = (torch.randn(4, 6, generator=generator) for _ in range(3))
        k[:, zeros_meet] = 0.0  # a bad query feature meets only zero key features, and the other way round
        q[:, zeros_meet] = 0.0
        return {"queries": q, "keys": k, "values": v}
    size = 6
    weights = {name: torch.randn(6, size, generator=generator) / 3 for name in ("query", "key", "value", "out")}
    for matrix in weights.values():
        matrix[zeros_meet, :] = 0.0  # a bad input feature meets only zero weights
    x[:, zeros_meet] = 0.0  # a bad weight in row zeros_meet meets only zero inputs
    if function == "multihead_self_attention":
        named = {f"multihead_weights.{name}": matrix for name, matrix in weights.items()}
        return {**named, "multihead_weights.out_bias": torch.zeros(6), "inputs": x}
    return {**{f"projection_weights.{name}": weights[name] for name in ("query", "key", "value")}, "inputs": x}


def _call(function: str, arguments: dict[str, torch.Tensor]) -> object:
    values = list(arguments.values())
    if function == "simplified_self_attention":
        return simplified_self_attention(*values)
    if function == "full_attention":
        return full_attention(*values, causal=True)  # a bad value row of a later key meets masked (zero) weights
    if function == "multihead_self_attention":
        return multihead_self_attention(values[-1], MultiHeadWeights(*values[:5]), 2)
    weights = ProjectionWeights(*values[:3])
    return (trainable_self_attention if function == "trainable_self_attention" else causal_self_attention)(values[-1], weights)


ONE_CALL = ["simplified_self_attention", "trainable_self_attention", "causal_self_attention", "multihead_self_attention", "full_attention"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")], ids=["NaN", "+inf", "-inf"])
@pytest.mark.parametrize("function", ONE_CALL)
def test_a_bad_value_checked_through_the_result_is_reported_as_a_check_up_front_reports_it(function: str, bad: float) -> None:
    for name in _arguments(function, 0):
        for position in range(3):  # a few places in each argument, each meeting zeros where it can
            arguments = _arguments(function, zeros_meet=position % 2)
            tensor = arguments[name]
            index = (position % 2,) if tensor.dim() == 1 else (position % tensor.shape[0], position % 2)
            tensor[index] = bad
            expected = f"{name} must hold finite values, found 1 {'NaN' if bad != bad else ('+inf' if bad > 0 else '-inf')}"
            with pytest.raises(ValueError) as caught:
                _call(function, arguments)
            assert str(caught.value) == expected, (name, index)


@pytest.mark.parametrize("function", ONE_CALL)
def test_the_first_bad_argument_is_named_in_the_order_of_the_arguments_checks(function: str) -> None:
    arguments = _arguments(function, 0)
    for tensor in arguments.values():
        tensor.view(-1)[0] = float("nan")  # every argument bad: the first one checked is named
    first = next(iter(arguments))
    with pytest.raises(ValueError, match=f"^{first} must hold finite values"):
        _call(function, arguments)


# --- one rule for an overflowed score (issue 33) -------------------------------------------------
# A score that overflows to -inf where its row's maximum is finite gets weight 0 and leaves the
# context finite, so a check of the result alone misses it. Every function that computes scores
# raises for it, as for any other overflow. Token 1's query meets its own key in -1e40 (-inf in
# float32) and token 0's key in +1e20 (finite): K = -X, Q = V = X. Chapter 1 cannot meet it: there
# |x_i . x_j| <= max(|x_i|^2, |x_j|^2), so an overflowed score means an overflowed diagonal.
OVERFLOWING = torch.tensor([[-1.0, 0.0], [1e20, 0.0]])  # (L, E) = (2, 2)
_EYE = torch.eye(2)
_FLIPPED_KEYS = ProjectionWeights(_EYE, -_EYE, _EYE)
_FLIPPED_LATENT = LatentAttentionWeights(_EYE, _EYE, -_EYE, _EYE)
ONE_SCORE_TO_MINUS_INF: dict[str, Callable[[], object]] = {
    "trainable_self_attention": lambda: trainable_self_attention(OVERFLOWING, _FLIPPED_KEYS),
    "causal_self_attention": lambda: causal_self_attention(OVERFLOWING, _FLIPPED_KEYS),
    "multihead_self_attention": lambda: multihead_self_attention(OVERFLOWING, MultiHeadWeights(_EYE, -_EYE, _EYE, _EYE, torch.zeros(2)), 1),
    "rope_self_attention": lambda: rope_self_attention(OVERFLOWING, _FLIPPED_KEYS),
    "full_attention": lambda: full_attention(OVERFLOWING, -OVERFLOWING, OVERFLOWING),
    "full_attention causal": lambda: full_attention(OVERFLOWING, -OVERFLOWING, OVERFLOWING, causal=True),
    "tiled_attention": lambda: tiled_attention(OVERFLOWING, -OVERFLOWING, OVERFLOWING, block_size=2),
    "tiled_attention causal blocks of 1": lambda: tiled_attention(OVERFLOWING, -OVERFLOWING, OVERFLOWING, block_size=1, causal=True),
    "cached_attention": lambda: cached_attention(OVERFLOWING, -OVERFLOWING, OVERFLOWING),
    "grouped_query_attention": lambda: grouped_query_attention(OVERFLOWING[None], -OVERFLOWING[None], OVERFLOWING[None]),
    "latent_attention": lambda: latent_attention(OVERFLOWING, _FLIPPED_LATENT, 1),
    "latent_attention absorbed": lambda: latent_attention(OVERFLOWING, _FLIPPED_LATENT, 1, absorbed=True),
}


@pytest.mark.parametrize("call", ONE_SCORE_TO_MINUS_INF.values(), ids=ONE_SCORE_TO_MINUS_INF.keys())
def test_a_score_that_overflows_to_minus_inf_beside_a_finite_maximum_is_an_error(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"too large: the scores .* overflowed to inf in torch\.float32") as caught:
        call()
    assert "up to 1e+20" in str(caught.value)  # the size that overflowed is named


# --- a large finite result is a result, not an overflow ------------------------------------------
# A result is checked first by one sum of it (one reduction), and a sum can overflow where no value
# did; a failed sum only sends the check on to count the inf values. Here the tokens are in [1, 2)
# and the values 1e38 times them: every context value is a weighted average of values in
# [1e38, 2e38), finite in float32 (largest finite value 3.4e38), and the sum of the 12 positive
# context values overflows in any order. Multi-head attention once raised an overflow here.
# Not tiled_attention: it divides by the softmax's sum only after the last block, so its running
# sum of weight x value (up to 6 x 2e38) does leave the range, and its error says so.
LARGE = 1.0 + torch.rand(6, 2, generator=torch.Generator().manual_seed(36))  # (L, E) = (6, 2), in [1, 2)
_BIG = 1e38 * _EYE
_BIG_VALUES = ProjectionWeights(_EYE, _EYE, _BIG)


def _module_output(module: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        output = module(LARGE)
    assert isinstance(output, torch.Tensor)
    return output


def _causal_module() -> CausalSelfAttention:
    module = CausalSelfAttention(2, 2, seed=0)
    module.load_projection_weights(_BIG_VALUES)
    return module


def _multihead_module() -> MultiHeadAttention:
    module = MultiHeadAttention(2, 1, seed=0)
    module.load_multihead_weights(MultiHeadWeights(_EYE, _EYE, _EYE, _BIG, torch.zeros(2)))
    return module


LARGE_BUT_FINITE: dict[str, Callable[[], torch.Tensor]] = {
    "trainable_self_attention": lambda: trainable_self_attention(LARGE, _BIG_VALUES).context,
    "causal_self_attention": lambda: causal_self_attention(LARGE, _BIG_VALUES).context,
    "multihead_self_attention": lambda: multihead_self_attention(LARGE, MultiHeadWeights(_EYE, _EYE, _EYE, _BIG, None), 1).output,
    "CausalSelfAttention": lambda: _module_output(_causal_module()),
    "MultiHeadAttention": lambda: _module_output(_multihead_module()),
    "rope_self_attention": lambda: rope_self_attention(LARGE, _BIG_VALUES).context,
    "full_attention": lambda: full_attention(LARGE, LARGE, LARGE * 1e38),
    "full_attention causal": lambda: full_attention(LARGE, LARGE, LARGE * 1e38, causal=True),
    "cached_attention": lambda: cached_attention(LARGE, LARGE, LARGE * 1e38).context,
    "grouped_query_attention": lambda: grouped_query_attention(LARGE[None], LARGE[None], LARGE[None] * 1e38).context,
    "latent_attention": lambda: latent_attention(LARGE, LatentAttentionWeights(_EYE, _EYE, _EYE, _BIG), 1).context,
    "latent_attention absorbed": lambda: latent_attention(LARGE, LatentAttentionWeights(_EYE, _EYE, _EYE, _BIG), 1, absorbed=True).context,
}


@pytest.mark.parametrize("call", LARGE_BUT_FINITE.values(), ids=LARGE_BUT_FINITE.keys())
def test_a_large_finite_result_whose_sum_overflows_is_returned(call: Callable[[], torch.Tensor]) -> None:
    context = call()
    assert bool(torch.isfinite(context).all()) and bool((context >= 1e38).all())
    assert not torch.isfinite(context.sum())  # so the check's first sum failed, and it looked closer
