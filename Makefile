# jaxdiv: `make demo` runs the main job, `make test` the whole suite; `make help` lists the rest.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: help demo tour test docs notebooks lint typecheck format bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "jaxdiv needs Python >= 3.11; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# One stamp per extra, remade when pyproject.toml changes.
$(VENV)/.stamp-%: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[$*]'
	@touch $@

$(VENV)/.stamp-base: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	@touch $@

demo: $(VENV)/.stamp-experiments  ## forward vs reverse KL fits: figures and metrics in results/demo
	$(PY) -m experiments.fit_gmm demo

tour: $(VENV)/.stamp-base  ## the tour of coding costs (entropy, cross-entropy, KL, JS)
	$(PY) -m experiments.tour

test: $(VENV)/.stamp-test  ## lint, format check, type check and the whole test suite (doctests included)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	XLA_FLAGS="$$XLA_FLAGS --xla_force_host_platform_device_count=8" $(PY) -m pytest -n 2 --dist loadgroup -q tests/sharded
	$(PY) -m pytest -n 2 --dist loadgroup -q --durations=15

bench: $(VENV)/.stamp-bench  ## the benchmarks against the peers: JSON in results/benchmarks, the docs' tables in benchmarks/tables
	$(PY) -m benchmarks.sweep --markdown benchmarks/tables/sweep_cpu.md
	$(PY) -m benchmarks.logits_kl
	$(PY) -m benchmarks.distill_memory
	$(PY) -m benchmarks.lm_cross_entropy --markdown benchmarks/tables/lm_cpu.md
	$(PY) -m benchmarks.lm_cross_entropy --dtype bfloat16 --shapes 4096x32768 1024x131072 \
		--out results/benchmarks/lm_cross_entropy_bf16.json --markdown benchmarks/tables/lm_cpu_bf16.md
	$(PY) -m benchmarks.mvn_kl --markdown benchmarks/tables/mvn_cpu.md
	$(PY) -m benchmarks.knn --markdown benchmarks/tables/knn_cpu.md

docs: $(VENV)/.stamp-docs  ## the documentation site (API reference and notebooks) in site/
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

notebooks: $(VENV)/.stamp-test  ## re-run every notebook and store it with its outputs
	$(PY) -m experiments.run_notebooks

lint: $(VENV)/.stamp-test  ## ruff check only
	$(PY) -m ruff check .

typecheck: $(VENV)/.stamp-test  ## mypy over jaxdiv/ (configured in pyproject.toml)
	$(PY) -m mypy

format: $(VENV)/.stamp-test  ## apply ruff's formatting and safe fixes
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:  ## remove the virtual environment and generated results
	rm -rf $(VENV) results build site .cache *.egg-info
