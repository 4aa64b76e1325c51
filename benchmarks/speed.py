"""Print how fast the package's one-call attention functions run next to plain PyTorch (issue 33).

Each public one-call function is timed beside the same formula written inline in torch, with
nothing checked, from the same inputs and weights: one sentence, float32, `E = H = 64` (4 heads
for multi-head attention), at L = 6, 256 and 2048.

| function | the inline formula it is timed against |
| --- | --- |
| `simplified_self_attention(X)` | `A = softmax(X X^T)`, `Z = A X` |
| `trainable_self_attention(X, W)` | `Q, K, V = X W_q, X W_k, X W_v`, `A = softmax(Q K^T / sqrt(H))`, `Z = A V` |
| `causal_self_attention(X, W)` | the same, the future masked with `-inf` (`triu(1)` mask built per call) |
| `multihead_self_attention(X, W, 4)` | heads split by `view`/`transpose`, causal, merged, `Z W_o + b_o` |
| `full_attention(Q, K, V)` | `softmax(Q K^T / sqrt(H)) V` |

Targets: the package at most 2x plain torch at L = 6 (its checks cost microseconds), 1.5x at
L = 256 and 1.3x at L = 2048, every bad-input error kept; and `full_attention`'s peak extra
memory at most 1.05x the naive form's at L = 8192 (measured in fresh processes by
`benchmarks/memory.py`'s worker). Cases run round-robin in one process
(a busy machine slows them alike); each figure is the median over rounds of the mean time per
call, timed by the calling thread's CPU time with one torch thread (`--threads 2 --clock wall`
for wall-clock time on two). It prints figures and asserts nothing: a noisy machine cannot make
a test flaky.

    .venv/bin/python benchmarks/speed.py [--rounds 15] [--sizes 6,256,2048]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attention_lab import (  # noqa: E402
    MultiHeadWeights,
    causal_self_attention,
    full_attention,
    init_projection_weights,
    multihead_self_attention,
    simplified_self_attention,
    trainable_self_attention,
)

SIZES = (6, 256, 2048)
EMBED = HIDDEN = 64
HEADS = 4
TARGETS = {6: 2.0, 256: 1.5, 2048: 1.3}
MEMORY_TOKENS, MEMORY_TARGET = 8192, 1.05  # full_attention's peak extra memory / the naive form's
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "thread": time.thread_time}


def _pairs(tokens: int) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """For each public function: (the package's call, the same formula inline in torch)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(tokens, EMBED, generator=generator)  # (L, E)
    w = init_projection_weights(EMBED, HIDDEN, seed=1)  # three (E, H)
    q, k, v = (torch.randn(tokens, HIDDEN, generator=generator) for _ in range(3))  # (L, H) each
    multi = MultiHeadWeights(*(torch.randn(EMBED, EMBED, generator=generator) / 8 for _ in range(4)),
                             out_bias=torch.zeros(EMBED))  # fmt: skip
    scale = math.sqrt(HIDDEN)

    def simplified() -> tuple[torch.Tensor, ...]:
        scores = x @ x.T  # (L, L)
        weights = torch.softmax(scores, dim=-1)
        return scores, weights, weights @ x

    def trainable(*, causal: bool = False) -> tuple[torch.Tensor, ...]:
        queries, keys, values = x @ w.query, x @ w.key, x @ w.value  # (L, H) each
        scores = queries @ keys.T / scale  # (L, L)
        if causal:
            scores = scores.masked_fill(torch.ones(tokens, tokens, dtype=torch.bool).triu(1), -math.inf)
        weights = torch.softmax(scores, dim=-1)
        return scores, weights, weights @ values

    def multihead() -> tuple[torch.Tensor, ...]:
        size = EMBED // HEADS

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(tokens, HEADS, size).transpose(0, 1)  # (heads, L, H)

        queries, keys, values = split(x @ multi.query), split(x @ multi.key), split(x @ multi.value)
        scores = queries @ keys.transpose(-2, -1) / math.sqrt(size)  # (heads, L, L)
        scores = scores.masked_fill(torch.ones(tokens, tokens, dtype=torch.bool).triu(1), -math.inf)
        weights = torch.softmax(scores, dim=-1)
        context = (weights @ values).transpose(0, 1).reshape(tokens, EMBED)  # (L, E)
        return scores, weights, context @ multi.out + multi.out_bias

    def full() -> torch.Tensor:
        return torch.softmax(q @ k.T / scale, dim=-1) @ v

    return {
        "simplified_self_attention": (lambda: simplified_self_attention(x), simplified),
        "trainable_self_attention": (lambda: trainable_self_attention(x, w), trainable),
        "causal_self_attention": (lambda: causal_self_attention(x, w), lambda: trainable(causal=True)),
        "multihead_self_attention": (lambda: multihead_self_attention(x, multi, HEADS), multihead),
        "full_attention": (lambda: full_attention(q, k, v), full),
    }


def _calls_per_round(tokens: int) -> int:
    """Enough calls that a round lasts a few milliseconds at least."""
    return {6: 300, 256: 20}.get(tokens, 2)


def measure(rounds: int, sizes: tuple[int, ...], clock: Callable[[], float]) -> dict[int, dict[str, tuple[float, float]]]:
    """Median seconds per call of the package and of plain torch, per function and L."""

    def per_call(function: Callable[[], object], calls: int) -> float:
        start = clock()
        for _ in range(calls):
            function()
        return (clock() - start) / calls

    results: dict[int, dict[str, tuple[float, float]]] = {}
    for tokens in sizes:
        pairs, calls = _pairs(tokens), _calls_per_round(tokens)
        samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in pairs}
        with torch.no_grad():
            for package, plain in pairs.values():  # warm up
                per_call(package, calls), per_call(plain, calls)
            for _ in range(rounds):
                for name, (package, plain) in pairs.items():
                    samples[name][0].append(per_call(package, calls))
                    samples[name][1].append(per_call(plain, calls))
        results[tokens] = {name: (statistics.median(a), statistics.median(b)) for name, (a, b) in samples.items()}
    return results


