"""Under `make serve`: chapter notebooks run in the background, their outputs kept by what they run.

`make serve` has to show an edit in a couple of seconds, and running a chapter's notebook
takes several (a kernel, torch, every cell). So while serving, no build waits for a
kernel. Each chapter's notebook is built from the chapter page as always, then given
the outputs of an earlier run of the same code, kept in `.cache/notebooks/<key>.ipynb`.
The key (`run_key`) is a hash of what a run can depend on: the notebook's code cells,
the package modules those cells import (directly or through other package modules),
the pins and the benchmark data. So:

- a prose edit keeps every key: the notebook is rebuilt with its new prose and the
  outputs it had, without a kernel;
- a package edit changes the keys of the chapters that import the edited module, and
  only those run again, in a background process (`Runs`), while their notebook pages
  show the last run's outputs under a note saying that they are being recomputed;
- when a run ends, its notebook lands in `.cache/notebooks/` and `make serve` rebuilds
  the site (hooks/author_loop.py), which then shows the fresh outputs.

A cell that raises is kept with its traceback (the page shows it) and reported in the
`make serve` log; `make test`, `make site` and CI use none of this: there mkdocs-jupyter
runs every notebook, cold, and a cell that raises fails the build.

Run as a script, `python -m hooks._notebook_runs IN OUT` executes one notebook (the
background process of one run).
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import heapq
import itertools
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import nbformat
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "attention_lab"
RUNS_DIR = ROOT / ".cache" / "notebooks"
# Besides the code and the modules it imports, what can change a run's outputs.
ALWAYS = ("requirements.lock", "pyproject.toml", "docs/data/*.json")
RUN_TIMEOUT_S = 600
log = logging.getLogger("mkdocs.hooks.notebook_runs")


def code_sources(notebook: NotebookNode) -> list[str]:
    """The source of every code cell, in order."""
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _module_file(module: str, root: Path) -> Path | None:
    """The file of a package module (`attention_lab.x` -> attention_lab/x.py or x/__init__.py)."""
    relative = Path(*module.split("."))
    for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.AST) -> Iterable[tuple[str, tuple[str, ...]]]:
    """(module, names) for each import of the package in a syntax tree; `names` is empty for
    `import attention_lab...`, which can reach any of its modules."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == PACKAGE:
                yield node.module, tuple(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield alias.name, ()


_parsed: dict[tuple[Path, int, int], list[tuple[str, tuple[str, ...]]]] = {}


def file_imports(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """The package imports of a source file, (module, names) each (names empty for `import
    attention_lab...`), remembered while the file is unchanged (size, mtime)."""
    stat = path.stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _parsed:
        _parsed[key] = list(_imports(ast.parse(path.read_text(encoding="utf-8"))))
    return _parsed[key]


def _static_all(path: Path) -> tuple[str, ...]:
    """The names a module's `__all__` lists, read from its source (a list or tuple of strings)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            if isinstance(node.value, (ast.List, ast.Tuple)):
                return tuple(e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return ()


def _defined_in(init: Path, root: Path) -> dict[str, str]:
    """Where each name a package's `__init__` imports comes from: name -> module. A star import
    (`from attention_lab.x import *`) brings the names of that module's `__all__`; the package's
    own submodules (`from attention_lab import x`) are not names defined elsewhere."""
    defined_in: dict[str, str] = {}
    for module, names in file_imports(init):
        if names == ("*",):
            source = _module_file(module, root)
            names = _static_all(source) if source is not None else ()
        for name in names:
            if not ((init.parent / f"{name}.py").is_file() or (init.parent / name / "__init__.py").is_file()):
                defined_in[name] = module
    return defined_in


def defining_file(identifier: str, root: Path = ROOT) -> Path | None:
    """The source file that defines `identifier` (`attention_lab.name`, `attention_lab.x.Name.method`),
    following a package's re-exports to the module the name comes from."""
    parts = identifier.split(".")
    for end in range(len(parts), 0, -1):  # the longest dotted prefix that is a module
        path = _module_file(".".join(parts[:end]), root)
        if path is None:
            continue
        rest = parts[end:]
        if rest and path.name == "__init__.py":
            defined_in = _defined_in(path, root)
            if rest[0] in defined_in:
                return defining_file(".".join([defined_in[rest[0]], *rest]), root)
        return path
    return None


def imported_files(code: str, root: Path = ROOT) -> set[Path]:
    """The package's source files that running `code` depends on.

    A module imported counts with every package module it imports, and so on. A name
    imported from a package's `__init__` counts as the module that defines it (the
    `__init__` itself counts too, but not the rest of what it imports). Code that does not
    parse, or that imports the package as a whole (`import attention_lab`), depends on all
    of it.
    """
    everything = {path for path in (root / PACKAGE).rglob("*.py") if "__pycache__" not in path.parts}
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return everything
    found: set[Path] = set()
    followed: set[Path] = set()
    pending = list(_imports(tree))
    while pending:
        module, names = pending.pop()
        path = _module_file(module, root)
        if path is None:
            continue
        if module == PACKAGE and not names:
            return everything
        parts = module.split(".")
        for end in range(1, len(parts)):  # the packages above run their __init__ first
            init = _module_file(".".join(parts[:end]), root)
            if init is not None:
                found.add(init)
        found.add(path)
        if path.name == "__init__.py" and names:
            defined_in = _defined_in(path, root)
            for name in names:
                if name in defined_in:
                    pending.append((defined_in[name], (name,)))
                elif _module_file(f"{module}.{name}", root) is not None:
                    pending.append((f"{module}.{name}", ()))
                else:  # defined in the __init__ itself, from what it imports
                    pending.append((module, ()))
            continue
        if path in followed:
            continue
        followed.add(path)
        pending.extend(file_imports(path))
    return found


def exercise_specs(page: str, root: Path = ROOT) -> list[str]:
    """The exercise spec modules of a chapter page: those whose `PAGE` names it.

    `attention_lab.exercises.check` imports every spec module as it finds them, which no
    import statement shows; what a chapter's checks print depends on its own specs.
    """
    specs = []
    for path in sorted((root / PACKAGE / "exercises").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(target, ast.Name) and target.id == "PAGE" for target in node.targets)
                and isinstance(node.value, ast.Constant)
                and node.value.value == page
            ):
                specs.append(f"{PACKAGE}.exercises.{path.stem}")
    return specs


_digests: dict[tuple[Path, int, int], bytes] = {}


def code_digest(path: Path) -> bytes:
    """A hash of what a Python file does: its syntax tree without docstrings, comments or line
    numbers (a docstring edit runs nothing again; the API page shows it). Remembered while
    the file is unchanged."""
    stat = path.stat()
    memo = (path, stat.st_mtime_ns, stat.st_size)
    if memo not in _digests:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (
                isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
        _digests[memo] = hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).digest()
    return _digests[memo]


def input_digest(files: Iterable[Path], root: Path = ROOT, *, first: bytes = b"") -> str:
    """SHA-256 over `first` then each file's path and content: a package module's `code_digest`,
    any other file's bytes."""
    digest = hashlib.sha256(first)
    package = root / PACKAGE
    for path in sorted(files):
        content = code_digest(path) if path.suffix == ".py" and path.is_relative_to(package) else path.read_bytes()
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + content + b"\0")
    return digest.hexdigest()


