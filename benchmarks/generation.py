"""Tokens per second of greedy generation with and without a KV cache (chapter 7, in progress).

    .venv/bin/python benchmarks/generation.py        # writes docs/data/generation-benchmark.json

A small decoder made of the package's pieces, random weights from a seed (no download):
token and unembedding matrices, and `LAYERS` blocks of pre-LayerNorm grouped-query attention
with rotary positions (`apply_rope`, `grouped_query_attention`, one `KVCache` per layer) and a
GELU MLP. From a prompt of `PROMPT` tokens it generates `NEW_TOKENS` more, greedily:

- **with the cache**: the prompt once (prefill), then one token a step against the cache;
- **without**: every step runs the whole sequence so far again (a fresh cache each step).

Both must produce the same tokens (printed, and recorded). The two are timed in turns,
`ROUNDS` times (with, without, with, ...), so a change in the machine's speed during the run
touches both; the results are each round's tokens per second and the ratio, as median, min and
max. It prints a table and asserts nothing: a busy machine must not fail anything.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "data" / "generation-benchmark.json"
VOCAB, EMBED, HEADS, KV_HEADS, HEAD_DIM, LAYERS = 512, 512, 8, 2, 64, 6
PROMPT, NEW_TOKENS, ROUNDS, THREADS, SEED = 16, 200, 5, 2, 0

sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from attention_lab.generation import KVCache, grouped_query_attention  # noqa: E402
from attention_lab.positions import apply_rope  # noqa: E402
from memory import _machine  # noqa: E402  (benchmarks/memory.py: the CPU's name, cores, system)


def weights(seed: int) -> dict[str, Any]:
    """Random weights of the decoder, each drawn like nn.Linear's default from one generator."""
    generator = torch.Generator().manual_seed(seed)

    def draw(rows: int, columns: int) -> torch.Tensor:
        bound = rows**-0.5
        return torch.empty(rows, columns).uniform_(-bound, bound, generator=generator)

    layers = [{"q": draw(EMBED, HEADS * HEAD_DIM), "k": draw(EMBED, KV_HEADS * HEAD_DIM),
               "v": draw(EMBED, KV_HEADS * HEAD_DIM), "o": draw(HEADS * HEAD_DIM, EMBED),
               "up": draw(EMBED, 4 * EMBED), "down": draw(4 * EMBED, EMBED)} for _ in range(LAYERS)]  # fmt: skip
    return {"embed": torch.randn(VOCAB, EMBED, generator=generator), "layers": layers, "unembed": draw(EMBED, VOCAB)}


def forward(model: dict[str, Any], tokens: torch.Tensor, caches: list[KVCache]) -> torch.Tensor:
    """The logits of the last of `tokens` (the new ones), the earlier ones being in `caches`."""
    x = model["embed"][tokens]  # (Ln, E)
    length = x.shape[0]
    for layer, cache in zip(model["layers"], caches, strict=True):
        h = F.layer_norm(x, (EMBED,))
        q = (h @ layer["q"]).view(length, HEADS, HEAD_DIM).transpose(0, 1)  # (heads, Ln, H)
        k = (h @ layer["k"]).view(length, KV_HEADS, HEAD_DIM).transpose(0, 1)  # (kv_heads, Ln, H)
        v = (h @ layer["v"]).view(length, KV_HEADS, HEAD_DIM).transpose(0, 1)
        offset = len(cache)
        keys, values = cache.append(apply_rope(k, offset=offset), v)  # (kv_heads, L, H) each
        context = grouped_query_attention(apply_rope(q, offset=offset), keys, values).context
        x = x + context.transpose(0, 1).reshape(length, HEADS * HEAD_DIM) @ layer["o"]
        x = x + F.gelu(F.layer_norm(x, (EMBED,)) @ layer["up"]) @ layer["down"]
    return F.layer_norm(x[-1], (EMBED,)) @ model["unembed"]  # (vocab,)


def generate(model: dict[str, Any], prompt: torch.Tensor, new_tokens: int, *, cached: bool) -> list[int]:
    tokens = prompt.tolist()
    caches = [KVCache() for _ in range(LAYERS)]
    step_input = prompt
    for _ in range(new_tokens):
        if not cached:  # the whole sequence again, from nothing
            caches = [KVCache() for _ in range(LAYERS)]
            step_input = torch.tensor(tokens)
        token = int(forward(model, step_input, caches).argmax())
        tokens.append(token)
        step_input = torch.tensor([token])
    return tokens[len(prompt) :]


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    model = weights(SEED)
    prompt = torch.randint(0, VOCAB, (PROMPT,), generator=torch.Generator().manual_seed(SEED + 1))
    rounds = []
    with torch.inference_mode():
        generate(model, prompt, 8, cached=True)  # warm-up: first calls load kernels
        for _ in range(args.rounds):
            timings, outputs = {}, {}
            for cached in (True, False):
                start = time.perf_counter()
                outputs[cached] = generate(model, prompt, args.new_tokens, cached=cached)
                timings[cached] = time.perf_counter() - start
            rounds.append({"with_cache_tokens_per_s": args.new_tokens / timings[True],
                           "without_cache_tokens_per_s": args.new_tokens / timings[False],
                           "same_tokens": outputs[True] == outputs[False]})  # fmt: skip
    ratios = [r["with_cache_tokens_per_s"] / r["without_cache_tokens_per_s"] for r in rounds]

    def spread(values: list[float]) -> dict[str, float]:
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {
        "machine": _machine("cpu"),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__,
        "threads": args.threads,
        "model": {"vocab": VOCAB, "embed": EMBED, "heads": HEADS, "kv_heads": KV_HEADS, "head_dim": HEAD_DIM,
                  "layers": LAYERS, "prompt": PROMPT, "new_tokens": args.new_tokens},  # fmt: skip
        "rounds": rounds,
        "with_cache_tokens_per_s": spread([r["with_cache_tokens_per_s"] for r in rounds]),
        "without_cache_tokens_per_s": spread([r["without_cache_tokens_per_s"] for r in rounds]),
        "speed_up": spread(ratios),
        "same_tokens": all(r["same_tokens"] for r in rounds),
    }


def report(results: dict[str, Any]) -> list[str]:
    lines = [f"{results['machine']}; torch {results['torch']}, {results['threads']} threads, {results['date']}",
             f"{results['model']['layers']} layers, {results['model']['heads']} heads ({results['model']['kv_heads']} KV), "
             f"{results['model']['new_tokens']} new tokens after {results['model']['prompt']}; {len(results['rounds'])} rounds",
             f"{'':>22} {'median':>9} {'min':>9} {'max':>9}"]  # fmt: skip
    for key, label in [("with_cache_tokens_per_s", "with cache, tokens/s"), ("without_cache_tokens_per_s", "without, tokens/s"),
                       ("speed_up", "speed-up (x)")]:  # fmt: skip
        figures = results[key]
        lines.append(f"{label:>22} {figures['median']:9.1f} {figures['min']:9.1f} {figures['max']:9.1f}")
    lines.append(f"same tokens with and without the cache: {results['same_tokens']}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--new-tokens", type=int, default=NEW_TOKENS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    results = run(args)
    print("\n".join(report(results)))
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
