"""Time and peak extra memory of naive, tiled and fused attention (chapter 5, section 5.4).

Run by `make bench` (through `benchmarks/timings.py`), or alone:

    .venv/bin/python benchmarks/memory.py                 # CPU, writes docs/data/memory-benchmark.json
    .venv/bin/python benchmarks/memory.py --device cuda   # GPU, writes docs/data/memory-benchmark-cuda.json

Three ways to compute the same context vectors, one head, `H = 64`, float32:

- **naive**: the full `(L, L)` matrix, written directly in torch,
  `torch.softmax(Q @ K.T / sqrt(H), dim=-1) @ V` (no input checks);
- **tiled**: `attention_lab.tiled_attention` (block size `T`, 512 by default), the
  Python loop over `(T, T)` tiles that chapter 5 teaches;
- **sdpa**: `torch.nn.functional.scaled_dot_product_attention`, PyTorch's fused kernel,
  called on `(1, 1, L, H)` views: with 2-D inputs, torch 2.13 on the CPU falls back to
  its math path, which builds the `(L, L)` matrix like the naive form.

Each measurement runs in a fresh Python process, so no allocator cache or earlier
run can hide or inflate a peak. On the CPU, *peak extra memory* is the process's
peak resident set size during one call (Linux `VmHWM`, reset just before the call
through `/proc/self/clear_refs`) minus its resident size just before the call: it
counts everything the call allocates, the `(L, Hv)` output included, and nothing
allocated earlier (inputs, torch itself). On a GPU it is
`torch.cuda.max_memory_allocated()` during the call minus the memory allocated
before it. *Time* is the best of several calls in the same process, after the
measured one.

The script prints a table and the targets, and asserts nothing: a busy machine must
not fail anything. The results file, labelled with the machine, date, torch version
and thread count, is what the chapter's table and plot are drawn from at build time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("naive", "tiled", "sdpa")
DEFAULT_SIZES = (512, 1024, 2048, 4096, 8192, 16_384)
HIDDEN = 64
BLOCK_SIZE = 512
THREADS = 2
MEMORY_TARGET = 0.1  # tiled peak extra memory at the largest L, as a fraction of naive's
OUTPUT = {"cpu": ROOT / "docs" / "data" / "memory-benchmark.json", "cuda": ROOT / "docs" / "data" / "memory-benchmark-cuda.json"}
MEASUREMENT = {
    "cpu": "peak resident set size during one call (Linux VmHWM, reset just before it) minus the resident size "
    "before it, in a fresh process per measurement; the (L, H) output is included",
    "cuda": "torch.cuda.max_memory_allocated() during one call minus the memory allocated before it, "
    "in a fresh process per measurement; the (L, H) output is included",
}


# --- the worker: one method, one L, in its own process ---------------------------------------


def _resident_kib(field: str) -> int:
    """`VmRSS` (now) or `VmHWM` (peak since the last reset) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _attention(method: str, block_size: int) -> Callable[[Any, Any, Any], Any]:
    import torch
    import torch.nn.functional as F

    from attention_lab import tiled_attention

    def naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v  # (L, L) twice

    def tiled(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return tiled_attention(q, k, v, block_size=block_size)

    def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        # As (B, heads, L, H) = (1, 1, L, H): given (L, H), torch 2.13 on the CPU takes its math
        # path, which builds the (L, L) matrix; given 4-D inputs it runs its fused flash kernel.
        return F.scaled_dot_product_attention(q[None, None], k[None, None], v[None, None])[0, 0]

    return {"naive": naive, "tiled": tiled, "sdpa": sdpa}[method]


def _sdpa_backends(device: str) -> Any:
    """On a GPU, let SDPA use only its flash and memory-efficient kernels; on the CPU, change nothing."""
    import contextlib

    if device != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION])


def worker(method: str, tokens: int, block_size: int, threads: int, device: str, repeats: int) -> dict[str, float]:
    """Measure one method at one L; returns peak extra bytes and the best time in seconds."""
    import torch

    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(tokens)
    q, k, v = (torch.randn(tokens, HIDDEN, generator=generator).to(device) for _ in range(3))  # (L, H)
    attend = _attention(method, block_size)
    with torch.no_grad(), _sdpa_backends(device):
        small = [t[:64] for t in (q, k, v)]
        attend(*small)  # load kernels and libraries before measuring
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            out = attend(q, k, v)
            torch.cuda.synchronize()
            peak_extra = torch.cuda.max_memory_allocated() - before
        else:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            before = _resident_kib("VmRSS")
            out = attend(q, k, v)
            peak_extra = (_resident_kib("VmHWM") - before) * 1024
        del out
        best = math.inf
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            attend(q, k, v)
            if device == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    return {"seconds": best, "peak_extra_bytes": float(peak_extra)}


