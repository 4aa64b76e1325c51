"""The public API is typed: mypy --strict passes on the package (it ships py.typed)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_package_ships_py_typed() -> None:
    assert (ROOT / "attention_lab" / "py.typed").is_file()


def test_mypy_strict_passes_on_the_package() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "attention_lab"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
