"""Time and peak extra memory of naive, tiled (two block sizes) and fused attention (chapter 5, 5.4).

Run by `make bench` (through `benchmarks/timings.py`), or alone:

    .venv/bin/python benchmarks/memory.py                 # CPU, writes docs/data/memory-benchmark.json
    .venv/bin/python benchmarks/memory.py --device cuda   # GPU, writes docs/data/memory-benchmark-cuda.json

Four ways to compute the same context vectors, one head, `H = 64`, float32:

- **naive**: the full `(L, L)` matrix, written directly in torch,
  `torch.softmax(Q @ K.T / sqrt(H), dim=-1) @ V` (no input checks);
- **tiled**: `attention_lab.tiled_attention` with block size `T = 512` (its default),
  the Python loop over `(T, T)` tiles that chapter 5 teaches;
- **tiled_small**: the same with `T = 128`, the block size of the chapter's
  working-memory figures, so the page can show what the block size changes;
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
before it.

*Time* is measured in interleaved rounds (9 by default): each round runs every
method at every L once, each in its own fresh process, the order of the methods
rotating from round to round, so a disturbance hits all four alike rather than
one method's whole series. A worker runs PyTorch on one thread pinned to the last
core, leaving the first to the OS and this driver. In a process, the time is the
median of several calls after the measured one and an untimed warm-up (from then
on the C allocator keeps freed memory, as PyTorch's caching allocator does on a
GPU, so times measure attention, not the page faults of fresh memory); the
published time is the median over the rounds, and its *spread* is the
interquartile range of the rounds / median (robust to one odd round; every
round's time is kept in the file). Ratios (each method's time / the naive
form's) are taken within each round and given as their median and range.

The results are honest or not written at all. The script refuses to write the
results file (exit status 1, figures still printed) when the machine is busy:

- the 1-minute load average is above the number of cores, before the first round
  or after any round (the worker's own thread counts towards it);
- another process used more than `OTHERS_CPU_LIMIT` (10 %) of the machine's CPU
  time while a measurement ran (from `/proc/stat`, less the worker's own time);
- any time's spread between rounds is above `SPREAD_LIMIT` (25 %).

It asserts nothing else: the figures are facts about a machine, not tests. The
results file, labelled with the machine, date, torch version, thread count, load
and spread, is what the chapter's tables and plot are drawn from at build time;
`tests/test_memory_efficient_attention.py` checks the chapter's prose against it.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("naive", "tiled", "tiled_small", "sdpa")
BLOCK_SIZES = {"tiled": 512, "tiled_small": 128}  # T of each tiled method: the package's default, the chapter's 128
DEFAULT_SIZES = (512, 1024, 2048, 4096, 8192, 16_384)
HIDDEN = 64
THREADS = 1  # one torch thread: the second core takes the OS and this driver, not the measured thread
ROUNDS = 9
SPREAD_LIMIT = 0.25  # interquartile range of the rounds / median, for every method and L
OTHERS_CPU_LIMIT = 0.10  # share of all cores other processes may take during a measurement
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, <malloc.h>
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


def _attention(method: str) -> Callable[[Any, Any, Any], Any]:
    import torch
    import torch.nn.functional as F

    from attention_lab import full_attention, tiled_attention

    def naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v  # (L, L) twice

    def tiled(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return tiled_attention(q, k, v, block_size=BLOCK_SIZES[method])

    def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        # As (B, heads, L, H) = (1, 1, L, H): given (L, H), torch 2.13 on the CPU takes its math
        # path, which builds the (L, L) matrix; given 4-D inputs it runs its fused flash kernel.
        return F.scaled_dot_product_attention(q[None, None], k[None, None], v[None, None])[0, 0]

    def full(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return full_attention(q, k, v)  # not in the chapter's table: benchmarks/speed.py's memory target

    return {"naive": naive, "tiled": tiled, "tiled_small": tiled, "sdpa": sdpa, "full": full}[method]


def _sdpa_backends(device: str) -> Any:
    """On a GPU, let SDPA use only its flash and memory-efficient kernels; on the CPU, change nothing."""
    import contextlib

    if device != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION])


def _keep_freed_memory() -> None:
    """Make glibc's allocator keep freed memory for the next call instead of returning it to the OS.

    By default a large tensor is a fresh `mmap` each call, and the page faults that fill it cost
    between 1x and 4x the arithmetic on a virtual machine, differently in every process (measured:
    naive attention at L=2048 took 9 to 36 ms per process). PyTorch's caching allocator does the same
    on a GPU. Called after the memory measurement, so the peak memory is that of a plain process.
    """
    libc = ctypes.CDLL(None)
    largest = ctypes.c_int(2**31 - 1)
    if not (libc.mallopt(M_MMAP_THRESHOLD, largest) and libc.mallopt(M_TRIM_THRESHOLD, largest)):
        raise RuntimeError("mallopt refused to keep freed memory; the times would measure page faults")


def _pin_to_last_cores(count: int) -> None:
    """Run on the last `count` cores only (when there are more), leaving the first to the OS and the driver."""
    cores = os.cpu_count() or 1
    if count < cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(range(cores - count, cores)))


def worker(method: str, tokens: int, threads: int, device: str, repeats: int) -> dict[str, float]:
    """Measure one method at one L; returns peak extra bytes and the median time of `repeats` calls."""
    import torch

    _pin_to_last_cores(threads)
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(tokens)
    q, k, v = (torch.randn(tokens, HIDDEN, generator=generator).to(device) for _ in range(3))  # (L, H)
    attend = _attention(method)
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
        if device == "cpu":
            _keep_freed_memory()
            attend(q, k, v)  # the allocator's heap grows to this method's working set once, untimed
        times = []
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            attend(q, k, v)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "peak_extra_bytes": float(peak_extra)}


# --- the driver: interleaved rounds of every method at every L, a table, the results file -------


def _machine(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name()
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    return f"{model} ({platform.machine()}, {os.cpu_count()} cores visible), {platform.system()}"


def _blas() -> str:
    """The BLAS torch's matrix products run on and the CPU kernels it picked (they differ by CPU)."""
    import torch

    blas = next((line.strip() for line in torch.__config__.parallel_info().splitlines() if "Math Kernel Library" in line), "")
    config = torch.__config__.show()
    name = blas.split(" for ")[0] if blas else next((f for f in config.replace(",", " ").split() if f.startswith("BLAS_INFO=")), "BLAS unknown")
    return f"{name}, CPU kernels {torch.backends.cpu.get_cpu_capability()}"


