# The project's single entry point. `make run` and `make test` set up whatever is missing first.
PYTHON ?= python3
CSA_VENV_DIR ?= $(CURDIR)/var/venvs
export CSA_VENV_DIR
SERVICES_PY := $(CSA_VENV_DIR)/services/bin/python

.PHONY: setup run run-scaleout test lint browser format clean

## Create or update the bot env (Python 3.10, Rasa) and the services env (Python 3.11),
## then build the agent console (npm) if its sources changed.
setup:
	@$(PYTHON) devtools/bootstrap.py

## Train the Rasa model if bot/ changed, then start Rasa, the action server and the CRM bridge.
run: setup
	@$(SERVICES_PY) -m devtools.run

## The scale-out profile: two Rasa servers and two bridges behind nginx, on the local
## PostgreSQL, Redis and RabbitMQ (docs/scale-out.md).
run-scaleout: setup
	@$(SERVICES_PY) -m devtools.scaleout

## Lint, then every test (unit, integration and end-to-end against the real servers).
test: setup lint browser
	@$(SERVICES_PY) -m pytest

lint: setup
	@$(SERVICES_PY) -m ruff check .
	@$(SERVICES_PY) -m ruff format --check .

## Install Debian's chromium for the browser tests when it is missing (root: apt-get).
browser:
	@$(PYTHON) devtools/browser.py

format: setup
	@$(SERVICES_PY) -m ruff format .
	@$(SERVICES_PY) -m ruff check --fix .

## Remove everything runs created (environments, models, databases, secrets).
clean:
	rm -rf var/