def run_key(notebook: NotebookNode, page: str, root: Path = ROOT) -> str:
    """A hash of the notebook's code cells and every file a run of it depends on
    (`imported_files`, the chapter page's exercise specs, `ALWAYS`; `input_digest`)."""
    code = code_sources(notebook)
    # IPython's magics (`%matplotlib inline`) and shell lines are not Python: left out.
    parseable = "\n".join(line for source in code for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    parseable += "".join(f"\nimport {spec}" for spec in exercise_specs(page, root))
    files = imported_files(parseable, root) | {path for pattern in ALWAYS for path in root.glob(pattern)}
    return input_digest(files, root, first="\0".join(code).encode())


def write_whole(path: Path, content: bytes) -> None:
    """Write a file that a reader never sees half of: a partial file beside it, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content)
    os.replace(partial, path)


def run_errors(notebook: NotebookNode) -> list[str]:
    """'cell N: Name: message' for each code cell whose run raised."""
    errors = []
    for number, cell in enumerate((cell for cell in notebook.cells if cell.cell_type == "code"), start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append(f"code cell {number}: {output.get('ename')}: {output.get('evalue')}")
    return errors


def with_outputs(notebook: NotebookNode, executed: NotebookNode) -> bool:
    """Copy `executed`'s outputs into `notebook`'s code cells whose source is the same, in order.

    Cells are matched as a diff matches lines (so an inserted or removed cell leaves the
    others matched). Returns whether every code cell got its outputs from the same code.
    """
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    ran = [cell for cell in executed.cells if cell.cell_type == "code"]
    matcher = difflib.SequenceMatcher(a=[c.source for c in cells], b=[c.source for c in ran], autojunk=False)
    matched = 0
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            cell, source = cells[block.a + offset], ran[block.b + offset]
            cell.outputs = source.get("outputs", [])
            cell.execution_count = source.get("execution_count")
            matched += 1
    return matched == len(cells) == len(ran)


# What a kernel imports while it waits for a notebook: what every chapter's first cells
# import (about 2 s of a run). Never attention_lab, which an edit may have changed.
WARM_UP = "import torch\nimport matplotlib\n"


def execute_when_asked(lines: Iterator[str]) -> None:
    """Start a kernel in the project root and run `WARM_UP` in it (silently, outside the
    history: execution counts start at 1 as in a new kernel), print "ready", then run the
    notebook named by the next line ("IN<TAB>OUT"), keeping errors as outputs."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nbformat.v4.new_notebook(), kernel_name="python3", timeout=RUN_TIMEOUT_S, allow_errors=True,
        resources={"metadata": {"path": str(ROOT)}},
    )  # fmt: skip
    with client.setup_kernel():
        assert client.kc is not None
        client.wait_for_reply(client.kc.execute(WARM_UP, silent=True, store_history=False))
        print("ready", flush=True)
        line = next(lines, "").rstrip("\n")
        if not line:
            return
        source, target = line.split("\t")
        notebook = nbformat.read(source, as_version=4)
        client.nb = notebook
        client.reset_execution_trackers()
        info = client.wait_for_reply(client.kc.kernel_info())
        if info is not None:
            notebook.metadata["language_info"] = info["content"]["language_info"]
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        client.set_widgets_metadata()
    nbformat.write(notebook, target)


