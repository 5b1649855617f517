# The two commands of the quick start: `make book` and `make test`.
# Both create .venv and install the pinned requirements when needed.

# The Python that creates .venv: PYTHON if given, else the first of these that is 3.11 or newer.
PYTHON ?=
PYTHONS := python3 python3.14 python3.13 python3.12 python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
STAMP  := $(VENV)/.installed
LAB_STAMP := $(VENV)/.installed-lab
# torch stays pinned (requirements.txt). Where pip finds no local CPU wheel of it, PyPI serves a
# CUDA build of several GB on Linux; `make install TORCH_INDEX=$(TORCH_CPU_INDEX)` takes the
# CPU build of the same version from PyTorch's own index instead. Empty: pip's usual sources.
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
TORCH_PIN = $(shell grep -m1 '^torch==' requirements.txt)
JB_FLAGS := -W -n --keep-going
JOBS ?= 2
NBVAL_FLAGS := --nbval-lax --nbval-current-env -n $(JOBS) --dist loadfile --no-loadscope-reorder
# node_modules (package.json): MathJax typesets the math at build time, axe-core checks the pages.
# Without npm the site still builds, with MathJax running in the reader's browser instead.
NPM_CI = @if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund; \
	else echo "note: npm not found: the math will be typeset in the browser, and the accessibility tests skipped"; fi
# The chapters' outputs, executed in parallel and cached under a key of the requirements and the package.
EXEC_CACHE = $(BIN)/python scripts/execution_cache.py
# `make book SOLUTIONS=hide`: a site for a graded term, with no solution text anywhere.
SOLUTIONS ?= show
HIDDEN_SRC := _build/hidden-src
HIDDEN_OUT := _build/hidden
GRADES ?= _build/grades.csv

.PHONY: help install install-torch venv lab pdf tex-packages book book-hidden site-build test student gradescope grade timings mutants clean-notebooks freeze clean

help:
	@echo "make book       build the website into _build/html (executes every notebook)"
	@echo "make test       unit tests, nbval over every notebook, warnings-as-errors build, site checks"
	@echo "make book SOLUTIONS=hide   the site without any solution, into $(HIDDEN_OUT)/_build/html"
	@echo "make student    student notebooks (solutions replaced by stubs), their zip and l2bayes-student.zip in _build/student"
	@echo "make gradescope [CHAPTER=...]  Gradescope's autograder.zip in _build/gradescope (holds the references)"
	@echo "make grade SUBMISSIONS=\"dir/*.ipynb\" [CHAPTER=01_prior_to_penalty] [GRADES=grades.csv]"
	@echo "make pdf        the whole book as one PDF in _build/latex/book.pdf (needs TeX), linked from the site"
	@echo "make install-torch TORCH_INDEX=$(TORCH_CPU_INDEX)   torch alone, from that index"
	@echo "make lab        install JupyterLab (once) and open the chapters in it"
	@echo "make timings    execute each notebook and print its kernel's CPU time and its wall time"
	@echo "make mutants    apply named mistakes to the package and chapters; count those the tests catch"
	@echo "make clean-notebooks  strip outputs and metadata from chapters/*.ipynb"

install: $(STAMP)

# pip prints each package as it goes: a first install takes minutes, and says so.
$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml package.json package-lock.json
	@test -x $(BIN)/python || $(MAKE) --no-print-directory venv
	$(PIP) install --upgrade pip
	$(if $(TORCH_INDEX),@$(MAKE) --no-print-directory install-torch)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -r requirements-nodeps.txt
	$(NPM_CI)
	@touch $(STAMP)

# torch alone, from TORCH_INDEX (part of `make install`; a VENV= of its own tries an index cheaply).
install-torch:
	@test -x $(BIN)/python || $(MAKE) --no-print-directory venv
	@test -n "$(TORCH_INDEX)" || { echo "usage: make install-torch TORCH_INDEX=$(TORCH_CPU_INDEX)"; exit 2; }
	$(PIP) install --no-deps --index-url $(TORCH_INDEX) $(TORCH_PIN)

venv:
	@py="$(PYTHON)"; \
	if [ -z "$$py" ]; then \
	  for p in $(PYTHONS); do \
	    if $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then py=$$p; break; fi; \
	  done; \
	fi; \
	if [ -z "$$py" ] || ! $$py -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then \
	  echo "error: the book needs Python 3.11 or newer, and found none (tried: $${py:-$(PYTHONS)})." >&2; \
	  echo "       Install one (python.org, or your system's python3.11 package), or name it:" >&2; \
	  echo "       make PYTHON=/path/to/python3.12 install" >&2; \
	  exit 1; \
	fi; \
	echo "creating $(VENV) with $$py ($$($$py -c 'import sys; print(sys.version.split()[0])'))"; \
	$$py -m venv $(VENV)

# JupyterLab and its server, only for running the chapters yourself (requirements-lab.txt).
lab: $(LAB_STAMP)
	$(BIN)/jupyter lab chapters/

$(LAB_STAMP): $(STAMP) requirements-lab.txt
	$(PIP) install -r requirements-lab.txt
	@touch $(LAB_STAMP)

ifeq ($(SOLUTIONS),hide)
book: book-hidden
else
book: $(STAMP)
	$(EXEC_CACHE) prepare --jobs $(JOBS)
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo
	@echo "The book is built. Open it (no network needed):"
	@echo "    $(CURDIR)/_build/html/index.html"
