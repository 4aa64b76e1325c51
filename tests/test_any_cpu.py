"""Every number the site prints, and every equivalence it claims, holds under other CPU kernels.

PyTorch hands matrix products to Intel's MKL and oneDNN, and runs softmax, sums
and `exp` in its own vectorised kernels; all three pick their code by the
processor. The same maths through two paths (per head vs concatenated, a
function vs a module) can then differ in the last bits on one CPU and not on
another: main once passed on an AMD machine and failed 9 checks on an Intel
one. These settings make the libraries pick other kernels on this one machine,
as another reader's CPU would, and the numeric checks run again under each, in
a subprocess: the doc examples of every page and docstring, and the tests that
compare two computations. The browser and the site build are left out: they
compute no number of their own.

What each setting does, and what it does on a CPU it does not fit, is
written in `docs/reproducibility.md`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

import conftest
from hooks import chapters

from .conftest import ROOT

# The settings: (environment variables, what they make the libraries do).
KERNEL_SETTINGS: dict[str, dict[str, str]] = {
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},  # MKL's SSE2 code, the same on every x86 CPU
    "mkl-sse4_2": {"MKL_CBWR": "SSE4_2"},  # MKL's reproducible SSE4.2 branch (on AMD: its AUTO branch)
    "mkl-avx2": {"MKL_CBWR": "AVX2"},  # MKL's reproducible AVX2 branch (on AMD: its AUTO branch)
    "mkl-avx512": {"MKL_CBWR": "AVX512"},  # MKL's reproducible AVX-512 branch (on AMD: its AUTO branch)
    "onednn-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},  # oneDNN without AVX-512 and AMX
    "one-thread": {"OMP_NUM_THREADS": "1"},  # no split of a reduction between threads
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},  # PyTorch's own kernels without SIMD
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},  # PyTorch's own kernels at AVX2 (on an AVX-512 CPU)
}
# What computes numbers: the doc examples (pages and docstrings) and the tests of the
# chapters' modules (one per chapter of the registry), which compare each computation with
# another one; not the property tests (hypothesis): random inputs compared with tolerances, ~6 s a run more.
NUMERIC_CHECKS = ["docs", "attention_lab"] + [
    f"tests/test_{chapters.chapter_module(page)}.py" for page in chapters.chapter_pages(chapters.read_nav(ROOT / "mkdocs.yml"))
]
# pytest plugins installed for the rest of the suite that these runs do not use (no property test,
# no async test, no workers of their own, no test reading its log): not loading them saves 2.4 CPU-s
# of each run's 15 (the hypothesis plugin hooks every one of the 2,318 items), and the log capture
# around every test 0.8 s more; the same tests run.
UNUSED_PLUGINS = ["-p", "no:hypothesispytest", "-p", "no:anyio", "-p", "no:xdist", "-p", "no:xdist.looponfail",
                  "-p", "no:logging"]
TIMEOUT_S = 300
PARALLEL_RUNS = 2
# How far from a rounding boundary a printed value must lie. The largest difference seen
# between two CPUs' kernels on these pages is 6e-8 (two units in the last place of a float32
# near 0.5); a value within 5 times that (relative, for values above 1) of a boundary could
# print either way on another CPU.
BOUNDARY_MARGIN = 3e-7
DECIMALS = 4  # what torch prints, and what the pages print with `:.4f`
LARGEST_CHECKED = 100.0  # above, float32's own spacing nears 1e-5: its digits are the grid's, not the maths'
# Printed first by every run: a hash of the bits of a few products, softmaxes, sums and exps,
# so that the runs show they really ran other kernels.
FINGERPRINT = """
import hashlib, torch
g = torch.Generator().manual_seed(0)
a, b = torch.randn(64, 300, generator=g), torch.randn(300, 48, generator=g)
x, w = torch.randn(6, 3, generator=g), torch.randn(3, 3, generator=g)
parts = [a @ b, x @ w, torch.softmax(a, dim=-1), a.sum(dim=1), torch.exp(a)]
print("fingerprint:", hashlib.sha256(b"".join(p.numpy().tobytes() for p in parts)).hexdigest(), flush=True)
"""
RUN = FINGERPRINT + """
import sys, pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def environment(setting: dict[str, str]) -> dict[str, str]:
    """This process's environment with one kernel setting, and none of the others inherited."""
    names = {name for variables in KERNEL_SETTINGS.values() for name in variables}
    clean = {name: value for name, value in os.environ.items() if name not in names and not name.startswith("PYTEST_")}
    # Idle OpenMP threads sleep rather than spin: two runs at once then share the two cores
    # (21 s -> 12 s for a pair here). It changes when threads wait, not what they compute.
    return {**clean, "OMP_WAIT_POLICY": "PASSIVE", **setting, "PYTHONHASHSEED": "0"}


