# hotfix-operator: every target installs what it needs on a fresh machine.
#   make test   everything CI runs: lint, unit tests, and the tests against a real control plane and Prometheus
#   make unit   the pure tests only (seconds)
#   make trust  faults, hostile input and edits during actions, with a summary of what was survived
#   make demo   local cluster + Prometheus + operator, and a bad hotfix rolled back automatically

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The real-server tests mostly wait for time windows to pass, so two workers (pytest-xdist), each with its own
# test bed, halve the wall time on two cores. A file stays on one worker: its module-scoped operator is shared.
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile --durations=15
# make demo CLUSTER=kind uses kind (needs Docker); the default builds and runs a local control plane.
CLUSTER ?= local

.PHONY: venv test unit trust lint format docs cluster-bins prometheus chromium cluster-up cluster-down demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# pytest exits 5 when it collected nothing: that is a broken test run, never a pass.
define run_pytest
	$(BIN)/pytest $(1) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc
endef

lint: $(STAMP)
	$(BIN)/ruff check operator tests bench hack
	$(BIN)/ruff format --check operator tests bench hack
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format operator tests bench hack
	$(BIN)/ruff check --fix operator tests bench hack

# The documentation site (MkDocs, Material), with the reference pages generated from the CRDs and the programs'
# help; --strict: a broken link or a page left out of the navigation fails the build (and make test).
docs: $(STAMP)
	$(BIN)/python hack/docs_reference.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

unit: $(STAMP)
	$(call run_pytest,tests -m "not real")

# The Go-built tools, each cached outside the repo: the control plane, the real node (kubelet,
# kube-state-metrics, a Prometheus with Kubernetes discovery, the test application), kstatus, helm, krew's
# validator, Flux's source- and kustomize-controller (with Argo CD's Application CRD); and Debian's container
# runtime for the real node.
cluster-bins:
	hack/build-cluster.sh >/dev/null
	hack/build-real-node.sh >/dev/null
	hack/install-runtime.sh >/dev/null
	hack/build-kstatus.sh >/dev/null
	hack/build-helm.sh >/dev/null
	hack/build-krew-validate.sh >/dev/null
	hack/build-flux.sh >/dev/null

prometheus:
	hack/install-prometheus.sh >/dev/null

# Debian's chromium and chromedriver, for the dashboard's browser test.
chromium:
	hack/install-chromium.sh >/dev/null

# make cluster-up NODES=real adds a real node (kubelet, containerd, runc) beside kwok's fake ones.
NODES ?= kwok
cluster-up: $(STAMP) cluster-bins prometheus
	$(BIN)/hotfix-operator testbed up --dir .cluster $(if $(filter real,$(NODES)),--real-node)

cluster-down: $(STAMP)
	$(BIN)/hotfix-operator testbed down --dir .cluster

demo: $(STAMP) prometheus $(if $(filter local,$(CLUSTER)),cluster-bins)
	$(BIN)/python -m hotfix_operator.testbed.demo --dir .cluster --cluster $(CLUSTER)

# The scale targets of docs/operations/benchmarks.md in one run (about two hours on 2 cores with the side-by-side run):
# 1,000 Hotfixes standalone with the breach-to-undo runs, 1,000 as the shipped Deployment runs (Kopf's peering),
# then 10,000 (a slower scrape, Deployments created on the Hotfix's image, spread over 100 namespaces).
# Each writes its own results.json section.
SCALE_10000 := BENCH_BREACH_RUNS=0 BENCH_LOAD_HOTFIXES=10000 BENCH_LOAD_NAMESPACES=100 BENCH_SCRAPE_INTERVAL=10s \
	BENCH_LOAD_IN_PLACE=1

bench: $(STAMP) cluster-bins prometheus
	$(BIN)/python bench/bench_checkpoints.py
	$(BIN)/python bench/bench_analysis.py
	$(BIN)/python bench/bench_step.py
	$(BIN)/python -u bench/bench_scheduler.py
	BENCH_BREACH_RUNS=5 BENCH_LOAD_HOTFIXES=1000 $(BIN)/python -u bench/bench_operator.py
	BENCH_PEERING=1 BENCH_BREACH_RUNS=0 BENCH_LOAD_HOTFIXES=1000 $(BIN)/python -u bench/bench_operator.py
	$(SCALE_10000) $(BIN)/python -u bench/bench_operator.py
	$(BIN)/python bench/bench_guard_watch.py
	$(BIN)/python -u bench/bench_failing_rollouts.py
	$(BIN)/python bench/bench_side_by_side.py

# Control-plane and Prometheus faults, hostile manifests and edits during actions (also part of `make test`),
# ending with what was tried and survived, crashes and double actions.
trust: $(STAMP) cluster-bins prometheus
	$(call run_pytest,tests -m trust $(PARALLEL))

test: $(STAMP) cluster-bins prometheus chromium lint docs
	$(call run_pytest,tests $(PARALLEL))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
