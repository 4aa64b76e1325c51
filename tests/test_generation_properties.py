"""Chapter 7, in progress: the KV cache against Hugging Face's, on a tiny random Llama (tolerances).

- one Llama attention layer of `transformers` (grouped-query, RoPE, `DynamicCache`), built from a
  small `LlamaConfig` with random weights, nothing downloaded: fed a prompt, then one token at a
  time, then a chunk, it gives the outputs our package computes from the same weights (our RoPE
  with the cache's length as offset, our KV cache, our grouped-query attention);
- a tiny random `LlamaForCausalLM`: logits with and without its cache agree, greedy tokens equal.

Not rerun under other CPU kernels (tests/test_any_cpu.py): comparisons with tolerances.
"""

from __future__ import annotations

import os

import pytest
import torch

from attention_lab.generation import KVCache, cache_causal_mask, grouped_query_attention
from attention_lab.positions import apply_rope

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched: configs and random weights only
from transformers import DynamicCache, LlamaConfig, LlamaForCausalLM  # noqa: E402
from transformers.models.llama.modeling_llama import LlamaAttention, LlamaRotaryEmbedding  # noqa: E402

# float32; largest differences seen here: 6e-8 (layer outputs, ours vs theirs), 6e-8 (logits with vs
# without the cache): matrix products of other shapes, summed in another order.
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def tiny_config(**overrides: object) -> LlamaConfig:
    settings = {"hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
                "intermediate_size": 64, "num_hidden_layers": 2, "vocab_size": 97, "max_position_embeddings": 256,
                "rope_parameters": {"rope_type": "default", "rope_theta": 10_000.0}}  # fmt: skip
    config = LlamaConfig(**{**settings, **overrides})
    config._attn_implementation = "eager"
    return config


def ours_step(layer: LlamaAttention, x: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Our package with the layer's weights: project, turn by position, cache, attend, project."""
    batch, length, _ = x.shape
    heads, kv_heads, head_dim = layer.config.num_attention_heads, layer.config.num_key_value_heads, layer.head_dim

    def split(t: torch.Tensor, count: int) -> torch.Tensor:
        return t.view(batch, length, count, head_dim).transpose(1, 2)  # (B, heads, Ln, H)

    q = split(x @ layer.q_proj.weight.T, heads)
    k = split(x @ layer.k_proj.weight.T, kv_heads)
    v = split(x @ layer.v_proj.weight.T, kv_heads)
    offset = len(cache)
    keys, values = cache.append(apply_rope(k, offset=offset), v)
    context = grouped_query_attention(apply_rope(q, offset=offset), keys, values).context  # (B, heads, Ln, H)
    return context.transpose(1, 2).reshape(batch, length, heads * head_dim) @ layer.o_proj.weight.T


def theirs_step(layer: LlamaAttention, rotary: LlamaRotaryEmbedding, x: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
    batch, length, _ = x.shape
    seen = cache.get_seq_length()
    positions = torch.arange(seen, seen + length)[None].expand(batch, -1)
    keep = cache_causal_mask(length, seen + length)  # Llama's model builds this mask; the layer takes it
    mask = torch.zeros(keep.shape).masked_fill(~keep, float("-inf"))[None, None]  # (1, 1, Ln, L)
    output, _ = layer(x, position_embeddings=rotary(x, positions), attention_mask=mask, cache=cache)
    return output


def test_our_cache_gives_what_a_transformers_llama_layer_gives_step_by_step() -> None:
    torch.manual_seed(0)  # transformers draws its random weights from the global generator
    config = tiny_config()
    layer, rotary = LlamaAttention(config, layer_idx=0).eval(), LlamaRotaryEmbedding(config)
    inputs = torch.randn(2, 12, 32, generator=torch.Generator().manual_seed(1))
    ours, theirs = KVCache(), DynamicCache(config=config)
    with torch.no_grad():
        for start, size in [(0, 5), (5, 1), (6, 1), (7, 3), (10, 2)]:  # prompt, two tokens, two chunks
            x = inputs[:, start : start + size]
            torch.testing.assert_close(ours_step(layer, x, ours), theirs_step(layer, rotary, x, theirs), **TOLERANCE)
    assert len(ours) == theirs.get_seq_length() == 12


def test_a_tiny_llama_gives_the_same_logits_and_tokens_with_and_without_its_cache() -> None:
    torch.manual_seed(1)
    model = LlamaForCausalLM(tiny_config()).eval()
    prompt = torch.tensor([[5, 17, 42, 8, 61]])
    with torch.no_grad():
        cached = model.generate(prompt, max_new_tokens=12, do_sample=False, use_cache=True,
                                output_logits=True, return_dict_in_generate=True, pad_token_id=0)  # fmt: skip
        uncached = model.generate(prompt, max_new_tokens=12, do_sample=False, use_cache=False,
                                  output_logits=True, return_dict_in_generate=True, pad_token_id=0)  # fmt: skip
    assert torch.equal(cached.sequences, uncached.sequences)
    for with_cache, without in zip(cached.logits, uncached.logits, strict=True):
        torch.testing.assert_close(with_cache, without, **TOLERANCE)
    assert cached.sequences.shape == (1, 17)


@pytest.mark.parametrize("kv_heads", [1, 4])
def test_mqa_and_mha_layers_agree_too(kv_heads: int) -> None:
    torch.manual_seed(2)
    config = tiny_config(num_key_value_heads=kv_heads)
    layer, rotary = LlamaAttention(config, layer_idx=0).eval(), LlamaRotaryEmbedding(config)
    inputs = torch.randn(1, 6, 32, generator=torch.Generator().manual_seed(3))
    ours, theirs = KVCache(), DynamicCache(config=config)
    with torch.no_grad():
        for start, size in [(0, 4), (4, 1), (5, 1)]:
            x = inputs[:, start : start + size]
            torch.testing.assert_close(ours_step(layer, x, ours), theirs_step(layer, rotary, x, theirs), **TOLERANCE)
