# Two commands on a fresh clone: `make demo` (install + the quickstart) and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint docs format bench bench-peers gpu-check clean

install: $(STAMP)

# constraints.txt pins torch==2.13.0: the CPU wheel on the development machines' disk.
$(STAMP): pyproject.toml constraints.txt
	scripts/system_packages.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all]'
	$(PY) -c "from lstmkit.nn import kernel; kernel.load()"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/quickstart.py

test: $(STAMP) lint docs
	$(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The documentation site (mkdocs.yml), strict: a broken link or reference fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site
bad-input-page: $(STAMP) ; $(PY) scripts/bad_input_page.py

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) benchmarks/lstm_layer.py

# The GPU path (on a machine with an NVIDIA GPU; never run by CI): the CUDA tests and the layer
# timed on the GPU, summarised in build/gpu-check.md.
gpu-check: $(STAMP)
	$(PY) benchmarks/gpu_check.py

# lstmkit beside JoeyNMT, Darts and neuralforecast (issue 9): one venv per peer (minutes and
# ~1.5 GB each, under benchmarks/peers/.venvs/), then the runs and one table. Never run by CI.
bench-peers: $(STAMP)
	benchmarks/peers/setup_envs.sh
	$(PY) benchmarks/peers/compare.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache
