# Two entry points for newcomers: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The CPU build of torch, pinned; the Dockerfile installs the same (tests/test_compose.py checks).
TORCH := torch==2.13.0+cpu
TORCH_INDEX := https://download.pytorch.org/whl/cpu

.PHONY: setup run test bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# The CPU build of torch first, so nothing below pulls a multi-GB CUDA build. A wheel already
	# on this machine (pip's find-links) is taken without asking the network; else PyTorch's index.
	$(PIP) install --quiet $(TORCH) 2>/dev/null || \
		$(PIP) install --quiet --extra-index-url $(TORCH_INDEX) $(TORCH)
	$(PIP) install --quiet -e '.[test,postgres]'
	touch $@

setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/dianxiaoer run

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/retrieval_bq.py
	$(PY) benchmarks/scale.py
	$(PY) benchmarks/embedding_engines.py

clean:
	rm -rf $(VENV) data
