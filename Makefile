# `make book` builds the HTML book (paper profile); `make test` runs every test (quick profile),
# ending with the quick book checked in a headless browser.
# Both install what they need into .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DNC_CACHE_DIR ?= $(CURDIR)/.cache/dnc
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export DNC_REFERENCE_DIR ?= $(CURDIR)/tests/reference

.PHONY: book test lint unit nbval nbval-kernels book-quick browser figures bench refresh-reference refresh-stochastic clean venv

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

book: $(STAMP)
	DNC_PROFILE=$${DNC_PROFILE:-paper} DNC_REFERENCE=$${DNC_REFERENCE:-report} $(PY) tools/build_book.py

test: $(STAMP)
	$(MAKE) --no-print-directory lint unit nbval nbval-kernels book-quick browser

lint: $(STAMP)
	$(VENV)/bin/ruff check lib tests tools benchmarks
	$(VENV)/bin/ruff format --check lib tests tools benchmarks

unit: $(STAMP)
	DNC_PROFILE=quick $(PY) -m pytest -q --durations=15 tests/unit

nbval: $(STAMP)
	DNC_PROFILE=quick $(PY) tools/nbval_notebooks.py prepare build/nbval
	DNC_PROFILE=quick $(PY) -m pytest -q --durations=15 --nbval-lax --nbval-cell-timeout=1200 -p no:cacheprovider build/nbval

# The chapters whose results come from minibatch float32 training, once more under another set of
# CPU kernels than this machine's (tools/kernels.py): a reader's CPU trains like another seed.
nbval-kernels: $(STAMP)
	DNC_PROFILE=quick $(PY) tools/kernels.py build/nbval-kernels

book-quick: $(STAMP)
	DNC_PROFILE=quick $(PY) tools/build_book.py

# The built HTML as a reader sees it: links, images, offline MathJax, and (with Chromium and
# chromedriver from the OS, e.g. apt-get install chromium chromium-driver) every page in a
# headless browser. Run after book-quick or book.
browser: $(STAMP)
	$(PY) tests/browser/check_book.py _build/html

# Re-record the pinned values of the chapters (all, or CHAPTERS="relu_ufm ..."); the profile is
# quick unless DNC_PROFILE=paper is given.
refresh-reference: $(STAMP)
	DNC_PROFILE=$${DNC_PROFILE:-quick} $(PY) tools/nbval_notebooks.py refresh tests/reference $(CHAPTERS)

# Re-record the stochastic chapters (all, or CHAPTERS="...") under every kernel set of this CPU.
refresh-stochastic: $(STAMP)
	DNC_PROFILE=$${DNC_PROFILE:-quick} $(PY) tools/kernels.py refresh $(CHAPTERS)

figures: $(STAMP)
	$(PY) -m dnc figure all --out figures

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf _build build .cache
