"""What the build's generated outputs depend on, as one hash: the key of some author-loop caches.

`make serve` sets `ATTENTION_LAB_CACHE=true`: the package's wheel is then kept under
`.cache/wheel/`, keyed on this fingerprint, and the notebooks' and figures' caches key
on what each one depends on (hooks/_notebook_runs.py, hooks/figures.py). In a
`mkdocs build` with the variable set, the notebooks hook writes the fingerprint into
each generated notebook, so that mkdocs-jupyter's cache (which keys on the notebook's
bytes) misses as soon as the package changes. `make test`, `make site` and CI leave
the variable unset: every build there is cold, so a test can never pass on stale outputs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".cache"
# Everything that can change what a notebook prints or a figure shows.
INPUTS = ("attention_lab/**/*.py", "hooks/*.py", "requirements.lock", "pyproject.toml", "docs/data/*.json")


def enabled() -> bool:
    """Whether this build may reuse outputs (`ATTENTION_LAB_CACHE=true`, set by `make serve`)."""
    return os.environ.get("ATTENTION_LAB_CACHE", "").lower() == "true"


def fingerprint(root: Path = ROOT) -> str:
    """SHA-256 over the package source, the hooks and the pinned versions (paths and bytes)."""
    digest = hashlib.sha256()
    for pattern in INPUTS:
        for path in sorted(root.glob(pattern)):
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
