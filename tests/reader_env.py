"""The environment a reader runs a downloaded notebook in: torch and Jupyter, no attention_lab.

`make test` makes it once as set-up (`.reader-venv/`, remade when requirements.lock changes)
and tests/test_notebooks.py uses it through `ATTENTION_LAB_READER_VENV`; without that variable
the test makes a fresh one in a temporary folder. Either way the test uninstalls attention_lab
from it first, so each notebook's first cell installs the wheel from the site.

    .venv/bin/python -m tests.reader_env .reader-venv
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the reader's environment holds: torch and Jupyter (and matplotlib, which the wheel's
# `plot` extra would otherwise fetch from the package index), at the pins of requirements.lock.
READER_PACKAGES = ["torch", "ipykernel", "nbclient", "matplotlib"]


def create(venv: Path) -> Path:
    """A new virtual environment at `venv` with READER_PACKAGES; returns its Python."""
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # --no-compile: pip would byte-compile all of torch (45 s here, 15 s without); the kernel
    # compiles only the modules it imports on first use; what the notebooks run is the same.
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                    "-c", str(ROOT / "requirements.lock"), *READER_PACKAGES], check=True, timeout=1200)  # fmt: skip
    return python


if __name__ == "__main__":
    create(Path(sys.argv[1]))
