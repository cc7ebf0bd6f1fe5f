# ganlab: `make lab` to run the course, `make test` to check it. Both need only python3 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NBVAL_TIMEOUT ?= 300
NBVAL_FAILURES ?=
# The stale-notebook guard: 1 (the default) fails on what only re-executing the notebooks clears
# (no run record yet, outputs too large or showing a path); 0 only warns, while you re-run them.
STRICT ?= 1
# `make notebook-times PROFILE=tiny`: the profile to time (outputs are not kept).
PROFILE ?= tiny

# Extra arguments for `make lab`, e.g. LAB_ARGS="--no-browser --port=8890".
LAB_ARGS ?=
# JupyterLab refuses to start as root (containers, cloud notebooks) without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test lint unit check-notebooks check-prose nbval notebooks notebook-times teaching \
	site wheelhouse browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT) $(LAB_ARGS) notebooks/

test: $(STAMP) lint unit check-notebooks check-prose nbval browser

# ruff reads the notebooks' code cells too.
lint: $(STAMP)
	$(BIN)/ruff check ganlab tests notebooks

# Committed notebooks that are stale or careless: unexecuted cells, counts out of order, a run
# record from another ganlab / profile / data version, outputs over 1 MB, paths or user names.
check-notebooks: $(STAMP)
	$(BIN)/python -m ganlab.course check $(if $(filter 1,$(STRICT)),--strict)

# Numbers in the notebooks' markdown that neither their code nor their outputs show (LaTeX,
# citations, references and a reviewed allowlist aside; ganlab/prose.py says what it skips).
check-prose: $(STAMP)
	$(BIN)/python -m ganlab.prose

unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not browser" tests

# Every notebook, executed end to end in the tiny profile. With NBVAL_FAILURES=DIR, a failure
# also writes the notebooks executed with their errors to DIR (CI uploads it as an artifact).
nbval: $(STAMP)
	GANLAB_PROFILE=tiny $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(NBVAL_TIMEOUT) -p no:cacheprovider \
		$(if $(NBVAL_FAILURES),--junitxml=$(NBVAL_FAILURES)/junit.xml) notebooks/ \
	|| { $(if $(NBVAL_FAILURES),GANLAB_PROFILE=tiny $(BIN)/python scripts/nbval_failures.py \
		$(NBVAL_FAILURES)/junit.xml $(NBVAL_FAILURES);) exit 1; }

# The latent and dynamics explorers in a real browser: JupyterLab + Debian's Chromium driven by playwright
# (never a downloaded browser). Installs chromium with apt-get when it is missing and we are root;
# otherwise the test skips with a loud message.
browser: $(STAMP)
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
				|| echo "!!! could not install chromium: the browser test will SKIP"; \
		else \
			echo "!!! /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get):"; \
			echo "!!! the browser test will SKIP. Install Debian's chromium to run it."; \
		fi; \
	fi
	$(BIN)/python -m pytest -q -rs -m browser -p no:cacheprovider tests/test_browser.py

# Re-execute every notebook in the default profile, writing the outputs that get committed and
# each notebook's run record (profile, ganlab and data versions, CPU/GPU, wall time) in its
# metadata; then the table of times in docs/teaching.md.
notebooks: $(STAMP)
	for nb in notebooks/[0-9][0-9]_*.ipynb; do \
		$(BIN)/python -m ganlab.course execute --profile default "$$nb" || exit 1; \
	done
	$(BIN)/python -m ganlab.course teaching docs/teaching.md

# Time every notebook in PROFILE (tiny, default or full) without keeping its outputs.
notebook-times: $(STAMP)
	for nb in notebooks/[0-9][0-9]_*.ipynb; do \
		$(BIN)/python -m ganlab.course timings --profile $(PROFILE) "$$nb" || exit 1; \
	done
	$(BIN)/python -m ganlab.course teaching docs/teaching.md

teaching: $(STAMP)
	$(BIN)/python -m ganlab.course teaching docs/teaching.md

# The course as static HTML in site/ (offline: MathJax comes from the jupyter-server-mathjax
# package). Open site/index.html.
site: $(STAMP)
	$(BIN)/python -m ganlab.website site

# Every wheel the course needs (setuptools too, to install ganlab itself), for a classroom
# without internet: `make wheelhouse` on a machine with internet and the classroom's OS and
# Python, copy the folder, then on each machine:
#   python3 -m venv .venv && .venv/bin/pip install --no-index --find-links wheelhouse -e '.[dev]'
# WHEEL_ARGS passes pip options, e.g. an --index-url of CPU-only torch wheels (much smaller).
WHEEL_ARGS ?=
wheelhouse: $(STAMP)
	$(BIN)/python -m pip wheel --wheel-dir wheelhouse $(WHEEL_ARGS) '.[dev]' 'setuptools>=64'

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs site