endif

# The sources are copied with every solution replaced by a stub, given the outputs
# of the executed chapters (nothing runs again), built, and the result searched for
# every line of every reference solution.
book-hidden: $(STAMP)
	rm -rf $(HIDDEN_OUT)
	$(BIN)/python -m l2bayes.publishing hidden-sources . $(HIDDEN_SRC)
	$(EXEC_CACHE) fill $(HIDDEN_SRC)
	$(BIN)/jupyter-book build $(HIDDEN_SRC) --path-output $(HIDDEN_OUT) $(JB_FLAGS)
	$(BIN)/python -m l2bayes.publishing leaks $(HIDDEN_OUT)/_build/html
	@echo
	@echo "The book without solutions is built. Open it (no network needed):"
	@echo "    $(CURDIR)/$(HIDDEN_OUT)/_build/html/index.html"

# The student notebooks, their zip and the student bundle (notebooks, a wheel without any
# reference solution whose check() uses the public case bank, pins, README), then the leak
# audit over all of it, the wheel inside the zip included.
student: $(STAMP)
	rm -rf _build/student
	$(BIN)/python -m l2bayes.publishing bundle --out _build/student
	$(BIN)/python -m l2bayes.publishing leaks _build/student

# Gradescope's autograder.zip (setup.sh, run_autograder, the references, the grader's wheel):
# for the instructors' Gradescope course only, never for students. CHAPTER= grades every upload as
# that chapter; by default each notebook says which chapter it is.
gradescope: $(STAMP)
	$(BIN)/python -m l2bayes.grading.gradescope build --out _build/gradescope $(if $(CHAPTER),--chapter $(CHAPTER))

# Every submission is read and run in a bubblewrap sandbox; without a usable bwrap the grader
# refuses (and says how to install it) unless NO_SANDBOX=1, which marks every row sandbox=none.
# SEED= replays a batch's hidden cases; SHARD=I/N (with SEED=) grades one slice, joined by
# `python -m l2bayes.grade merge --out all.csv SHARD_RESULTS...`.
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo 'usage: make grade SUBMISSIONS="dir/*.ipynb" [CHAPTER=01_prior_to_penalty] [GRADES=grades.csv] [SEED=n] [SHARD=i/n] [NO_SANDBOX=1]'; exit 2; }
	$(BIN)/python -m l2bayes.grade $(SUBMISSIONS) --out $(GRADES) $(if $(CHAPTER),--chapter $(CHAPTER)) --jobs 2 \
		$(if $(SEED),--seed $(SEED)) $(if $(SHARD),--shard $(SHARD)) $(if $(NO_SANDBOX),--no-sandbox)

# The whole suite: warnings-as-errors builds of the book and of the book without
# solutions first (the site checks read both), then unit tests, doctests, nbval
# over every chapter, the site checks and the browser tests. Each chapter runs
# twice: once for the builds (cached, see scripts/execution_cache.py) and once
# under nbval, independently. The two builds only read the cache and write to
# different folders: they run side by side, one core each.
test: $(STAMP)
	$(EXEC_CACHE) prepare --jobs $(JOBS)
	$(MAKE) --no-print-directory -j $(JOBS) --output-sync=target site-build book-hidden
	$(BIN)/python -m pytest $(NBVAL_FLAGS)

site-build:
	$(BIN)/jupyter-book build . $(JB_FLAGS)

# The whole book as one PDF: Jupyter Book's LaTeX builder, XeLaTeX, the figures converted by
# rsvg-convert; the site is rebuilt so that it links it, then both are checked (pdfinfo, pdftotext).
TEX_PACKAGES := texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-xetex \
	latexmk fonts-freefont-otf fonts-dejavu-core librsvg2-bin poppler-utils
PDF := _build/latex/book.pdf

tex-packages:
	@echo $(TEX_PACKAGES)

pdf: $(STAMP)
	@for tool in xelatex latexmk rsvg-convert pdftotext; do command -v $$tool >/dev/null 2>&1 || { \
	  echo "error: make pdf needs $$tool. On Debian or Ubuntu (as root):" >&2; \
	  echo "       apt-get install $(TEX_PACKAGES)" >&2; exit 1; }; done
	$(EXEC_CACHE) prepare --jobs $(JOBS)
	$(BIN)/jupyter-book build . --builder pdflatex $(JB_FLAGS)
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	L2BAYES_REQUIRE_PDF=1 $(BIN)/python -m pytest -q -p no:xdist tests/test_pdf.py
	@echo
	@echo "The book as one PDF: $(CURDIR)/$(PDF) (the site links it)"

timings: $(STAMP)
	$(BIN)/python benchmarks/notebook_timings.py

# A benchmark of the checks' teeth, not part of `make test` (MUTANTS_FLAGS=--fast skips chapter runs).
mutants: $(STAMP)
	$(BIN)/python benchmarks/mutants.py $(MUTANTS_FLAGS)

clean-notebooks: $(STAMP)
	$(BIN)/python scripts/clean_notebooks.py chapters/*.ipynb

# The pins of requirements.txt: what is installed, less JupyterLab's share (requirements-lab.txt).
freeze: $(STAMP)
	@$(PIP) freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' \
	  | awk 'NR == FNR { if ($$0 !~ /^#/) lab[tolower($$0)]; next } !(tolower($$0) in lab)' requirements-lab.txt -

clean:
	rm -rf _build
