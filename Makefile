# The two commands a newcomer needs: `make demo` and `make test`. Everything installs itself.
SHELL := /bin/bash
# uv comes from PyPI when the machine lacks it; `python3 -m uv` works wherever pip put it.
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
export UV_PYTHON ?= 3.11

.PHONY: install demo test check bench chaos fmt clean proto

.venv/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-groups --all-extras
	@touch $@

install: .venv/.installed

demo: install
	$(UV) run freshforce demo

test: install
	$(UV) run pytest $(PYTEST_ARGS)

check: install
	$(UV) run ruff format --check src tests bench
	$(UV) run ruff check src tests bench
	$(UV) run mypy

bench: install
	@for f in bench/*.py; do echo "== $$f"; $(UV) run python $$f || exit 1; done

# The chaos drill (bench/chaos.py): seed, changes and fault rate are arguments, e.g.
# make chaos CHAOS_ARGS="--seed 7 --changes 1000 --fault-rate 0.3"
chaos: install
	$(UV) run python bench/chaos.py $(CHAOS_ARGS)

# Regenerate the Pub/Sub API modules from src/freshforce/proto/pubsub_api.proto (commit the result).
proto: install
	$(UV) run python -m grpc_tools.protoc -Isrc --python_out=src --grpc_python_out=src --pyi_out=src \
		src/freshforce/proto/pubsub_api.proto

fmt: install
	$(UV) run ruff format src tests bench
	$(UV) run ruff check --fix src tests bench

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
