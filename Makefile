# 一起互助 — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

.PHONY: run test install migrate plans test-python lint clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## make run: set up (venv, dependencies, migrations, plans) and serve the API + WeChat emulator on SQLite.
run: install
	./scripts/run.sh

## make test: set up and run the whole suite.
test: install
	$(PY) -m pytest -q

migrate: install
	FLASK_APP=wsgi $(VENV)/bin/flask db upgrade

plans: migrate
	FLASK_APP=wsgi $(VENV)/bin/flask plans load

clean:
	rm -rf $(VENV) instance .pytest_cache
