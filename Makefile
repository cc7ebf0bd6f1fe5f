# ganlab: `make lab` to run the course, `make test` to check it. Both need only python3 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NBVAL_TIMEOUT ?= 300
NBVAL_FAILURES ?=

# Extra arguments for `make lab`, e.g. LAB_ARGS="--no-browser --port=8890".
LAB_ARGS ?=
# JupyterLab refuses to start as root (containers, cloud notebooks) without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test lint unit nbval notebooks browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT) $(LAB_ARGS) notebooks/

test: $(STAMP) lint unit nbval browser

lint: $(STAMP)
	$(BIN)/ruff check ganlab tests

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

# Re-execute every notebook in the default profile, writing the outputs that get committed.
notebooks: $(STAMP)
	for nb in notebooks/[0-9][0-9]_*.ipynb; do \
		echo "== $$nb"; start=$$(date +%s); \
		GANLAB_PROFILE=default $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=1200 "$$nb" || exit 1; \
		echo "   $$(( $$(date +%s) - start )) s"; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
