# Two commands do everything on a fresh clone: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test setup index lint typecheck bench check-corpus clean

# The venv is rebuilt whenever the pins or the project metadata change.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "factbot: installing pinned dependencies into $(VENV) (log: $(VENV)/install.log)" >&2
	@{ $(BIN)/python -m pip install --upgrade "pip>=24" \
	   && $(BIN)/python -m pip install -r requirements.lock \
	   && $(BIN)/python -m pip install --no-deps --no-build-isolation -e . ; } > $(VENV)/install.log 2>&1 \
		|| { tail -n 30 $(VENV)/install.log >&2; echo "factbot: dependency install failed (full log: $(VENV)/install.log)" >&2; exit 1; }
	@$(BIN)/python -c "from index.openvino_backend import block_telemetry; block_telemetry(); \
		import torch, sentence_transformers, faiss, bm25s, discord, slack_bolt, openvino, nncf" \
		|| { echo "factbot: dependencies installed but not importable (see $(VENV)/install.log)" >&2; exit 1; }
	@touch $(STAMP)

setup: $(STAMP)

index: setup
	@$(BIN)/factbot index

# The set-up before the bot starts: the model exported to OpenVINO (the default backend, ~10 s,
# once) and the index built, when missing or stale; never at the first question.
run: setup
	@$(BIN)/factbot index --if-needed
	@$(BIN)/factbot run

check-corpus: setup
	@$(BIN)/factbot corpus check

lint: setup
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

typecheck: setup
	@$(BIN)/mypy

# The storage tests need a real PostgreSQL server: tests/pg_cluster.py installs Debian's package
# when missing, starts a throwaway cluster for the run and always stops it afterwards.
test: setup lint typecheck
	@$(BIN)/python tests/pg_cluster.py run -- $(BIN)/python -m pytest -q

bench: setup
	@$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