def _format(seconds: float) -> str:
    return f"{seconds * 1e6:9.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:9.2f} ms"


def report(results: dict[int, dict[str, tuple[float, float]]], timed_by: str) -> list[str]:
    lines = [f"one-call functions vs the same formula inline: float32, E = H = {EMBED}, {HEADS} heads, "
             f"{torch.get_num_threads()} thread(s), {timed_by}, torch {torch.__version__}"]  # fmt: skip
    for tokens, times in results.items():
        target = TARGETS[tokens]
        lines.append(f"\nL = {tokens}: target package / plain torch <= {target}x")
        lines.append(f"  {'':28} {'package':>12} {'plain torch':>12} {'ratio':>7}")
        for name, (package, plain) in times.items():
            ratio = package / plain
            verdict = "meets target" if ratio <= target else "MISSES target"
            lines.append(f"  {name:28} {_format(package)} {_format(plain)} {ratio:6.2f}x  {verdict}")
    return lines


def peak_memory(method: str, tokens: int) -> float:
    """Peak extra bytes of one call, in a fresh process (benchmarks/memory.py's worker)."""
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, str(root / "benchmarks" / "memory.py"), "--worker", method, "--sizes", str(tokens),
               "--threads", "1", "--device", "cpu", "--repeats", "1"]  # fmt: skip
    done = subprocess.run(command, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_extra_bytes"])


def memory_report(tokens: int) -> list[str]:
    full, naive = peak_memory("full", tokens), peak_memory("naive", tokens)
    verdict = "meets target" if full <= MEMORY_TARGET * naive else "MISSES target"
    return [f"\nfull_attention peak extra memory at L = {tokens}, H = 64: {full / 2**20:,.1f} MiB, the naive form "
            f"{naive / 2**20:,.1f} MiB: {full / naive:.3f}x (target <= {MEMORY_TARGET}x)  {verdict}"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds per case (default 15)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="thread", help="thread (default, needs --threads 1) or wall")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="token counts L to run")
    args = parser.parse_args(argv)
    if args.clock == "thread" and args.threads != 1:
        parser.error("--clock thread times the calling thread only: use it with --threads 1")
    sizes = tuple(tokens for tokens in SIZES if str(tokens) in args.sizes.split(","))
    torch.set_num_threads(args.threads)
    timed_by = "wall-clock time" if args.clock == "wall" else "CPU time of the calling thread"
    print("\n".join(report(measure(args.rounds, sizes, CLOCKS[args.clock]), timed_by)), flush=True)
    print("\n".join(memory_report(MEMORY_TOKENS)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
