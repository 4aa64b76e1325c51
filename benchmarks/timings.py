"""Print wall-clock figures for the test suite and the strict site build.

Run with `make bench` (after set-up). Targets on a 2-core machine: the test
suite without the site build and browser (`-m "not site"`) under 30 s, and
`mkdocs build --strict`, notebooks executing, under 20 s. The whole suite also
builds the site, runs it in Chromium and checks links, so it takes longer.
The script prints figures; it asserts nothing, so a slow machine cannot make
the test suite flaky. It first runs `benchmarks/speed.py`: the package's attention
next to plain torch and `scaled_dot_product_attention`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py")], cwd=ROOT, env=env, check=False)
    print()
    with tempfile.TemporaryDirectory() as site_dir:
        timed("mkdocs build --strict", [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", site_dir], env)
    timed("pytest, whole suite", [sys.executable, "-m", "pytest", "-q"], env)
    timed(
        "pytest, without the site build and browser",
        [sys.executable, "-m", "pytest", "-q", "-m", "not site"],
        env,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