class Runs:
    """Background jobs (notebook runs, and commands that draw figures or build the wheel), one
    process each, at most `workers` at a time and one fewer while a build is under way (MkDocs
    builds on one core); a notebook runs in a kernel started beforehand (`warm_up`).

    A finished run is written to `RUNS_DIR/<key>.ipynb` and, as the last run of its
    notebook, to `RUNS_DIR/last/<name>`.

    Jobs wait in the order of the chapters (`page_order`), not of their arrival: a chapter's
    figures, then its notebook, then the next chapter's. An edit of a chapter's module
    changes that chapter and the later ones that import it, so the edited chapter, the page
    its author is reading, is redone first and shown before the others are.
    """

    def __init__(self, workers: int, runs_dir: Path = RUNS_DIR) -> None:
        self.runs_dir = runs_dir
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notebook-run")
        self._pending: dict[str, Future[None]] = {}  # queued or running, by key
        self._jobs: list[tuple[tuple[int, int], int, Callable[[], None]]] = []  # a heap: (rank, arrival, job)
        self._arrivals = itertools.count()
        self.page_order: list[str] = []  # the chapter pages' stems, in reading order (hooks/author_loop.py)
        self._making: dict[str, frozenset[str]] = {}  # job key -> what the job makes (`making`)
        self._processes: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._finished = 0  # runs stored so far
        self._rebuild: Callable[[], None] | None = None
        self._turns = threading.Condition(self._lock)  # a job starts when `_may_start`
        self._building = False  # a build under way, or asked for
        self._busy = 0  # jobs started and not ended
        self._wanted: set[str] = set()  # the keys of the notebooks of the build under way
        self.figures_to_draw: list[dict[str, object]] = []  # found missing by the build under way (hooks/figures.py)
        self._workers = workers
        self._warm: list[subprocess.Popen[str]] = []  # kernels warming or warm, waiting for a notebook
        self._running = 0  # notebooks running now

    def done(self, key: str) -> NotebookNode | None:
        path = self.runs_dir / f"{key}.ipynb"
        return nbformat.read(path, as_version=4) if path.is_file() else None

    def want(self, key: str) -> None:
        """Keep the run of `key`: a notebook of the build under way has it."""
        self._wanted.add(key)

    def forget_unwanted(self) -> None:
        """Delete the stored runs no notebook of this build has (older versions of the code or
        the package), as mkdocs-jupyter evicts what a build did not use; the last run of each
        notebook stays."""
        for path in self.runs_dir.glob("*.ipynb"):
            if path.stem not in self._wanted:
                path.unlink(missing_ok=True)
        self._wanted = set()

    def stored_at(self, key: str, name: str) -> float:
        """When the run of `key`, or else the last run of `name`, was stored (0 if none)."""
        for path in (self.runs_dir / f"{key}.ipynb", self.runs_dir / "last" / name):
            if path.is_file():
                return path.stat().st_mtime
        return 0.0

    def last(self, name: str) -> NotebookNode | None:
        path = self.runs_dir / "last" / name
        return nbformat.read(path, as_version=4) if path.is_file() else None

    def notify(self, rebuild: Callable[[], None]) -> None:
        """How to ask `make serve` for a rebuild: called (from a run's thread) each time a run
        is stored, by `rebuild_later`, and once now if runs were stored before this call."""
        with self._lock:
            self._rebuild = rebuild
            finished = self._finished
        if finished:
            rebuild()

    def build_started(self) -> None:
        """A build began: until it ends, one job fewer may run (`_may_start`)."""
        with self._turns:
            self._building = True

    def build_ended(self) -> None:
        with self._turns:
            self._building = False
            self._turns.notify_all()

    def _may_start(self) -> bool:  # under self._lock
        """Whether a job may start now: one a worker, one fewer while a build is under way or
        asked for (MkDocs builds on one core: the others run jobs meanwhile)."""
        return self._closed or self._busy < self._workers - self._building

    def rebuild_later(self) -> None:
        """Ask for one more rebuild after the one under way."""
        with self._lock:
            rebuild = self._rebuild
        if rebuild is not None:
            rebuild()

    def rank(self, page: str, step: int) -> tuple[int, int]:
        """A job's place in the queue: its chapter's place in `page_order` (other pages after
        the chapters), then `step` within the chapter (0 its figures, 1 its notebook)."""
        return (self.page_order.index(page) if page in self.page_order else len(self.page_order), step)

    def submit(self, key: str, name: str, notebook: NotebookNode) -> None:
        """Run `notebook` (saved as `name`, its chapter's page stem and `.ipynb`) unless a run of
        `key` is done or under way."""
        with self._lock:
            if self._closed or key in self._pending or (self.runs_dir / f"{key}.ipynb").is_file():
                return
            text = nbformat.writes(notebook)
            self._enqueue(key, self.rank(Path(name).stem, 1), lambda: self._run(key, name, text))

    def submit_command(
        self, key: str, what: str, command: list[str], *, rank: tuple[int, int] | None = None, makes: Iterable[str] = ()
    ) -> None:
        """Run `command` in the project root, as a run, unless a job of `key` is under way; it
        stores what it makes itself. `what` names it in the log; `rank` places it in the
        queue (by default after every chapter); `makes` names what it makes, for `making`."""
        with self._lock:
            if self._closed or key in self._pending:
                return
            place = rank if rank is not None else (len(self.page_order) + 1, 0)
            self._making[key] = frozenset(makes)
            self._enqueue(key, place, lambda: self._job(key, what, command))

    def making(self) -> frozenset[str]:
        """What the commands queued or running make (their `makes`): not to be asked for again."""
        with self._lock:
            return frozenset().union(*self._making.values())

    def _enqueue(self, key: str, rank: tuple[int, int], job: Callable[[], None]) -> None:  # under self._lock
        """Queue `job` at `rank`: the pool gets one turn for it, and each turn runs the first
        job waiting when the turn comes (not necessarily the one it was given for)."""
        heapq.heappush(self._jobs, (rank, next(self._arrivals), job))
        self._pending[key] = self._pool.submit(self._next_job)

    def _next_job(self) -> None:
        with self._turns:
            self._turns.wait_for(self._may_start)  # the job is chosen then, from all queued by then
            _, _, job = heapq.heappop(self._jobs)
            self._busy += 1
        try:
            job()
        finally:
            with self._turns:
                self._busy -= 1
                self._turns.notify_all()

    def _job(self, key: str, what: str, command: list[str]) -> None:
        try:
            with self._lock:
                if self._closed:
                    return
                process = self._start(command)
            started = time.perf_counter()
            if self._finish(process, what):
                log.info("%s: done in %.1f s", what, time.perf_counter() - started)
                self._stored()
        finally:
            with self._lock:
                self._pending.pop(key, None)
                self._making.pop(key, None)

    def _start(self, command: list[str], *, asked: bool = False) -> subprocess.Popen[str]:  # under self._lock
        """Start `command` in the project root (with a pipe to its stdin if it is to be `asked`)."""
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE if asked else None, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self._processes.add(process)
        return process

    def _finish(self, process: subprocess.Popen[str], what: str, ask: str | None = None) -> bool:
        """Wait for `process` to end, first giving it the line `ask` once it says "ready";
        whether it succeeded (a failure is logged with its output)."""
        said = ""
        try:
            if ask is not None:
                assert process.stdin is not None and process.stdout is not None
                for line in process.stdout:  # the kernel's log lines, then "ready"
                    if line.strip() == "ready":
                        process.stdin.write(f"{ask}\n")
                        process.stdin.flush()
                        break
                    said += line
            output, _ = process.communicate(timeout=RUN_TIMEOUT_S + 60)
        finally:
            with self._lock:
                self._processes.discard(process)
        if process.returncode != 0 and not self._closed:
            log.warning("%s failed (exit %s):\n%s", what, process.returncode, (said + output)[-3000:])
        return process.returncode == 0

    def _stored(self) -> None:
        with self._lock:
            self._finished += 1
            if self._rebuild is not None:
                self._building = True  # the rebuild asked for below: one job fewer until it ends
        self.rebuild_later()

    def _kernel(self) -> subprocess.Popen[str] | None:
        """A process with a kernel warm or warming up (`execute_when_asked`); None once closed."""
        with self._lock:
            if self._closed:
                return None
            self._running += 1
            return self._warm.pop() if self._warm else self._start_kernel()

    def _start_kernel(self) -> subprocess.Popen[str]:  # under self._lock
        return self._start([sys.executable, "-m", "hooks._notebook_runs"], asked=True)

    def warm_up(self) -> None:
        """Have a kernel warm for each worker not running a notebook, so that the next runs
        skip starting one (called once the first build is served, and after each run). Never
        more kernels than workers: on a busy machine a kernel started early only competes."""
        with self._lock:
            while not self._closed and len(self._warm) + self._running < self._workers:
                self._warm.append(self._start_kernel())

    def _run(self, key: str, name: str, text: str) -> None:
        process: subprocess.Popen[str] | None = None
        try:
            with tempfile.TemporaryDirectory(prefix="attention-lab-run-") as scratch:
                source, target = Path(scratch) / name, Path(scratch) / f"ran-{name}"
                source.write_text(text, encoding="utf-8")
                process = self._kernel()
                if process is None:
                    return
                started = time.perf_counter()
                if not self._finish(process, f"the run of notebooks/{name}", ask=f"{source}\t{target}") or not target.is_file():
                    return
                log.info("notebooks/%s: ran in %.1f s", name, time.perf_counter() - started)
                executed = nbformat.read(target, as_version=4)
                for error in run_errors(executed):
                    log.warning("notebooks/%s: %s", name, error)
                self._store(key, name, nbformat.writes(executed))
                self._stored()
        finally:
            with self._lock:
                self._pending.pop(key, None)
                self._running -= process is not None
            self.warm_up()

    def _store(self, key: str, name: str, text: str) -> None:
        """Keep a run: as the last run of notebook `name`, and as the run of `key`."""
        for path in (self.runs_dir / "last" / name, self.runs_dir / f"{key}.ipynb"):
            write_whole(path, text.encode())

    def close(self) -> None:
        """Stop: queued runs are dropped, running kernels' processes terminated."""
        with self._lock:
            self._closed = True
            processes = list(self._processes)
            self._warm = []
            self._turns.notify_all()  # queued turns end at once
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
        self._pool.shutdown(wait=False, cancel_futures=True)


