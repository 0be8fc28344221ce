# Two commands for a fresh machine (only Python 3.11 needed):
#   make install demo   -> .venv with the pinned CPU torch and njscc[fec,dev], then `njscc demo`
#   make test           -> the default test run (what CI runs)
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install demo test test-all bench lint

install:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	# 1. the CPU torch pin first, so no dependency range pulls a CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0 numpy
	# 2. pyldpc's setup.py imports numpy: build it without isolation
	$(BIN)/python -m pip install -q --no-build-isolation pyldpc
	# 3. the project with the FEC baselines and the dev tools
	$(BIN)/python -m pip install -q -e ".[fec,dev]"
	# 4. torchattacks (reference classifier attacks) without its declared dependencies, which
	#    would replace the CPU torch build; it needs only torch and scipy
	$(BIN)/python -m pip install -q --no-deps torchattacks==3.5.1
	# 5. the plugin example (a model, an objective, a dataset through entry points; tested)
	$(BIN)/python -m pip install -q --no-deps -e examples/plugin

demo:
	$(BIN)/njscc demo

test:
	$(BIN)/python -m pytest -m "not slow" -n 2 -q

test-all:
	$(BIN)/python -m pytest -n 2 -q

bench:  # pytest-benchmark: channels (vs Sionna), training step, decode throughput
	$(BIN)/python -m pytest bench --benchmark-only -q

lint:
	$(BIN)/ruff check .
