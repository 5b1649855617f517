# The two commands of the quick start: `make book` and `make test`.
# Both create .venv and install the pinned requirements when needed.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB_FLAGS := -W -n --keep-going
NBVAL_FLAGS := --nbval-lax --nbval-current-env -n 2 --dist loadfile
# `make book SOLUTIONS=hide`: a site for a graded term, with no solution text anywhere.
SOLUTIONS ?= show
HIDDEN_SRC := _build/hidden-src
HIDDEN_OUT := _build/hidden
GRADES ?= _build/grades.csv

.PHONY: help install book book-hidden test student grade timings mutants clean-notebooks freeze clean

help:
	@echo "make book       build the website into _build/html (executes every notebook)"
	@echo "make test       unit tests, nbval over every notebook, warnings-as-errors build, site checks"
	@echo "make book SOLUTIONS=hide   the site without any solution, into $(HIDDEN_OUT)/_build/html"
	@echo "make student    student notebooks (solutions replaced by stubs) and their zip in _build/student"
	@echo "make grade SUBMISSIONS=\"dir/*.ipynb\" [CHAPTER=01_prior_to_penalty] [GRADES=grades.csv]"
	@echo "make timings    execute each notebook and print its wall time"
	@echo "make mutants    apply named mistakes to the package and chapters; count those the tests catch"
	@echo "make clean-notebooks  strip outputs and metadata from chapters/*.ipynb"

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

ifeq ($(SOLUTIONS),hide)
book: book-hidden
else
book: $(STAMP)
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo
	@echo "The book is built. Open it (no network needed):"
	@echo "    $(CURDIR)/_build/html/index.html"
endif

# The sources are copied with every solution replaced by a stub, built, and the
# result searched for every line of every reference solution.
book-hidden: $(STAMP)
	rm -rf $(HIDDEN_OUT)
	$(BIN)/python -m l2bayes.student hidden-sources . $(HIDDEN_SRC)
	$(BIN)/jupyter-book build $(HIDDEN_SRC) --path-output $(HIDDEN_OUT) $(JB_FLAGS)
	$(BIN)/python -m l2bayes.student leaks $(HIDDEN_OUT)/_build/html
	@echo
	@echo "The book without solutions is built. Open it (no network needed):"
	@echo "    $(CURDIR)/$(HIDDEN_OUT)/_build/html/index.html"

student: $(STAMP)
	$(BIN)/python -m l2bayes.student notebooks --out _build/student

grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo 'usage: make grade SUBMISSIONS="dir/*.ipynb" [CHAPTER=01_prior_to_penalty] [GRADES=grades.csv]'; exit 2; }
	$(BIN)/python -m l2bayes.grade $(SUBMISSIONS) --out $(GRADES) $(if $(CHAPTER),--chapter $(CHAPTER)) --jobs 2

# The whole suite: warnings-as-errors builds of the book and of the book without
# solutions first (the site checks read both), then unit tests, doctests, nbval
# over every chapter, the site checks and the browser tests.
test: $(STAMP)
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	$(MAKE) --no-print-directory book-hidden
	$(BIN)/python -m pytest $(NBVAL_FLAGS)

timings: $(STAMP)
	$(BIN)/python benchmarks/notebook_timings.py

# A benchmark of the checks' teeth, not part of `make test` (MUTANTS_FLAGS=--fast skips chapter runs).
mutants: $(STAMP)
	$(BIN)/python benchmarks/mutants.py $(MUTANTS_FLAGS)

clean-notebooks: $(STAMP)
	$(BIN)/python scripts/clean_notebooks.py chapters/*.ipynb

freeze: $(STAMP)
	@$(BIN)/python -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'

clean:
	rm -rf _build
