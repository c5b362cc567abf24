# Quick start: `make demo` runs the main job, `make test` the whole suite.
# Both create .venv when it is missing and install the project into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all install clean

$(STAMP): pyproject.toml Makefile
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(PY) -m pip install -q -e ".[dev,nuscenes,bags,ros]"
	$(PY) -m pip install -q --no-deps "nuscenes-devkit==1.2.0"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/perception demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadgroup

test-all: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "not gpu"

clean:
	rm -rf $(VENV) build *.egg-info
