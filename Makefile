# fleet.pki developer tasks.  `make help` lists them.
#
# Two support lines:
#   .venv      from $(PYTHON) (default python3, must be >= 3.11)
#   .venv-alt  the other line (Python 3.12 when python3 is 3.11, else 3.11),
#              skipped when that interpreter is missing
# make venv installs requirements/dev-py3.11.lock.txt (ansible-core 2.19) or dev-py3.12.lock.txt (2.21, Python 3.12+)
# with --require-hashes; make lock regenerates them from requirements/dev.txt.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory
# Steps share .venv, the link and ~/.ansible/test: run them one at a time.
.NOTPARALLEL:

PYTHON ?= python3
export PYTHON

# ansible.cfg makes the in-place link the only collection path: do not let an
# inherited variable put another (possibly stale) copy of fleet.pki first.
unexport ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS

VENV := .venv
ALT_VENV := .venv-alt
# The in-place collection: a relative symlink to this checkout.
COLLECTIONS := .fleet/collections
LINK := $(COLLECTIONS)/ansible_collections/fleet/pki
# Extra arguments for pytest, e.g. make units PYTEST_ARGS='-k serial -x'
PYTEST_ARGS ?=
# Extra arguments for ansible-test, e.g. make sanity SANITY_ARGS='--test pylint'
SANITY_ARGS ?=

# Debian/Ubuntu packages the tests use (make deps installs the missing ones).
DEPS_PACKAGES := shellcheck openssl curl ca-certificates libnss3-tools util-linux iproute2 git \
	chromium mmdebstrap systemd-container debootstrap uidmap openssh-client default-jdk-headless p11-kit \
	gcc libssl-dev libbearssl-dev

# Run a command with a venv's bin first on PATH: $(call in_venv,VENV) command...
in_venv = PATH="$(CURDIR)/$(1)/bin:$$PATH"

# $(call pytest,VENV,DIRECTORY): plain pytest, no .pytest_cache, exit 5 (no tests) is an error.
define pytest
@if [ ! -d $(2) ]; then echo "$(2): no such directory, nothing to run"; exit 0; fi; \
	echo "=== pytest $(2) ($(1): $$($(1)/bin/python -c 'import sys, ansible.release as r; print("Python %d.%d, ansible-core %s" % (sys.version_info[:2] + (r.__version__,)))'))"; \
	rc=0; $(call in_venv,$(1)) $(1)/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS) $(2) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests in $(2)" >&2; fi; \
	exit $$rc
endef

.PHONY: help deps venv link units units-alt integration integration-alt molecule sanity sanity-main sanity-alt lint test demo clean \
	bench-venv bench bench-smoke ee stress lock sbom-check

help: ## Show this help
	@echo "Usage: make TARGET [PYTHON=python3.12]"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{ printf "  %-12s %s\n", $$1, $$2 }'

deps: ## Install missing Debian/Ubuntu packages for the tests (apt-get, as root)
	@bash tests/tools/deps.sh $(DEPS_PACKAGES)

venv: ## Create .venv (and .venv-alt for the other support line) from the hash-pinned requirements/dev-py3.X.lock.txt
	@bash tests/tools/venv.sh

link: ## Link the checkout as .fleet/collections/ansible_collections/fleet/pki (see ansible.cfg)
	@mkdir -p $(dir $(LINK))
	@if [ -L $(LINK) ] && [ "$$(readlink $(LINK))" = ../../../.. ]; then \
		echo "link: $(LINK) -> ../../../.. (present)"; \
	elif [ -e $(LINK) ] || [ -L $(LINK) ]; then \
		echo "link: ERROR: $(LINK) exists and is not the symlink ../../../..; remove it" >&2; exit 1; \
	else \
		ln -s ../../../.. $(LINK) && echo "link: created $(LINK) -> ../../../.."; \
	fi

units: venv link ## Unit tests (pytest tests/unit) on .venv
	$(call pytest,$(VENV),tests/unit)

units-alt: venv link ## Unit tests on .venv-alt (the other support line)
	@test -x $(ALT_VENV)/bin/python || { echo "units-alt: $(ALT_VENV) missing (other Python not found)" >&2; exit 1; }
	$(call pytest,$(ALT_VENV),tests/unit)

integration: venv link ## Integration tests (pytest tests/integration) on .venv
	$(call pytest,$(VENV),tests/integration)

integration-alt: venv link ## Integration tests on .venv-alt (the other support line)
	@test -x $(ALT_VENV)/bin/python || { echo "integration-alt: $(ALT_VENV) missing (other Python not found)" >&2; exit 1; }
	$(call pytest,$(ALT_VENV),tests/integration)

sanity: venv ## ansible-test sanity on every support line (copy of the tree, offline pip)
	@bash tests/tools/sanity.sh $(VENV) $$(test -x $(ALT_VENV)/bin/python && echo $(ALT_VENV)) -- $(SANITY_ARGS)

sanity-main: venv ## ansible-test sanity on .venv only
	@bash tests/tools/sanity.sh $(VENV) -- $(SANITY_ARGS)

sanity-alt: venv ## ansible-test sanity on .venv-alt only
	@test -x $(ALT_VENV)/bin/python || { echo "sanity-alt: $(ALT_VENV) missing (other Python not found)" >&2; exit 1; }
	@bash tests/tools/sanity.sh $(ALT_VENV) -- $(SANITY_ARGS)

