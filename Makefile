# ganlab: `make lab` to run the course, `make test` to check it. Both need only python3 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NBVAL_TIMEOUT ?= 300

.PHONY: lab test lint unit nbval notebooks browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

test: $(STAMP) lint unit nbval

lint: $(STAMP)
	$(BIN)/ruff check ganlab tests

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

nbval: $(STAMP)
	GANLAB_PROFILE=tiny $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(NBVAL_TIMEOUT) -p no:cacheprovider notebooks/

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
