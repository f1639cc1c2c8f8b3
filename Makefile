# Two commands for a new user: `make demo` and `make test`. Both bootstrap from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CACHE ?= $(HOME)/.cache/peakops
UV_VERSION := 0.13.9
UV := $(CACHE)/uv-$(UV_VERSION)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: help bootstrap system-packages demo test lint typecheck pytest bench test-tools e2e-env images e2e fleet fleet-down clean

help:
	@echo "make demo    peakops rehearse on the demo plan: the local stack, a healthy spike, a payment outage, a database restart, capacity"
	@echo "make test    lint, type-check and run the whole test suite against real servers"
	@echo "make bench   benchmarks (app vs bare ASGI; load generator vs plain Locust), printed as ratios"
	@echo "make e2e     a real Kubernetes control plane (built from Go modules, cached) and the deploys into it; then the whole demo"
	@echo "make fleet   the example fleet as systemd containers, converged by Ansible over SSH"

# uv comes from PyPI into its own venv under the cache, so nothing global is touched.
$(UV):
	python3 -m venv $(CACHE)/uv-$(UV_VERSION)
	$(CACHE)/uv-$(UV_VERSION)/bin/pip install -q uv==$(UV_VERSION)

# checkov (the Kubernetes manifests' policy check) pins dependencies that clash with the project's, so it
# lives in its own tool environment under the cache.
CHECKOV_VERSION := 3.2.533
CHECKOV := $(CACHE)/tools/checkov-$(CHECKOV_VERSION)/bin/checkov
$(CHECKOV): $(UV)
	UV_TOOL_DIR=$(CACHE)/tools/checkov-$(CHECKOV_VERSION) UV_TOOL_BIN_DIR=$(CACHE)/tools/checkov-$(CHECKOV_VERSION)/bin \
		$(UV) tool install --quiet --python 3.11 checkov==$(CHECKOV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-groups
	@touch $@

system-packages:
	@bash scripts/install-system-packages.sh

bootstrap: $(VENV)/.synced system-packages $(CHECKOV)

demo: bootstrap
	$(VENV)/bin/peakops demo --report artifacts/demo

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.synced
	$(VENV)/bin/mypy

pytest: bootstrap test-tools
	PEAKOPS_CACHE=$(CACHE) PEAKOPS_CHECKOV=$(CHECKOV) $(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# Go programs `make test` runs (kustomize builds k8s/ in the drift test; Sloth judges the generated rules),
# built like the e2e ones, once, into the same cache.
TEST_TOOLS := sloth kustomize
test-tools:
	PEAKOPS_CACHE=$(CACHE) bash scripts/e2e-env.sh $(TEST_TOOLS)

# The e2e cluster's programs, built once with the installed Go from pinned module releases
# (tests/e2e/build/*/go.mod) and cached under $(CACHE)/e2e.
e2e-env:
	PEAKOPS_CACHE=$(CACHE) bash scripts/e2e-env.sh

# Every image the manifests name, built with podman on bases made from Debian packages (no registry).
images: bootstrap e2e-env
	PEAKOPS_CACHE=$(CACHE) bash scripts/images.sh

# Then the whole demo (`peakops demo` as `make demo` runs it), in its own run: the cluster is down by then.
e2e: bootstrap e2e-env images
	PEAKOPS_CACHE=$(CACHE) PEAKOPS_E2E=1 $(VENV)/bin/pytest tests/e2e $(PYTEST_ARGS)
	PEAKOPS_CACHE=$(CACHE) PEAKOPS_E2E=1 $(VENV)/bin/pytest tests/cli/test_demo.py $(PYTEST_ARGS)

# The example fleet for real: a container per host of ansible/inventories/fleet (systemd, sshd),
# converged over SSH with ansible/playbooks/site.yml.
fleet: bootstrap images
	PEAKOPS_CACHE=$(CACHE) PEAKOPS_FLEET=1 $(VENV)/bin/pytest tests/fleet $(PYTEST_ARGS)

# Remove a fleet kept for a look inside (PEAKOPS_FLEET_KEEP=1 make fleet).
fleet-down:
	PEAKOPS_CACHE=$(CACHE) $(VENV)/bin/python -m tests.fleet.fleet

bench: bootstrap
	$(PY) benchmarks/app_throughput.py
	$(PY) benchmarks/generator_efficiency.py
	$(PY) benchmarks/edge_throughput.py
	$(PY) benchmarks/exporter_throughput.py
	$(PY) benchmarks/alert_detection.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
