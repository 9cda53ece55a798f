# Two commands matter: `make run` and `make test`. Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Two install levels: `make run` needs the runtime only; tests, lint and bench add the dev extra.
RUNTIME := $(VENV)/.installed-runtime
STAMP   := $(VENV)/.installed-dev
DEMO   ?= .demo
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint typecheck bench wrk soak clean demo demo-reset

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# An existing demo is kept (its keys, API keys, signed lists and audit log): its trust lists (30
# days) and status lists (7 days) are renewed through the normal signing path when they lapse
# within 3 days. `make demo-reset` wipes it and builds a new one.
demo: $(RUNTIME)
	@if [ -f $(DEMO)/huren.json ]; then \
		$(BIN)/huren demo renew $(DEMO) || { echo "make demo-reset rebuilds the demo (new keys and API keys)"; exit 1; }; \
	else $(BIN)/huren demo init $(DEMO); fi

demo-reset: $(RUNTIME)
	rm -rf $(DEMO)
	$(BIN)/huren demo init $(DEMO)

run: $(RUNTIME) demo
	$(BIN)/huren serve --config $(DEMO)/huren.json --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The HTTP figures need wrk, Debian's package: installed with apt when missing (as root or with
# sudo without a password), else named. E.g. BENCH_ARGS="--quick" or "--only micro".
BENCH_ARGS ?=
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || $(MAKE) --no-print-directory wrk
	$(BIN)/python -m bench $(BENCH_ARGS)

wrk:
	@if [ "$$(id -u)" = 0 ]; then apt-get install -y --no-install-recommends wrk; \
	elif sudo -n true 2>/dev/null; then sudo apt-get install -y --no-install-recommends wrk; \
	else echo "make bench needs wrk (Debian package wrk): sudo apt-get install -y wrk" >&2; exit 1; fi

# The longer reliability run of docs/reliability.md (not part of `make test` or CI): loopback only,
# two service instances sharing a throwaway Redis, 32 clients for 90 s while an admin rotates keys
# and revokes licences; under 5 minutes in all. Override with e.g. SOAK_ARGS="--seconds 30".
SOAK_ARGS ?=
soak: $(STAMP)
	$(BIN)/python -m tests.support.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache .hypothesis
