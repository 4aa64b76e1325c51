"""Print wall-clock figures for the author loop, the site build and the test suite.

Run with `make bench` (after set-up). It prints figures and asserts nothing, so a
slow or busy machine cannot make the test suite flaky. Targets on a 2-core machine:

- under `make serve` (cache on), a prose edit is in the served page within 2 s;
  a package edit re-executes the notebooks (seconds more, never stale);
- `mkdocs build --strict`, cold, notebooks executing: under 20 s (before the
  chapters 3-5 and the explorer were added);
- the test suite without the site build and browser (`-m "not site"`): under 30 s;
- the whole suite (`make test`'s pytest): builds the site, runs it in Chromium,
  checks links; reported, no target;
- then chapter 5's `benchmarks/memory.py`: time and peak extra memory of naive,
  tiled (T = 512 and 128) and fused attention up to L = 16,384, in interleaved
  rounds (target: tiled at most a tenth of naive's memory at 16,384); on a quiet
  machine it rewrites `docs/data/memory-benchmark.json`, the
  file the chapter's table and plot are drawn from.

It first runs `benchmarks/speed.py`: each one-call attention function of the
package next to the same formula inline in torch at L = 6, 256 and 2048, and
full_attention's peak memory next to the naive form's, each beside its target.

The author-loop figures come from a real `mkdocs serve` on a copy of the
project in a temporary folder, so this checkout's files are never edited.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import memory  # noqa: E402  (benchmarks/memory.py, beside this script)

COPIED = ("attention_lab", "docs", "hooks", "overrides", "mkdocs.yml", "pyproject.toml", "requirements.lock")
SERVE_TIMEOUT_S = 300


def timed(label: str, command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    status = "ok" if completed.returncode == 0 else f"FAILED (exit {completed.returncode})"
    print(f"{label:56} {seconds:7.2f} s  {status}", flush=True)
    if completed.returncode != 0:
        print((completed.stdout + completed.stderr)[-3000:])
    return seconds


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _page(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1 only)
            return str(response.read().decode("utf-8"))
    except OSError:
        return ""


def _wait_for(url: str, marker: str, started: float) -> float:
    """Seconds from `started` until the page at `url` contains `marker`."""
    while time.perf_counter() - started < SERVE_TIMEOUT_S:
        if marker in _page(url):
            return time.perf_counter() - started
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not show {marker!r} within {SERVE_TIMEOUT_S} s")


def author_loop(env: dict[str, str]) -> None:
    """`mkdocs serve` with the cache on: first build, a prose edit, a package edit, a restart."""
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        for name in COPIED:
            source = ROOT / name
            copy = shutil.copytree if source.is_dir() else shutil.copy
            copy(source, project / name)
        port = _free_port()
        base = f"http://127.0.0.1:{port}/"
        serve_env = {**env, "ATTENTION_LAB_CACHE": "true", "SITE_URL": base}
        command = [sys.executable, "-m", "mkdocs", "serve", "--no-strict", "--dev-addr", f"127.0.0.1:{port}"]
        for run in ("cold cache", "warm cache (restart)"):
            server = subprocess.Popen(command, cwd=project, env=serve_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                started = time.perf_counter()
                seconds = _wait_for(base + "reproducibility/", "Reproducibility", started)
                print(f"{'make serve, first page served, ' + run:56} {seconds:7.2f} s", flush=True)
                if run != "cold cache":
                    continue
                page = project / "docs" / "reproducibility.md"
                for attempt in range(3):
                    marker = f"Prose edit number {attempt}."
                    started = time.perf_counter()
                    page.write_text(page.read_text(encoding="utf-8") + f"\n{marker}\n", encoding="utf-8")
                    seconds = _wait_for(base + "reproducibility/", marker, started)
                    print(f"{'make serve, prose edit -> page served, try ' + str(attempt + 1):56} {seconds:7.2f} s", flush=True)
                module = project / "attention_lab" / "simplified_attention.py"
                started = time.perf_counter()
                module.write_text(module.read_text(encoding="utf-8") + "\n# a package edit\n", encoding="utf-8")
                time.sleep(1.0)  # let the watcher see it before polling for the rebuilt page
                page.write_text(page.read_text(encoding="utf-8") + "\nAfter the package edit.\n", encoding="utf-8")
                seconds = _wait_for(base + "reproducibility/", "After the package edit.", started)
                print(f"{'make serve, package edit -> notebooks re-executed':56} {seconds:7.2f} s", flush=True)
            finally:
                server.terminate()
                server.wait(timeout=30)


def main() -> int:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "ATTENTION_LAB_CACHE": "false"}
    import torch

    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, torch {torch.__version__}", flush=True)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py")], cwd=ROOT, env=env, check=False)
    print(flush=True)
    with tempfile.TemporaryDirectory() as site_dir:
        timed("mkdocs build --strict (cold: make site, make test, CI)", [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", site_dir], env)
    author_loop(env)
    timed("pytest -m 'not site' (fast suite)", [sys.executable, "-m", "pytest", "-q", "-m", "not site"], env)
    timed("pytest, whole suite (make test)", [sys.executable, "-m", "pytest", "-q"], env)
    print(flush=True)
    memory.main([])  # chapter 5: rewrites docs/data/memory-benchmark.json unless the machine was busy
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