# --- the driver: every method at every L, a table, the results file ---------------------------


def _machine(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name()
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    return f"{model} ({platform.machine()}, {os.cpu_count()} cores visible), {platform.system()}"


def measure(method: str, tokens: int, args: argparse.Namespace) -> dict[str, float]:
    repeats = 20 if tokens <= 2048 else 7 if tokens <= 4096 else 3
    command = [
        sys.executable, str(Path(__file__).resolve()), "--worker", method, "--sizes", str(tokens),
        "--block-size", str(args.block_size), "--threads", str(args.threads), "--device", args.device,
        "--repeats", str(repeats),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{method} at L={tokens} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _mib(size: float) -> str:
    return f"{size / 2**20:9.1f}"


def report(results: dict[str, Any]) -> list[str]:
    """The table and the targets, as printed lines."""
    lines = [
        f"{results['machine']}; torch {results['torch']}, {results['threads']} threads, {results['device']}, "
        f"H={results['hidden']}, float32, tiled block size T={results['block_size']}, "
        f"load average {results['load_average'][0]} at the start, {results['load_average'][1]} at the end",
        f"{'L':>6} | {'naive s':>8} {'tiled s':>8} {'sdpa s':>8} | {'tiled/sdpa':>10} {'naive/sdpa':>10} | "
        f"{'naive MiB':>9} {'tiled MiB':>9} {'sdpa MiB':>9} | {'tiled/naive mem':>15}",
    ]
    for row in results["rows"]:
        seconds = {m: row[m]["seconds"] for m in METHODS}
        memory = {m: row[m]["peak_extra_bytes"] for m in METHODS}
        lines.append(
            f"{row['tokens']:>6} | {seconds['naive']:8.3f} {seconds['tiled']:8.3f} {seconds['sdpa']:8.3f} | "
            f"{seconds['tiled'] / seconds['sdpa']:10.2f} {seconds['naive'] / seconds['sdpa']:10.2f} | "
            f"{_mib(memory['naive'])} {_mib(memory['tiled'])} {_mib(memory['sdpa'])} | "
            f"{memory['tiled'] / memory['naive']:15.4f}"
        )
    last = results["rows"][-1]
    ratio = last["tiled"]["peak_extra_bytes"] / last["naive"]["peak_extra_bytes"]
    verdict = "met" if ratio <= MEMORY_TARGET else "NOT met"
    lines.append(
        f"target: tiled peak extra memory at L={last['tokens']} <= {MEMORY_TARGET:g} of naive: "
        f"{ratio:.4f} ({verdict})"
    )
    lines.append(
        "time relative to SDPA (tiled/sdpa): "
        + ", ".join(f"L={row['tokens']}: {row['tiled']['seconds'] / row['sdpa']['seconds']:.1f}x" for row in results["rows"])
    )
    return lines


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    load_before = os.getloadavg()[0]
    rows = []
    for tokens in args.sizes:
        row: dict[str, Any] = {"tokens": tokens}
        for method in METHODS:
            row[method] = measure(method, tokens, args)
            print(f"  L={tokens:>6} {method:>5}: {row[method]['seconds']:.3f} s, "
                  f"{row[method]['peak_extra_bytes'] / 2**20:.1f} MiB", flush=True)  # fmt: skip
        rows.append(row)
    return {
        "machine": _machine(args.device),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__.split("+")[0],
        "python": platform.python_version(),
        "threads": args.threads,
        "device": args.device,
        "hidden": HIDDEN,
        "dtype": "float32",
        "block_size": args.block_size,
        "memory_measurement": MEASUREMENT[args.device],
        "time_measurement": "best of 20 calls (7 at L=4096, 3 from L=8192) after the measured one, same process",
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "naive": "torch.softmax(Q @ K.T / sqrt(H), dim=-1) @ V",
        "sdpa": "F.scaled_dot_product_attention on (1, 1, L, H) views (the fused flash kernel on the CPU)",
        "rows": rows,
    }


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="sequence lengths L")
    parser.add_argument("--block-size", type=int, default=BLOCK_SIZE, help="tile size T of tiled attention")
    parser.add_argument("--threads", type=int, default=THREADS, help="torch threads")
    parser.add_argument("--device", choices=sorted(OUTPUT), default="cpu")
    parser.add_argument("--output", type=Path, default=None, help="results file (default: docs/data/...)")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.sizes[0], args.block_size, args.threads, args.device, args.repeats)))
        return 0
    print(f"memory benchmark: naive vs tiled vs SDPA, one head, H={HIDDEN}, float32, {args.device}")
    results = run(args)
    output = args.output or OUTPUT[args.device]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print("\n".join(report(results)))
    print(f"results written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
