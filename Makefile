# The two commands of the quick start: `make book` and `make test`.
# Both create .venv and install the pinned requirements when needed.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB_FLAGS := -W -n --keep-going
NBVAL_FLAGS := --nbval-lax --nbval-current-env -n 2 --dist loadfile

.PHONY: help install book test unit notebooks site-tests timings clean-notebooks freeze clean

help:
	@echo "make book       build the website into _build/html (executes every notebook)"
	@echo "make test       unit tests, nbval over every notebook, warnings-as-errors build, site checks"
	@echo "make timings    execute each notebook and print its wall time"
	@echo "make clean-notebooks  strip outputs and metadata from chapters/*.ipynb"

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo
	@echo "The book is built. Open it (no network needed):"
	@echo "    $(CURDIR)/_build/html/index.html"

# The whole suite: a warnings-as-errors build first (the site checks read it),
# then unit tests, doctests, nbval over every chapter and the site checks.
test: $(STAMP)
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	$(BIN)/python -m pytest $(NBVAL_FLAGS)

timings: $(STAMP)
	$(BIN)/python benchmarks/notebook_timings.py

clean-notebooks: $(STAMP)
	$(BIN)/python scripts/clean_notebooks.py chapters/*.ipynb

freeze: $(STAMP)
	@$(BIN)/python -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'

clean:
	rm -rf _build
