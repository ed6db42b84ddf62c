# rlbound: the two set-up commands are `make demo` and `make test`; both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.rlbound-installed
# CPU wheel of torch from local disk; pinned so no dependency can pull a multi-GB CUDA build.
TORCH  := torch==2.13.0
DEMO_OUT ?= demo_out

.PHONY: install test test-all demo smoke example grid bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev]" $(TORCH)
	touch $(STAMP)

# pytest exits 5 when it collects no test: report it and fail loudly rather than pass silently.
test: $(STAMP)
	$(BIN)/ruff check src tests bench
	@$(BIN)/python -m pytest -q -m "not gpu" ; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 1; fi; exit $$rc

# Everything, slow tests included.
test-all: $(STAMP)
	$(BIN)/python -m pytest -q

# The whole sandbox study (README: time and what it shows); rerunning reuses every finished stage.
demo: $(STAMP)
	$(BIN)/rlbound study --preset demo --out $(DEMO_OUT)

# Toy-sized study: every stage, in well under a minute (CI runs it inside `make test`).
smoke: $(STAMP)
	$(BIN)/rlbound study --preset smoke --out $(DEMO_OUT)-smoke

# pass@k and coverage on the 800 real graded responses of ../shared (no models needed).
example: $(STAMP)
	$(BIN)/rlbound import ../shared/benchmarks/eval_rm_maj_example/math_cot_100.jsonl --out $(DEMO_OUT)-example/run
	$(BIN)/rlbound passk $(DEMO_OUT)-example/run --plugin

bench: $(STAMP)
	@for b in bench/*.py; do case $$b in bench/_*) continue;; esac; \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache

# A models x benchmarks grid on the sandbox models (docs/grid.md); a few minutes on 2 cores.
grid: $(STAMP)
	$(BIN)/rlbound study --config examples/sandbox-grid.toml --out $(DEMO_OUT)-grid