def _cpu_seconds_of_machine() -> float:
    """CPU seconds spent by every process on the machine since boot (user, nice, system, irq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _repeats(tokens: int) -> int:
    """Calls timed per process: a few tenths of a second of them, at least 3."""
    return 200 if tokens <= 1024 else 50 if tokens <= 2048 else 10 if tokens <= 4096 else 3


def measure(method: str, tokens: int, args: argparse.Namespace) -> dict[str, float]:
    """One measurement in a fresh process, with the share of the CPU other processes took meanwhile."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--worker", method, "--sizes", str(tokens),
        "--threads", str(args.threads), "--device", args.device,
        "--repeats", str(_repeats(tokens)),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT)}
    machine_before, children_before, wall_before = _cpu_seconds_of_machine(), _cpu_seconds_of_children(), time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - wall_before
    others = (_cpu_seconds_of_machine() - machine_before) - (_cpu_seconds_of_children() - children_before)
    if done.returncode != 0:
        raise RuntimeError(f"{method} at L={tokens} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["others_cpu_share"] = max(0.0, others) / (wall * (os.cpu_count() or 1))
    return result


def spread(values: Sequence[float]) -> float:
    """Interquartile range / median: how far apart the middle half of the rounds are.

    Robust to one odd round (a process whose memory the hypervisor was slow to hand out), which
    the range (largest - smallest) is not; the range is kept in the results file too.
    """
    first, _, third = statistics.quantiles(values, n=4, method="inclusive")
    return (third - first) / statistics.median(values)


def summarise(tokens: int, rounds: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """One row of the results file from the rounds' measurements at one L."""
    row: dict[str, Any] = {"tokens": tokens}
    for method in METHODS:
        seconds = [r[method]["seconds"] for r in rounds]
        row[method] = {
            "seconds": statistics.median(seconds),
            "seconds_spread": spread(seconds),
            "seconds_rounds": seconds,
            "peak_extra_bytes": statistics.median(r[method]["peak_extra_bytes"] for r in rounds),
            "peak_extra_bytes_rounds": [r[method]["peak_extra_bytes"] for r in rounds],
        }
    row["ratios"] = {}
    for method in METHODS[1:]:  # each against the naive form, within each round
        per_round = [r[method]["seconds"] / r["naive"]["seconds"] for r in rounds]
        row["ratios"][f"{method}/naive"] = {"median": statistics.median(per_round), "min": min(per_round), "max": max(per_round)}
    return row


def busy_reasons(results: dict[str, Any]) -> list[str]:
    """Why these results must not be published; empty when the machine was quiet throughout."""
    reasons = []
    cores = results["cores"]
    for when, load in zip(("before the first round", "after the last round"), results["load_average"], strict=True):
        if load > cores:
            reasons.append(f"load average {load} {when}, above the {cores} cores")
    if results["load_average_peak"] > cores:
        reasons.append(f"load average reached {results['load_average_peak']} between rounds, above the {cores} cores")
    if results["others_cpu_share_peak"] > OTHERS_CPU_LIMIT:
        reasons.append(f"other processes took {results['others_cpu_share_peak']:.0%} of the CPU during a measurement "
                       f"(limit {OTHERS_CPU_LIMIT:.0%})")  # fmt: skip
    for row in results["rows"]:
        for method in METHODS:
            if row[method]["seconds_spread"] > SPREAD_LIMIT:
                reasons.append(f"{method} at L={row['tokens']}: rounds spread {row[method]['seconds_spread']:.0%} "
                               f"(limit {SPREAD_LIMIT:.0%})")  # fmt: skip
    return reasons


def _mib(size: float) -> str:
    return f"{size / 2**20:9.1f}"


def _ratio(ratio: dict[str, float]) -> str:
    return f"{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})"


def report(results: dict[str, Any]) -> list[str]:
    """The table and the targets, as printed lines."""
    lines = [
        f"{results['machine']}; {results['blas']}; torch {results['torch']}, {results['threads']} thread(s), "
        f"{results['device']}, H={results['hidden']}, float32, T={results['block_size']} (tiled) and "
        f"{results['small_block_size']} (tiled_small), {results['rounds']} rounds, load average "
        f"{results['load_average'][0]} at the start, {results['load_average'][1]} at the end, "
        f"other processes at most {results['others_cpu_share_peak']:.1%} of the CPU",
        f"{'L':>6} | " + " ".join(f"{m + ' ms':>14}" for m in METHODS) + f" | {'spread':>6} | "
        + " ".join(f"{m + '/naive (range)':>26}" for m in METHODS[1:]) + " | "
        + " ".join(f"{m + ' MiB':>15}" for m in METHODS),
    ]
    for row in results["rows"]:
        worst = max(row[m]["seconds_spread"] for m in METHODS)
        lines.append(
            f"{row['tokens']:>6} | " + " ".join(f"{row[m]['seconds'] * 1000:14.2f}" for m in METHODS)
            + f" | {worst:6.1%} | " + " ".join(f"{_ratio(row['ratios'][m + '/naive']):>26}" for m in METHODS[1:])
            + " | " + " ".join(f"{_mib(row[m]['peak_extra_bytes']):>15}" for m in METHODS)
        )
    last = results["rows"][-1]
    ratio = last["tiled"]["peak_extra_bytes"] / last["naive"]["peak_extra_bytes"]
    verdict = "met" if ratio <= MEMORY_TARGET else "NOT met"
    lines.append(
        f"target: tiled peak extra memory at L={last['tokens']} <= {MEMORY_TARGET:g} of naive: "
        f"{ratio:.4f} ({verdict})"
    )
    return lines


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    load_before = os.getloadavg()[0]
    load_peak = load_before
    measured: dict[int, list[dict[str, dict[str, float]]]] = {tokens: [] for tokens in args.sizes}
    for round_number in range(args.rounds):
        order = METHODS[round_number % len(METHODS):] + METHODS[:round_number % len(METHODS)]
        for tokens in args.sizes:
            this_round = {method: measure(method, tokens, args) for method in order}
            measured[tokens].append(this_round)
            print(f"  round {round_number + 1}/{args.rounds} L={tokens:>6}: "
                  + ", ".join(f"{m} {this_round[m]['seconds'] * 1000:.2f} ms" for m in METHODS), flush=True)  # fmt: skip
        load_peak = max(load_peak, os.getloadavg()[0])
    others_peak = max(r[m]["others_cpu_share"] for rounds in measured.values() for r in rounds for m in METHODS)
    return {
        "machine": _machine(args.device),
        "cores": os.cpu_count() or 1,
        "blas": _blas() if args.device == "cpu" else f"CUDA {torch.version.cuda}",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__.split("+")[0],
        "python": platform.python_version(),
        "threads": args.threads,
        "device": args.device,
        "hidden": HIDDEN,
        "dtype": "float32",
        "block_size": BLOCK_SIZES["tiled"],
        "small_block_size": BLOCK_SIZES["tiled_small"],
        "rounds": args.rounds,
        "memory_measurement": MEASUREMENT[args.device],
        "time_measurement": f"median over {args.rounds} interleaved rounds, each a fresh process per method and L "
        "(pinned to the last core), timing the median of 200 calls (50 at L=2048, 10 at L=4096, 3 from L=8192) "
        "after the measured one and a warm-up, with glibc keeping freed memory (no page faults of fresh memory in the times)",
        "spread_measurement": "interquartile range of the rounds / median, per method and L (every round is in seconds_rounds)",
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "load_average_peak": round(load_peak, 2),
        "others_cpu_share_peak": round(others_peak, 4),
        "limits": {"load_average": "at most the number of cores", "spread": SPREAD_LIMIT, "others_cpu_share": OTHERS_CPU_LIMIT},
        "naive": "torch.softmax(Q @ K.T / sqrt(H), dim=-1) @ V",
        "sdpa": "F.scaled_dot_product_attention on (1, 1, L, H) views (the fused flash kernel on the CPU)",
        "rows": [summarise(tokens, rounds) for tokens, rounds in measured.items()],
    }


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="sequence lengths L")
    parser.add_argument("--threads", type=int, default=THREADS, help="torch threads")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds (at least 3)")
    parser.add_argument("--device", choices=sorted(OUTPUT), default="cpu")
    parser.add_argument("--output", type=Path, default=None, help="results file (default: docs/data/...)")
    parser.add_argument("--worker", choices=(*METHODS, "full"), help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.worker and args.rounds < 3:
        parser.error(f"--rounds must be at least 3 for a median and a spread, got {args.rounds}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.sizes[0], args.threads, args.device, args.repeats)))
        return 0
    print(f"memory benchmark: naive vs tiled vs SDPA, one head, H={HIDDEN}, float32, {args.device}, {args.rounds} rounds")
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        print(f"NOT measured: the machine is busy (load average {load:.2f} above the {os.cpu_count()} cores). "
              "Run it again when nothing else runs.")  # fmt: skip
        return 1
    results = run(args)
    print("\n".join(report(results)))
    output = args.output or OUTPUT[args.device]
    shown = output.relative_to(ROOT) if output.is_relative_to(ROOT) else output
    reasons = busy_reasons(results)
    if reasons:
        rejected = Path(tempfile.gettempdir()) / f"{output.stem}-rejected.json"
        rejected.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"NOT written to {shown}: the machine was busy, so these figures are not honest:")
        print("\n".join(f"  - {reason}" for reason in reasons))
        print(f"(kept for a look in {rejected}; run it again when nothing else runs)")
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