_runs: Runs | None = None


def start(workers: int) -> None:
    """Start the background runs of this `make serve` process."""
    global _runs
    if _runs is None:
        _runs = Runs(workers)


def stop() -> None:
    global _runs
    if _runs is not None:
        _runs.close()
        _runs = None


def active() -> Runs | None:
    """The background runs, while `make serve` serves; None in any other build."""
    return _runs


RUNNING_AGAIN = (
    "This notebook is running again after an edit (make serve): until the run ends, the outputs "
    "below are those of its last run, and may be out of date."
)
RUNNING = "This notebook is running (make serve): its outputs appear here when the run ends."


def give_outputs(notebook: NotebookNode, name: str, runs: Runs, key: str) -> str | None:
    """Give a freshly built notebook the outputs of a run of its code: the run of the same
    key if there is one; else start that run and give it its last run's outputs (or
    none), and return the note its page shows meanwhile, saying they are not current."""
    executed = runs.done(key)
    if executed is not None:
        with_outputs(notebook, executed)
        return None
    runs.submit(key, name, notebook)
    last = runs.last(name)
    if last is not None:
        with_outputs(notebook, last)
    return RUNNING_AGAIN if last is not None else RUNNING


class _Served(NamedTuple):
    inputs: str  # what the notebook was built from (`served_text`)
    notebook: NotebookNode  # as built, without outputs
    state: tuple[str, float] | None = None  # the run key and when the outputs given were stored
    text: str = ""  # the notebook with those outputs, as written
    status: str | None = None  # the note on its page while those outputs are not current