def fingerprint_of(completed: subprocess.CompletedProcess[str]) -> str:
    """The fingerprint a run printed first."""
    first = completed.stdout.splitlines()[0] if completed.stdout else ""
    assert first.startswith("fingerprint: "), completed.stdout[-2000:] + completed.stderr[-2000:]
    return first.removeprefix("fingerprint: ")


def run_numeric_checks(setting: dict[str, str], *, only_fingerprint: bool = False) -> subprocess.CompletedProcess[str]:
    """The fingerprint, then the numeric checks, in a new Python process with `setting`: the
    libraries read it as they load."""
    return subprocess.run(
        [sys.executable, "-c", FINGERPRINT] if only_fingerprint
        else [sys.executable, "-c", RUN, "-q", "-m", "not site and not kernels", *UNUSED_PLUGINS, *NUMERIC_CHECKS],
        cwd=ROOT, env=environment(setting), capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip


# The branch MKL runs under MKL_CBWR (mkl_serv_cbwr_get(MKL_CBWR_BRANCH), exported by
# libtorch_cpu): a branch the CPU lacks falls back to AUTO (2). On an AMD CPU, SSE4_2, AVX2 and
# AVX512 all give AUTO: three settings, the same kernels. The library is loaded without importing
# torch (0.3 s a question instead of 1.4 s): MKL reads MKL_CBWR when it is asked the first time.
MKL_BRANCH = """
import ctypes, importlib.util, os
torch_dir = os.path.dirname(importlib.util.find_spec("torch").origin)
library = ctypes.CDLL(os.path.join(torch_dir, "lib", "libtorch_cpu.so"))
print(library.mkl_serv_cbwr_get(1))
"""


def kernels_of(setting: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """What decides the kernels a setting runs: its variables, with MKL_CBWR replaced by the
    branch MKL really takes on this CPU (asked in a new process, which reads the setting)."""
    if "MKL_CBWR" not in setting or not torch.backends.mkl.is_available():
        return tuple(sorted(setting.items()))
    asked = subprocess.run([sys.executable, "-c", MKL_BRANCH], env=environment(setting), capture_output=True,
                           text=True, timeout=TIMEOUT_S, check=True)  # fmt: skip
    others = {key: value for key, value in setting.items() if key != "MKL_CBWR"}
    return tuple(sorted({**others, "MKL branch": asked.stdout.strip()}.items()))


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """The runs of the settings this session selected, started together, two at a time.

    Each run is one Python process, mostly busy in one thread (the tensors are small), so two at
    once use this 2-core machine's cores; the tests below wait each for its own. Settings that
    give the same kernels on this CPU (`kernels_of`) share one run.
    """
    selected = [item.callspec.params["name"] for item in request.session.items  # doc examples have no originalname
                if getattr(item, "originalname", None) == "test_the_numeric_checks_pass_under_other_cpu_kernels"]  # fmt: skip
    with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
        kernels = dict(zip(selected, pool.map(lambda name: kernels_of(KERNEL_SETTINGS[name]), selected), strict=True))
        started: dict[tuple[tuple[str, str], ...], Future[subprocess.CompletedProcess[str]]] = {}
        for name in selected:
            if kernels[name] not in started:
                started[kernels[name]] = pool.submit(run_numeric_checks, KERNEL_SETTINGS[name])
        yield {name: started[kernels[name]] for name in selected}


@pytest.mark.kernels
@pytest.mark.parametrize("name", list(KERNEL_SETTINGS))
def test_the_numeric_checks_pass_under_other_cpu_kernels(name: str, runs: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    completed = runs[name].result()
    settings = " ".join(f"{key}={value}" for key, value in KERNEL_SETTINGS[name].items())
    failed = [line for line in completed.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert completed.returncode == 0, (
        f"under {settings}, a check that holds on this CPU's default kernels fails: a page or test claims "
        f"bits that depend on the CPU (compare two computations with a tolerance, print residuals as bounds)\n"
        + "\n".join(failed) + "\n" + completed.stdout[-6000:] + completed.stderr[-2000:]
    )


@pytest.mark.kernels
@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="PyTorch is built without MKL on this machine")
def test_the_settings_really_change_the_kernels(runs: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    """At least two settings give other bits than the default: the runs above really ran other kernels."""
    if len(runs) < len(KERNEL_SETTINGS):
        pytest.skip("needs every kernel setting's run; this session selected only some")
    default = fingerprint_of(run_numeric_checks({}, only_fingerprint=True))
    changed = [name for name, future in runs.items() if fingerprint_of(future.result()) != default]
    assert len(changed) >= 2, f"only {changed} change the bits of the fingerprint; the kernel settings no longer apply"


def near_a_rounding_boundary(values: torch.Tensor) -> torch.Tensor:
    """Which of the finite `values` below LARGEST_CHECKED lie within BOUNDARY_MARGIN of a
    point where rounding to DECIMALS decimals changes its digit (…5 in the next decimal)."""
    values = values.detach().to(torch.float64).flatten()
    scaled = values * 10**DECIMALS
    distance = (scaled - scaled.floor() - 0.5).abs() / 10**DECIMALS
    checked = torch.isfinite(values) & (values.abs() < LARGEST_CHECKED)
    return checked & (distance < BOUNDARY_MARGIN * values.abs().clamp(min=1.0))


def test_every_chapter_has_the_test_file_its_numbers_are_rerun_from() -> None:
    missing = [path for path in NUMERIC_CHECKS if not (ROOT / path).exists()]
    assert not missing, f"chapters without their test file (tests/test_<module>.py): {missing}"


def test_the_boundary_test_finds_a_value_that_could_print_either_way() -> None:
    values = [0.12345, 0.1234501, 0.1234504, 0.5, -0.00005, 12.34565, 12.345654, 1000.00005, float("-inf")]
    near = [True, True, False, False, True, True, False, False, False]
    assert near_a_rounding_boundary(torch.tensor(values, dtype=torch.float64)).tolist() == near


def test_no_tensor_the_pages_print_lies_on_a_rounding_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every example of every page and docstring runs again, recording the tensors it shows;
    none may hold a value that another CPU's last bit could round to other printed digits."""
    shown: list[tuple[str, torch.Tensor]] = []
    where = {"example": ""}
    original = torch.Tensor.__repr__

    def recording_repr(tensor: torch.Tensor, *args: object, **kwargs: object) -> str:
        if tensor.is_floating_point() and tensor.device.type != "meta":
            shown.append((where["example"], tensor.detach().clone()))
        return original(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "__repr__", recording_repr)
    documents = [conftest.MARKDOWN_EXAMPLES.parse(path) for path in sorted((ROOT / "docs").rglob("*.md"))]
    documents += [conftest.DOCSTRING_EXAMPLES.parse(path) for path in sorted((ROOT / "attention_lab").rglob("*.py"))]
    for document in documents:
        for example in document:
            where["example"] = f"{Path(example.path).relative_to(ROOT)}:{example.line}"
            example.evaluate()
    assert len(shown) > 100  # the pages show tensors on every page (160 today)
    risky = {place: tensor.flatten()[near_a_rounding_boundary(tensor)].tolist() for place, tensor in shown
             if near_a_rounding_boundary(tensor).any()}  # fmt: skip
    assert not risky, f"printed values within {BOUNDARY_MARGIN:g} of a rounding boundary (print fewer decimals or a bound): {risky}"
