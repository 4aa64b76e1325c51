"""Chapter 4 (attention_lab.multihead_attention): three forms of multi-head attention agree.

Tolerances: float32 compares with `atol=1e-5, rtol=1e-4` (values of order 1,
products of a few hundred terms at most), float64 with `atol=1e-10, rtol=1e-9`.
The wrapper and the one-matrix form run the same chapter 3 kernel on the same
numbers, arranged differently; `torch.nn.MultiheadAttention` and
`scaled_dot_product_attention` run PyTorch's own kernels.
"""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import attention_lab.causal_attention as chapter_3
import attention_lab.multihead_attention as chapter_4
from attention_lab import (
    CausalSelfAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    MultiHeadWeights,
    causal_mask,
    causal_padding_mask,
    merge_heads,
    multihead_parameter_count,
    multihead_self_attention,
    padding_mask,
    split_heads,
    to_torch_multihead,
)

from .common import Bad, X

TOLERANCE = {torch.float32: {"atol": 1e-5, "rtol": 1e-4}, torch.float64: {"atol": 1e-10, "rtol": 1e-9}}
DTYPES = [torch.float32, torch.float64]
SEEDS = range(6)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def close(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    return actual.shape == expected.shape and bool(torch.allclose(actual, expected, **TOLERANCE[expected.dtype]))


def random_case(seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, list[int], int, int]:
    """A random batch (B, L, E), the real lengths of its sentences, the heads and H."""
    source = generator(1000 + seed)
    batch, tokens = (int(n) for n in torch.randint(1, 5, (2,), generator=source) + torch.tensor([0, 1]))
    heads, hidden = (int(n) for n in torch.randint(1, 5, (2,), generator=source))
    inputs = torch.randn(batch, tokens, heads * hidden, generator=source, dtype=dtype)
    lengths = [int(n) for n in torch.randint(1, tokens + 1, (batch,), generator=source)]
    return inputs, lengths, heads, hidden


def matching_pair(embed_dim: int, heads: int, seed: int, dtype: torch.dtype) -> tuple[MultiHeadAttentionWrapper, MultiHeadAttention]:
    """A wrapper and a one-matrix module with the same heads, W_o = I and no bias."""
    wrapper = MultiHeadAttentionWrapper(embed_dim, embed_dim // heads, heads, seed=seed, dtype=dtype)
    module = MultiHeadAttention(embed_dim, heads, out_bias=False, seed=seed, dtype=dtype)
    module.load_multihead_weights(MultiHeadWeights(*wrapper.projection_weights(), torch.eye(embed_dim, dtype=dtype), None))
    return wrapper, module


def sdpa_per_head(module: MultiHeadAttention, inputs: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """PyTorch's fused attention on the split heads, merged, then W_o and b_o."""
    weights = module.multihead_weights()
    q, k, v = (split_heads(inputs @ matrix, module.num_heads) for matrix in weights[:3])  # (B, heads, L, H)
    if module.causal:
        causal = causal_mask(inputs.shape[-2])
        keep = causal if keep is None else keep & causal
    attn_mask = None if keep is None else (keep.unsqueeze(-3) if keep.dim() == 3 else keep)
    context = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, heads, L, H)
    output = merge_heads(context) @ weights.out
    return output if weights.out_bias is None else output + weights.out_bias


# --- chapter 3 reused ------------------------------------------------------------------------------


def test_chapter_3_is_reused_not_copied() -> None:
    assert chapter_4._attend is chapter_3._attend
    wrapper = MultiHeadAttentionWrapper(3, 2, 2, seed=0)
    assert all(type(head) is CausalSelfAttention for head in wrapper.heads)
    source = inspect.getsource(chapter_4)
    assert "masked_fill" not in source and "softmax(" not in source.replace("softmax\\Big", "")


def test_every_docstring_taking_a_mask_states_the_polarity() -> None:
    for name in chapter_4.__all__:
        obj = getattr(chapter_4, name)
        for function in [obj, obj.forward] if inspect.isclass(obj) and hasattr(obj, "forward") else [obj]:
            if "mask" in inspect.signature(function).parameters:
                assert "`True` = may attend" in " ".join(function.__doc__.split()), name


# --- splitting and merging heads ------------------------------------------------------------------------


def test_split_heads_gives_each_head_its_own_columns_of_every_token() -> None:
    features = torch.arange(24.0).reshape(2, 3, 4)  # (B, L, heads*H), 2 heads of 2
    heads = split_heads(features, 2)  # (B, heads, L, H)
    assert heads.shape == (2, 2, 3, 2)
    for h in range(2):
        assert torch.equal(heads[:, h], features[..., 2 * h : 2 * h + 2])
    assert heads.data_ptr() == features.data_ptr()  # a view, no copy
    assert torch.equal(merge_heads(heads), features)


def trap_split(tensor: torch.Tensor, num_heads: int) -> torch.Tensor:
    """The reshape trap: `view` straight to (..., heads, L, H), no transpose."""
    *lead, tokens, features = tensor.shape
    return tensor.reshape(*lead, num_heads, tokens, features // num_heads)


def trap_merge(tensor: torch.Tensor) -> torch.Tensor:
    """The merging trap: reshape (..., heads, L, H) straight to (..., L, heads*H)."""
    *lead, heads, tokens, hidden = tensor.shape
    return tensor.reshape(*lead, tokens, heads * hidden)


@pytest.mark.parametrize(("split", "merge"), [(trap_split, chapter_4._merge_heads), (chapter_4._split_heads, trap_merge), (trap_split, trap_merge)])
def test_the_reshape_trap_in_the_package_would_fail_the_equivalence(monkeypatch, split, merge) -> None:
    inputs = torch.randn(2, 5, 6, generator=generator(0))
    wrapper, module = matching_pair(6, 3, seed=0, dtype=torch.float32)
    with torch.no_grad():
        right = module(inputs)
        assert close(right, wrapper(inputs))
        monkeypatch.setattr(chapter_4, "_split_heads", split)
        monkeypatch.setattr(chapter_4, "_merge_heads", merge)
        trapped = module(inputs)
    assert trapped.shape == right.shape  # the same shape...
    assert not close(trapped, wrapper(inputs))  # ...and a different output: the equivalence test catches it


def test_one_head_cannot_spring_the_trap() -> None:
    inputs = torch.randn(4, 3)
    assert torch.equal(trap_split(inputs, 1), split_heads(inputs, 1))


# --- wrapper = one matrix = nn.MultiheadAttention = SDPA per head ---------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_wrapper_equals_one_matrix_form_with_the_stacked_layout(seed: int, dtype: torch.dtype) -> None:
    inputs, lengths, heads, hidden = random_case(seed, dtype)
    wrapper, module = matching_pair(heads * hidden, heads, seed, dtype)
    keep = causal_padding_mask(lengths, inputs.shape[1])
    with torch.no_grad():
        for mask in (None, keep):
            wrapped, wrapped_weights = wrapper(inputs, mask=mask, return_weights=True)
            output, weights = module(inputs, mask=mask, return_weights=True)
            assert close(output, wrapped)
            assert close(weights, wrapped_weights)
        single = module(inputs[0])  # unbatched (L, E)
        assert close(single, wrapper(inputs[0]))


def test_the_same_seed_gives_the_same_heads_in_both_forms() -> None:
    wrapper = MultiHeadAttentionWrapper(6, 2, 3, seed=7)
    module = MultiHeadAttention(6, 3, seed=7)
    for ours, theirs in zip(module.multihead_weights()[:3], wrapper.projection_weights()):
        assert torch.equal(ours, theirs)


def test_each_head_of_the_wrapper_is_chapter_3s_module() -> None:
    wrapper = MultiHeadAttentionWrapper(3, 4, 2, seed=123)
    with torch.no_grad():
        context, weights = wrapper(X, return_weights=True)
        for h, head in enumerate(wrapper.heads):
            alone, alone_weights = head(X, return_weights=True)
            assert torch.equal(context[:, 4 * h : 4 * h + 4], alone)
            assert torch.equal(weights[h], alone_weights)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("batch_first", [True, False])
def test_one_matrix_form_equals_torch_multihead_attention(seed: int, dtype: torch.dtype, causal: bool, batch_first: bool) -> None:
    inputs, lengths, heads, hidden = random_case(seed, dtype)
    tokens = inputs.shape[1]
    module = MultiHeadAttention(heads * hidden, heads, causal=causal, seed=seed, dtype=dtype).eval()
    theirs = to_torch_multihead(module, batch_first=batch_first)
    real = padding_mask(lengths, tokens)  # (B, L): True = real token
    attn_mask = ~causal_mask(tokens) if causal else None  # PyTorch: True = masked out
    x = inputs if batch_first else inputs.transpose(0, 1)  # (L, B, E) when not batch_first
    with torch.no_grad():
        for keys in (None, real):
            ours, our_weights = module(inputs, mask=None if keys is None else keys[:, None, :], return_weights=True)
            output, weights = theirs(
                x, x, x,
                attn_mask=attn_mask,
                key_padding_mask=None if keys is None else ~keys,
                average_attn_weights=False,
            )  # fmt: skip
            output = output if batch_first else output.transpose(0, 1)
            assert close(output, ours)
            assert close(weights, our_weights)  # (B, heads, L, L), per head
            _, averaged = theirs(x, x, x, attn_mask=attn_mask, key_padding_mask=None if keys is None else ~keys)
            assert close(averaged, our_weights.mean(dim=1))  # its default: the mean over heads


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("causal", [True, False])
def test_one_matrix_form_equals_sdpa_on_the_split_heads(seed: int, dtype: torch.dtype, causal: bool) -> None:
    inputs, lengths, heads, hidden = random_case(seed, dtype)
    module = MultiHeadAttention(heads * hidden, heads, causal=causal, seed=seed, dtype=dtype)
    keys = padding_mask(lengths, inputs.shape[1])[:, None, :]  # (B, 1, L)
    with torch.no_grad():
        for mask in (None, keys):
            assert close(module(inputs, mask=mask), sdpa_per_head(module, inputs, mask))


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_function_equals_the_module(dtype: torch.dtype) -> None:
    inputs, lengths, heads, hidden = random_case(3, dtype)
    module = MultiHeadAttention(heads * hidden, heads, seed=3, dtype=dtype)
    mask = causal_padding_mask(lengths, inputs.shape[1])
    with torch.no_grad():
        result = multihead_self_attention(inputs, module.multihead_weights(), heads, mask=mask)
        # Not bit for bit: the module multiplies by its parameters (requires_grad), which can take
        # another matmul kernel than the plain tensors the function gets, even under no_grad.
        assert close(result.output, module(inputs, mask=mask))
    assert result.scores.shape == result.weights.shape == (inputs.shape[0], heads, inputs.shape[1], inputs.shape[1])
    assert torch.equal(torch.isneginf(result.scores), result.weights == 0)
    assert torch.equal(result.output, result.context @ module.W_out.detach() + module.out_bias.detach())  # the same two operations


def test_a_fully_masked_row_gives_zeros_in_every_head_not_nan() -> None:
    module = MultiHeadAttention(4, 2, causal=False, out_bias=False, seed=0)
    keep = torch.ones(6, 6, dtype=torch.bool)
    keep[2] = False  # query 2 may attend to nothing
    with torch.no_grad():
        output, weights = module(torch.randn(6, 4, generator=generator(0)), mask=keep, return_weights=True)
    assert torch.equal(weights[:, 2], torch.zeros(2, 6))
    assert torch.equal(output[2], torch.zeros(4))


# --- dropout, train and eval -------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["wrapper", "matrix"])
def test_dropout_comes_from_the_generator_and_vanishes_in_eval(form: str) -> None:
    module: nn.Module = (
        MultiHeadAttentionWrapper(3, 1, 3, dropout=0.5, seed=7) if form == "wrapper" else MultiHeadAttention(3, 3, dropout=0.5, seed=7)
    )
    with torch.no_grad():
        first = module(X, generator=generator(1))
        again = module(X, generator=generator(1))
        other = module(X, generator=generator(2))
        _, dropped = module(X, generator=generator(1), return_weights=True)
        module.eval()
        plain, weights = module(X, return_weights=True)
    assert torch.equal(first, again) and not torch.equal(first, other)
    kept = dropped != 0
    assert torch.allclose(dropped[kept], 2 * weights[kept])  # survivors scaled by 1 / (1 - p)
    assert 0 < int((weights.ne(0) & ~kept).sum())  # something was dropped
    with pytest.raises(ValueError, match="generator must be a torch.Generator while dropout is active"):
        module.train()(X)


def test_modules_store_nothing_between_calls() -> None:
    module = MultiHeadAttention(3, 3, seed=7)
    before = dict(vars(module))
    with torch.no_grad():
        module(X, return_weights=True)
    assert dict(vars(module)).keys() == before.keys()


# --- gradients -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["wrapper", "matrix"])
def test_gradcheck_in_float64_through_both_forms(form: str) -> None:
    inputs = torch.randn(2, 3, 4, generator=generator(0), dtype=torch.float64, requires_grad=True)
    module: nn.Module = (
        MultiHeadAttentionWrapper(4, 2, 2, seed=0, dtype=torch.float64) if form == "wrapper" else MultiHeadAttention(4, 2, seed=0, dtype=torch.float64)
    )
    mask = causal_padding_mask([3, 2], 3)
    names = [name for name, _ in module.named_parameters()]

    def run(x: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(module, dict(zip(names, values)), (x,), {"mask": mask})

    values = tuple(parameter.detach().clone().requires_grad_(True) for parameter in module.parameters())
    assert torch.autograd.gradcheck(run, (inputs, *values))


def test_the_module_trains() -> None:
    module = MultiHeadAttention(6, 2, seed=0)
    loss = module(torch.randn(2, 4, 6, generator=generator(0))).square().mean()
    loss.backward()
    assert all(p.grad is not None and bool(p.grad.ne(0).any()) for p in module.parameters())


# --- sizes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("embed_dim", "heads", "qkv_bias", "out_bias"), [(768, 12, False, True), (12, 3, True, True), (8, 8, False, False), (6, 1, True, False)])
def test_the_parameter_count_formula_matches_torch_and_the_module(embed_dim: int, heads: int, qkv_bias: bool, out_bias: bool) -> None:
    count = multihead_parameter_count(embed_dim, heads, qkv_bias=qkv_bias, out_bias=out_bias)
    if qkv_bias == out_bias:
        torch_module = nn.utils.skip_init(nn.MultiheadAttention, embed_dim, heads, bias=qkv_bias)
        assert count == sum(p.numel() for p in torch_module.parameters())
    if not qkv_bias:
        ours = MultiHeadAttention(embed_dim, heads, out_bias=out_bias, seed=0)
        assert count == sum(p.numel() for p in ours.parameters())
    assert multihead_parameter_count(768, 12) == 2_360_064


def test_the_copy_into_torch_stacks_the_transposed_matrices() -> None:
    module = MultiHeadAttention(6, 2, seed=0)
    theirs = to_torch_multihead(module, batch_first=False)
    weights = module.multihead_weights()
    assert torch.equal(theirs.in_proj_weight[:6], weights.query.T)
    assert torch.equal(theirs.in_proj_weight[6:12], weights.key.T)
    assert torch.equal(theirs.in_proj_weight[12:], weights.value.T)
    assert torch.equal(theirs.out_proj.weight, weights.out.T)
    assert torch.equal(theirs.out_proj.bias, weights.out_bias)
    assert not theirs.batch_first and theirs.training
    no_bias = to_torch_multihead(MultiHeadAttention(6, 2, out_bias=False, seed=0))
    assert no_bias.in_proj_bias is None and no_bias.out_proj.bias is None


# --- bad input gets a clear error --------------------------------------------------------------------------

MODULE = MultiHeadAttention(6, 2, seed=0)
WRAPPER = MultiHeadAttentionWrapper(6, 3, 2, seed=0)
BATCH = torch.randn(2, 5, 6, generator=generator(0))
IDENTITY = MultiHeadWeights(*(torch.eye(6) for _ in range(4)), None)


@pytest.mark.parametrize(
    "case",
    [
        # heads that do not divide the model size
        Bad(lambda: MultiHeadAttention(6, 4, seed=0), ValueError, "the model size E must be divisible by num_heads (each head gets H = E / heads features), got E=6 and num_heads=4"),
        Bad(lambda: multihead_self_attention(BATCH, IDENTITY, 5), ValueError, "got E=6 and num_heads=5"),
        Bad(lambda: split_heads(BATCH, 4), ValueError, "got E=6 and num_heads=4"),
        Bad(lambda: multihead_parameter_count(768, 10), ValueError, "got E=768 and num_heads=10"),
        Bad(lambda: MultiHeadAttention(6, 0, seed=0), ValueError, "num_heads must be a positive int, got 0"),
        Bad(lambda: MultiHeadAttentionWrapper(6, 3, 2.0, seed=0), TypeError, "num_heads must be a positive int, got float"),
        # masks of the wrong shape or dtype
        Bad(lambda: MODULE(BATCH, mask=torch.ones(3, 5, 5, dtype=torch.bool)), ValueError, "mask must broadcast to the scores' shape (B, L, L) = (2, 5, 5), got shape (3, 5, 5)"),
        Bad(lambda: WRAPPER(BATCH, mask=torch.ones(5, 4, dtype=torch.bool)), ValueError, "mask must broadcast to the scores' shape (B, L, L) = (2, 5, 5), got shape (5, 4)"),
        Bad(lambda: multihead_self_attention(BATCH[0], IDENTITY, 2, mask=torch.ones(2, 5, 5, dtype=torch.bool)), ValueError, "mask must broadcast to the scores' shape (L, L) = (5, 5), got shape (2, 5, 5)"),
        Bad(lambda: MODULE(BATCH, mask=causal_mask(5).float()), TypeError, "mask must be a boolean tensor (True = may attend, False = masked out), got dtype torch.float32"),
        # sizes that do not match
        Bad(lambda: MODULE(torch.ones(2, 5, 4)), ValueError, "inputs and the module must have the same embedding size E, got 4 and 6"),
        Bad(lambda: WRAPPER(torch.ones(5, 3)), ValueError, "inputs and the module must have the same embedding size E, got 3 and 6"),
        Bad(lambda: multihead_self_attention(torch.ones(5, 4), IDENTITY, 2), ValueError, "inputs and multihead_weights must have the same embedding size E, got 4 and 6"),
        Bad(lambda: multihead_self_attention(BATCH, IDENTITY._replace(out=torch.eye(4)), 2), ValueError, "multihead_weights.out must have shape (E, E) = (6, 6), the model size of multihead_weights.query, got (4, 4)"),
        Bad(lambda: multihead_self_attention(BATCH, IDENTITY._replace(out_bias=torch.zeros(4)), 2), ValueError, "multihead_weights.out and multihead_weights.out_bias must have the same size E, got 6 and 4"),
        Bad(lambda: multihead_self_attention(BATCH, (torch.eye(6),) * 3, 2), TypeError, "multihead_weights must be a MultiHeadWeights(query, key, value, out, out_bias), got tuple"),
        Bad(lambda: MODULE.load_multihead_weights(MultiHeadWeights(*(torch.eye(4) for _ in range(4)), None)), ValueError, "multihead_weights must have model size E = 6 to match the module, got 4"),
        Bad(lambda: MODULE.load_multihead_weights(IDENTITY), ValueError, "out_bias: the module has an output bias, got None"),
        # ranks and dtypes
        Bad(lambda: MODULE(BATCH.unsqueeze(0)), ValueError, "inputs must have shape (L, E) or (B, L, E) (2-D or 3-D), got shape (1, 2, 5, 6) (4-D)"),
        Bad(lambda: MODULE(BATCH.double()), TypeError, "inputs and the module's parameters must have the same dtype, got torch.float64 and torch.float32"),
        Bad(lambda: merge_heads(torch.ones(5, 6)), ValueError, "tensor must have shape (..., heads, L, H) (3-D or more), got shape (5, 6) (2-D)"),
        Bad(lambda: split_heads(torch.ones(6), 2), ValueError, "tensor must have shape (..., L, E) (2-D or more), got shape (6,) (1-D)"),
        # dropout and generators
        Bad(lambda: MultiHeadAttention(6, 2, dropout=0.5, seed=0)(BATCH), ValueError, "generator must be a torch.Generator while dropout is active (training mode, dropout=0.5), got None"),
        Bad(lambda: multihead_self_attention(BATCH, IDENTITY, 2, dropout=0.1), ValueError, "generator must be a torch.Generator when dropout > 0"),
        Bad(lambda: MultiHeadAttentionWrapper(6, 3, 2, dropout=1.0, seed=0), ValueError, "dropout must be in [0, 1) (the fraction of weights dropped), got 1.0"),
        # finite inputs whose products overflow (float16: largest finite value 65504)
        Bad(lambda: MultiHeadAttention(6, 2, seed=0, dtype=torch.float16)(BATCH.half() * 1e4), ValueError, "inputs and W_q, W_k, W_v are too large: the projections inputs @ W overflowed to inf in torch.float16"),
        Bad(lambda: MultiHeadAttentionWrapper(6, 3, 2, seed=0, dtype=torch.float16)(BATCH.half() * 1e4), ValueError, "inputs and the heads' W_q, W_k, W_v are too large"),
        Bad(lambda: multihead_self_attention(BATCH, IDENTITY._replace(out=torch.eye(6) * 3e38), 2), ValueError, "inputs and multihead_weights are too large: multi-head attention overflowed"),
        # flags and modules
        Bad(lambda: MODULE(BATCH, return_weights=1), TypeError, "return_weights must be a bool (True or False), got int"),
        Bad(lambda: multihead_self_attention(BATCH, IDENTITY, 2, causal=None), TypeError, "causal must be a bool (True or False), got NoneType"),
        Bad(lambda: to_torch_multihead(WRAPPER), TypeError, "module must be an attention_lab.MultiHeadAttention, got MultiHeadAttentionWrapper"),
        Bad(lambda: to_torch_multihead(MultiHeadAttention(6, 2, scaled=False, seed=0)), ValueError, "module must be scaled (scaled=True)"),
    ],
)
def test_bad_input_gets_a_clear_error(case: Bad) -> None:
    case.check()