_served: dict[str, _Served] = {}


def served_text(
    name: str, page: str, inputs: str, build: Callable[[], NotebookNode], runs: Runs, root: Path = ROOT
) -> str:
    """The text of notebook `name` (of chapter `page`) under `make serve`: built by `build`
    (again only when `inputs`, what it is built from, changed), with its outputs
    (`give_outputs`, again only when its run key or the run stored for it changed). The note
    its page shows while they are not current is `served_status`: on the page, not in the
    notebook, whose bytes (and so mkdocs-jupyter's rendering, from its cache) stay the same
    when only the note changes."""
    served = _served.get(name)
    if served is None or served.inputs != inputs:
        served = _Served(inputs, build())
    key = run_key(served.notebook, page, root)
    runs.want(key)
    state = (key, runs.stored_at(key, name))
    if served.state != state:
        notebook = copy.deepcopy(served.notebook)
        status = give_outputs(notebook, name, runs, key)
        served = served._replace(state=state, text=nbformat.writes(notebook) + "\n", status=status)
    elif runs.done(key) is None:
        runs.submit(key, name, served.notebook)  # again, if its run failed
    _served[name] = served
    return served.text


def served_status(name: str) -> str | None:
    """The note on notebook `name`'s page (`served_text`): None when its outputs are current."""
    served = _served.get(name)
    return served.status if served is not None else None


# The note each notebook page was last rendered with (hooks/notebook_pages.py), so that the page
# is rendered again when its note changes (hooks/notebooks.py).
_shown: dict[str, str | None] = {}


def status_to_show(name: str) -> str | None:
    """The note to render on notebook `name`'s page now (`served_status`), remembered as shown."""
    status = _shown[name] = served_status(name)
    return status


def status_changed(name: str) -> bool:
    """Whether notebook `name`'s note differs from the one its page was last rendered with."""
    return served_status(name) != _shown.get(name, "")


def main(argv: Sequence[str]) -> int:
    if argv:
        print("usage: python -m hooks._notebook_runs  (then IN.ipynb<TAB>OUT.ipynb on stdin)", file=sys.stderr)
        return 2
    execute_when_asked(iter(sys.stdin))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
