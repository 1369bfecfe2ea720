# One task runner: CI calls `make test` verbatim (.ci/run). Every target installs what it needs.
.PHONY: setup lint format test unit demo bench agent stack-up stack-down clean
.DEFAULT_GOAL := help

DEMO_SECONDS ?= 0
VENV := .venv/bin

help:
	@echo "make demo [DEMO_SECONDS=N]  the whole flow on a simulated fleet (Ctrl-C or N seconds stops it)"
	@echo "make test                   set up, lint, and run every test (integration tests on real services)"
	@echo "make agent                  dist/alignmon-agent.pyz: the endpoint agent as one file for the system Python"
	@echo "make lint | format | unit | bench | stack-up | stack-down | clean"

setup:
	@bash scripts/setup.sh

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

format: setup
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

test: lint
	$(VENV)/pytest

unit: setup
	$(VENV)/pytest -m "not integration"

demo: setup
	$(VENV)/alignmon demo --seconds $(DEMO_SECONDS)

bench: setup
	$(VENV)/python bench/ingest.py
	$(VENV)/python bench/gateway.py
	$(VENV)/python bench/scrape.py

# One file per OS, CPU and Python minor version (compiled wheels inside): build it with the Python that will run it.
agent: setup
	$(VENV)/python scripts/build_agent.py --out dist/alignmon-agent.pyz

stack-up: setup
	$(VENV)/alignmon stack up

stack-down:
	$(VENV)/alignmon stack down

clean: stack-down
	rm -rf .alignmon .pytest_cache .mypy_cache .ruff_cache dist
