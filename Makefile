# 一起互助 — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

.PHONY: run test install migrate plans test-python test-miniprogram lint clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## make run: set up (venv, dependencies, migrations, plans) and serve the API + WeChat emulator on SQLite.
run: install
	./scripts/run.sh

## make test: set up and run the whole suite (pytest, then the mini-program's jest suite).
test: test-python test-miniprogram

test-python: install
	./scripts/ensure_poppler.sh
	$(PY) -m pytest -q

# npm ci again only when the lock file changed since the last install.
MP_STAMP := miniprogram/node_modules/.installed
$(MP_STAMP): miniprogram/package-lock.json
	cd miniprogram && npm ci --no-audit --no-fund
	touch $(MP_STAMP)

## make test-miniprogram: jest (pages, components, the OpenAPI contract, the end-to-end flow against the API).
test-miniprogram: install $(MP_STAMP)
	cd miniprogram && PYTHON=$(abspath $(PY)) npm test

migrate: install
	FLASK_APP=wsgi $(VENV)/bin/flask db upgrade

plans: migrate
	FLASK_APP=wsgi $(VENV)/bin/flask plans load

clean:
	rm -rf $(VENV) instance .pytest_cache miniprogram/node_modules
