"""Print wall-clock figures for the test suite and the strict site build.

Run with `make bench` (after set-up). Targets on a 2-core machine: the test
suite without the site build and browser (`-m "not site"`) under 30 s, and
`mkdocs build --strict`, notebooks executing, under 20 s. The whole suite also
builds the site, runs it in Chromium and checks links, so it takes longer.
It then runs `benchmarks/memory.py` (chapter 5: time and peak memory of naive,
tiled and fused attention up to L = 16,384), which rewrites
`docs/data/memory-benchmark.json`, the file the chapter's table and plot are drawn from.
The script prints figures; it asserts nothing, so a slow machine cannot make
the test suite flaky.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import memory  # noqa: E402  (benchmarks/memory.py, beside this script)


def timed(label: str, command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    status = "ok" if completed.returncode == 0 else f"FAILED (exit {completed.returncode})"
    print(f"{label:48} {seconds:7.2f} s  {status}")
    if completed.returncode != 0:
        print((completed.stdout + completed.stderr)[-3000:])
    return seconds


def main() -> int:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as site_dir:
        timed("mkdocs build --strict", [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", site_dir], env)
    timed("pytest, whole suite", [sys.executable, "-m", "pytest", "-q"], env)
    timed(
        "pytest, without the site build and browser",
        [sys.executable, "-m", "pytest", "-q", "-m", "not site"],
        env,
    )
    print()
    memory.main([])  # chapter 5: naive vs tiled vs SDPA, writes docs/data/memory-benchmark.json
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
