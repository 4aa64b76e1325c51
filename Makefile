# One command runner for people, CI and the README.
#   make serve   set up .venv, then serve the site at http://127.0.0.1:8000/ with live reload
#   make test    set up .venv and a reader's notebook environment, then run every test (unit, doc examples, strict site build, browser)
#   make test-fast  set up .venv, then every test but the site build, the browser and the CPU-kernel reruns (the author's loop)
#   make site    set up .venv, then build the static site into site/
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The environment a reader runs a downloaded notebook in (torch and Jupyter, no attention_lab):
# made once as set-up of `make test`, remade when the lock changes (tests/reader_env.py).
READER := .reader-venv
READER_STAMP := $(READER)/.installed
export NO_MKDOCS_2_WARNING := 1

# pytest-xdist workers; --dist loadscope keeps a module (and a docs page, whose examples share
# one namespace) on one worker, and --no-loadscope-reorder hands the modules out in the order
# tests/conftest.py gives them (the browser test first). The site is built once and shared.
# OMP_WAIT_POLICY=PASSIVE: an idle OpenMP thread sleeps instead of spinning, so two workers that
# both use torch share the two cores (it changes when threads wait, never what they compute).
# PYTHONDONTWRITEBYTECODE emptied: where a machine sets it (these do), every Python process of the run
# compiled the package and rewrote the tests' asserts again (a worker's collection: 7.5 CPU-s, 6.1
# with __pycache__/, which git ignores; each CPU-kernel rerun 1.2 s more); now the first writes it.
JOBS   ?= 2
PYTEST := ATTENTION_LAB_CACHE=false OMP_WAIT_POLICY=PASSIVE PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(JOBS) --dist loadscope --no-loadscope-reorder

.PHONY: serve test test-fast site bench lock clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Attention Lab needs Python 3.11 or newer, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# serve renders again only what an edit changed and runs notebooks in the background, reusing
# runs and figures while their inputs are unchanged (hooks/author_loop.py, README "The author loop");
# test, site and CI always build cold.
serve: $(STAMP)
	ATTENTION_LAB_CACHE=true SITE_URL=http://127.0.0.1:8000/ $(BIN)/mkdocs serve --no-strict --dirty --dev-addr 127.0.0.1:8000  # warnings are printed; make test is strict

test: $(STAMP) $(READER_STAMP)
	bash scripts/install-browser.sh
	ATTENTION_LAB_READER_VENV=$(CURDIR)/$(READER) $(PYTEST)

$(READER_STAMP): $(STAMP) requirements.lock tests/reader_env.py
	$(BIN)/python -m tests.reader_env $(READER)
	touch $(READER_STAMP)

test-fast: $(STAMP)
	$(PYTEST) -m "not site and not kernels"

site: $(STAMP)
	ATTENTION_LAB_CACHE=false timeout 600 $(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python benchmarks/timings.py

# Re-pin every dependency to what is installed in .venv now.
lock: $(STAMP)
	{ sed -n '1,3p' requirements.lock; $(BIN)/python -m pip freeze --exclude-editable | sed -E 's/^(torch==[0-9.]+)\+cpu$$/\1/' | sort -f; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf site build .cache $(READER)
