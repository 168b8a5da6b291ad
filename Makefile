# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= outputs/demo
# pytest-xdist workers for make test: the suite's CPU work fits two cores.
TEST_WORKERS ?= 2

.PHONY: demo test test-fast bench lab lint setup bytecode check-pango check-chromium clean

setup: $(STAMP)

$(STAMP): pyproject.toml | check-pango
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m ipykernel install --prefix $(abspath $(VENV)) --name python3 >/dev/null
	@touch $(STAMP)

# WeasyPrint renders with Pango, which comes from Debian, not PyPI.
check-pango:
	@$(PYTHON) -c "import ctypes.util as u, sys; sys.exit(0 if u.find_library('pango-1.0') and u.find_library('pangoft2-1.0') else 1)" \
	 || { echo "cxreports needs Pango for PDF rendering. Install it with:"; \
	      echo "    sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0"; exit 1; }
	@$(PYTHON) -c "import ctypes.util as u, sys; sys.exit(0 if u.find_library('harfbuzz-subset') else 1)" \
	 || echo "note (optional, speed only): PDFs render about twice as fast with HarfBuzz-Subset: sudo apt-get install libharfbuzz-subset0"

# The browser test opens a pack in Debian's Chromium. Installed here, before pytest
# starts, not by the test midway: Chromium brings HarfBuzz-Subset, and a PDF
# rendered before and one after that library appears differ in their font bytes.
check-chromium:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] \
	 || { echo "installing Debian's chromium for the browser test"; \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
	      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
	           apt-get install -y -q chromium >/dev/null; } \
	      || echo "could not install chromium: the browser test will be skipped"; }
	@command -v chromium >/dev/null 2>&1 \
	 || echo "note: without Chromium (sudo apt-get install chromium) the browser test is skipped"

# Every process of a run (workers, notebook kernels) imports the kit. Where Python is
# told not to write bytecode (PYTHONDONTWRITEBYTECODE), each would compile it anew:
# compiled once here (a second when nothing changed).
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 cxreports

demo: $(STAMP) bytecode
	$(BIN)/cxreports demo --out $(OUT)

test: $(STAMP) bytecode check-chromium
	$(BIN)/ruff check cxreports tests benchmarks notebooks scripts
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

test-fast: $(STAMP) bytecode check-chromium
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

lint: $(STAMP)
	$(BIN)/ruff check cxreports tests benchmarks notebooks scripts

clean:
	rm -rf $(VENV) outputs .pytest_cache
