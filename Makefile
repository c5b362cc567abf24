# Quick start: `make demo` runs the main job, `make test` the whole suite.
# Both create .venv when it is missing and install the project into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all install clean

$(STAMP): pyproject.toml Makefile
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@# open3d (the bags extra, .pcd folders) needs Debian's libusb at import time
	@if ! ldconfig -p 2>/dev/null | grep -q libusb-1.0; then \
		(apt-get install -y -q libusb-1.0-0 >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libusb-1.0-0 >/dev/null 2>&1)) || \
		echo "warning: could not install libusb-1.0-0; open3d will not import"; fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(PY) -m pip install -q -e ".[dev,nuscenes,bags,ros,export]"
	$(PY) -m pip install -q --no-deps "nuscenes-devkit==1.2.0"
	@# compile the Numba kernels of the simulator and the model once (on-disk cache), so that
	@# the first `make demo` does not pay for it (docs/replay.md, "Warm-up")
	@echo "compiling and caching the kernels (once)"
	@$(PY) -m perception.cli demo --frames 1 --cabin-seconds 0 --quiet --out $(VENV)/kernel-warmup >/dev/null
	@rm -rf $(VENV)/kernel-warmup
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
