# Two commands do everything on a fresh clone:
#   make demo   set up .venv, train briefly on the built-in demo data, show the report
#   make test   set up .venv with every extra, run the whole test suite
#
# torch is installed first, pinned, so pip never pulls a multi-GB CUDA build by
# accident. For a CUDA machine: make test TORCH_SPEC=torch

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.pix2pix-installed
PYTEST_ARGS ?=

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[all,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf runs/demo
	$(BIN)/pix2pix demo --out runs/demo
	@echo "open runs/demo/report.html in a browser"
	@if [ -n "$$DISPLAY" ] && command -v xdg-open >/dev/null 2>&1; then xdg-open runs/demo/report.html >/dev/null 2>&1 || true; fi

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