# The benchmark's peer playbook uses community.crypto, which only the bench venv has: lint sees it there.
lint: venv link bench-venv ## ansible-lint (production profile, offline) and antsibull-changelog lint
	@rc=0; \
	echo "=== ansible-lint --profile production --offline"; \
	bench_site=$$($(BENCH_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS):$$bench_site \
	$(call in_venv,$(VENV)) ansible-lint --profile production --offline $$([ -t 1 ] || echo --nocolor) || rc=1; \
	echo "=== antsibull-changelog lint"; \
	$(call in_venv,$(VENV)) antsibull-changelog lint && echo "antsibull-changelog lint: passed" || rc=1; \
	exit $$rc

test: deps venv link ## Everything: units, integration, demo, sanity, lint, bench smoke (+ units, integration, sanity on .venv-alt)
	@steps="units integration demo molecule sanity-main lint bench-smoke ee"; \
	if [ -x $(ALT_VENV)/bin/python ]; then steps="$$steps units-alt integration-alt sanity-alt"; \
	else echo "test: $(ALT_VENV) missing: the other support line is not tested"; fi; \
	passed=0; failed=0; report=(); \
	for step in $$steps; do \
		echo; echo "################ make $$step"; \
		started=$$SECONDS; \
		if $(MAKE) $$step; then result=PASS; passed=$$((passed + 1)); \
		else result=FAIL; failed=$$((failed + 1)); fi; \
		report+=("$$(printf '%-4s  %-12s %4ds' $$result $$step $$((SECONDS - started)))"); \
	done; \
	echo; echo "################ summary"; printf '  %s\n' "$${report[@]}"; \
	if [ $$failed -eq 0 ]; then echo "make test: all steps passed"; else echo "make test: FAILED ($$failed step(s))"; fi; \
	echo "Steps: $$passed passed, $$failed failed"; \
	[ $$failed -eq 0 ]

molecule: venv link ## The lab scenario (extensions/molecule/fleet): lab devices, converge, idempotence, verify
	$(call in_venv,$(VENV)) molecule test -s fleet

demo: venv link ## Run the demo (demo/run.sh) with .venv on PATH
	@test -f demo/run.sh || { echo "demo: demo/run.sh not found (not written yet)" >&2; exit 1; }
	$(call in_venv,$(VENV)) bash demo/run.sh

# The benchmark (benchmarks/README.md): make bench N=500 RUNS=3 PEER_RUNS=3
BENCH_VENV := .venv-bench
N ?= 500
RUNS ?= 3
PEER_RUNS ?= $(RUNS)
BENCH_ARGS ?=

bench-venv: ## Create .venv-bench (ansible-core of the main line, plus the ansible package for the peer)
	@bash benchmarks/venv.sh $(BENCH_VENV)

bench: bench-venv link ## Benchmark N devices against the floor and community.crypto; writes docs/performance.md
	$(BENCH_VENV)/bin/python benchmarks/bench.py --n $(N) --runs $(RUNS) --peer-runs $(PEER_RUNS) --write-docs $(BENCH_ARGS)

bench-smoke: bench-venv link ## The benchmark at N=6, one run of every scenario, checked but not timed (part of make test)
	$(BENCH_VENV)/bin/python benchmarks/bench.py --n 6 --runs 1 --work .bench-smoke --json .bench-smoke/summary.json

# Supply chain (docs/dependencies.md): the locks and the SBOM are generated, never edited by hand.
LOCK_ARGS ?=
lock: ## Regenerate the hash-pinned locks and meta/sbom.cdx.json from requirements/*.txt (needs PyPI; LOCK_ARGS=--upgrade)
	@bash requirements/lock.sh $(LOCK_ARGS)

sbom-check: ## Rebuild meta/sbom.cdx.json in a temporary directory and fail if it differs (needs PyPI)
	@bash requirements/sbom.sh --check

# Concurrency and crash safety at fleet scale (tests/stress/stress.py): long, so not in make test; the
# integration test test_stress_smoke.py runs every scenario at 12 devices. make stress STRESS_ARGS="--rounds 8"
STRESS_ARGS ?=
stress: venv link ## 500 devices with 50 forks, two runs at once, SIGKILL rounds at 300 devices; writes docs/security.md
	$(VENV)/bin/python tests/stress/stress.py --write-docs $(STRESS_ARGS)

# What ansible-builder reads from this collection for an execution environment (AWX, AAP): the dependencies in
# meta/execution-environment.yml must resolve. Building the image needs podman or docker, which this machine lacks.
ee: bench-venv link ## Check meta/execution-environment.yml with ansible-builder introspect
	@echo "=== ansible-builder introspect --sanitize $(COLLECTIONS)"
	@out=$$($(BENCH_VENV)/bin/ansible-builder introspect --sanitize $(COLLECTIONS)); echo "$$out"; \
	for wanted in "cryptography  # from collection fleet.pki" "openssl \[platform:dpkg\]  # from collection fleet.pki"; do \
		grep -q "$$wanted" <<<"$$out" || { echo "ee: ERROR: '$$wanted' missing from the introspection" >&2; exit 1; }; \
	done; echo "ee: the execution-environment dependencies of fleet.pki resolve"

clean: ## Remove .venv, .venv-alt, .venv-bench, .fleet, .demo, .bench, .stress and tests/output
	rm -rf $(VENV) $(ALT_VENV) $(BENCH_VENV) .fleet .demo .bench .bench-smoke .bench.trash .bench-smoke.trash .stress tests/output
