# The forum's commands. The two that matter are in the README: `make run` and `make test`.
# Everything runs from the virtualenv in .venv, made and filled here from requirements/dev.txt.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
REQUIREMENTS := requirements/dev.txt
# Reinstall only when a requirements file is newer than the last install.
INSTALLED := $(VENV)/.installed

# `make test` talks to real services at these addresses unless the environment names others.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/forum
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_CELERY_BROKER_URL ?= amqp://guest:guest@127.0.0.1:5672//
# Two cores: two test processes. `make test PYTEST_ARGS="-k thread -x"` passes more.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: help run test install lint lint-imports ruff-check format-check mypy format bench-servers bench-forum bench-live \
	messages requirements

help:
	@echo "make run            set up (venv, install, migrate, demo data) and start the whole forum"
	@echo "make test           the test suite against the real PostgreSQL, Redis and RabbitMQ"
	@echo "make lint           lint-imports, ruff check, ruff format --check and mypy"
	@echo "make format         ruff format and ruff check --fix"
	@echo "make bench-servers  requests/s of each HTTP server configuration (manage.py bench_servers)"
	@echo "make bench-forum    seed the bench dataset and load the forum's pages with wrk (manage.py bench_forum)"
	@echo "make bench-live     1,000 WebSockets over two servers: dialog and notification delivery (manage.py bench_live)"
	@echo "make messages       compile the translations (needs gettext's msgfmt)"
	@echo "make requirements   recompile requirements/*.txt from requirements/*.in with pip-tools"

$(PYTHON):
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)

$(INSTALLED): $(REQUIREMENTS) requirements/base.txt | $(PYTHON)
	$(PYTHON) -m pip install --disable-pip-version-check -r $(REQUIREMENTS)
	touch $@

install: $(INSTALLED)

run: $(INSTALLED)
	$(PYTHON) -m forum.launcher

test: $(INSTALLED)
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-$(TEST_CELERY_BROKER_URL)}" \
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: lint-imports ruff-check format-check mypy

lint-imports: $(INSTALLED)
	$(VENV)/bin/lint-imports

ruff-check: $(INSTALLED)
	$(VENV)/bin/ruff check .

format-check: $(INSTALLED)
	$(VENV)/bin/ruff format --check .

# The files to check are listed in pyproject.toml ([tool.mypy] files); until they are, forum and apps.
mypy: $(INSTALLED)
	@if $(PYTHON) -c 'import sys, tomllib; \
		sys.exit(0 if tomllib.load(open("pyproject.toml", "rb")).get("tool", {}).get("mypy", {}).get("files") else 1)'; \
	then echo "$(VENV)/bin/mypy"; $(VENV)/bin/mypy; \
	else echo "$(VENV)/bin/mypy forum apps"; $(VENV)/bin/mypy forum apps; fi

format: $(INSTALLED)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench-servers: $(INSTALLED)
	$(PYTHON) manage.py bench_servers

bench-forum: $(INSTALLED)
	$(PYTHON) manage.py bench_forum $(BENCH_ARGS)

bench-live: $(INSTALLED)
	$(PYTHON) manage.py bench_live $(BENCH_ARGS)

messages: $(INSTALLED)
	$(PYTHON) manage.py compilemessages --ignore=$(VENV) --ignore=node_modules

# pip-tools lives in a venv of its own under .data/, so that it never changes what .venv holds.
requirements:
	test -x .data/pip-tools/bin/pip-compile || \
		{ python3.11 -m venv .data/pip-tools && .data/pip-tools/bin/pip install --quiet pip-tools; }
	cd requirements && ../.data/pip-tools/bin/pip-compile --quiet --allow-unsafe --strip-extras --no-emit-find-links \
		--no-emit-index-url --output-file base.txt base.in
	cd requirements && ../.data/pip-tools/bin/pip-compile --quiet --allow-unsafe --strip-extras --no-emit-find-links \
		--no-emit-index-url --output-file dev.txt dev.in
