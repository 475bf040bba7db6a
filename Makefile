# 一起互助 — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

.PHONY: run demo test install lock system-packages browser-packages migrate plans test-python test-miniprogram miniprogram-npm gallery lint clean

# Installs only what the locks pin, each file checked against its hashes: a requirement missing from a
# lock fails here (check_lock.py), and so does any package pip would fetch that the lock does not pin.
$(STAMP): requirements.txt requirements-dev.txt requirements.lock requirements-dev.lock
	$(PYTHON) scripts/check_lock.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet --require-hashes -r requirements-dev.lock
	touch $(STAMP)

install: $(STAMP)

## make lock: regenerate requirements.lock (the image's) and requirements-dev.lock (tests) from the
## requirements files, with hashes. Run it after changing requirements*.txt and commit both locks.
PIP_TOOLS := pip-tools==7.6.2
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(PIP_TOOLS)
	$(VENV)/bin/pip-compile $(LOCK_FLAGS) --output-file requirements.lock requirements.txt
	$(VENV)/bin/pip-compile $(LOCK_FLAGS) --output-file requirements-dev.lock requirements-dev.txt
	$(PYTHON) scripts/check_lock.py

## Debian packages the tests need (libzbar0 for reading QR codes, poppler-utils for the PDF report), installed only when missing.
system-packages:
	./scripts/system_packages.sh

## make run: set up (venv, dependencies, migrations, plans) and serve the platform (API, emulator, clock) on SQLite.
run: install
	./scripts/run.sh

## make demo: make run after `flask demo seed` (DEMO_MEMBERS synthetic members; kept if already seeded).
DEMO_MEMBERS ?= 2000
demo: install
	./scripts/run.sh --demo-members $(DEMO_MEMBERS)

## make test: set up and run the whole suite (pytest, then the mini-program's jest suite).
test: test-python test-miniprogram

# Both cores: pytest-xdist workers, a test file per worker at a time (a file's tests share its fixtures and
# processes); each worker has its own database and Redis db (tests/support/environment.py).
PYTEST_WORKERS ?= 2
test-python: install system-packages browser-packages
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

## make browser-packages: Debian's chromium and CJK fonts for the console's browser tests (only when missing).
browser-packages:
	./scripts/browser_packages.sh

# npm ci again only when the lock file changed since the last install.
MP_STAMP := miniprogram/node_modules/.installed
$(MP_STAMP): miniprogram/package-lock.json
	cd miniprogram && npm ci --no-audit --no-fund
	touch $(MP_STAMP)

## make miniprogram-npm: WeChat's "构建 npm" headless (miniprogram-ci packNpmManually, offline): TDesign into
## miniprogram/miniprogram/miniprogram_npm (git-ignored, rebuilt when the lock file changes).
MP_NPM := miniprogram/miniprogram/miniprogram_npm/.built
$(MP_NPM): $(MP_STAMP) miniprogram/package-lock.json miniprogram/scripts/pack-npm.js
	cd miniprogram && node scripts/pack-npm.js
	touch $(MP_NPM)
miniprogram-npm: $(MP_NPM)

## make test-miniprogram: jest (pages, components, the OpenAPI contract, the end-to-end flow against the API,
## the page gallery), then the list of the gallery's pictures.
test-miniprogram: install $(MP_NPM) browser-packages
	cd miniprogram && PYTHON=$(abspath $(PY)) npm test; status=$$?; ls -1 gallery/out/*.png 2>/dev/null || true; exit $$status

## make gallery: every page in each of its states rendered to PNG (375×812 @2x, and full height when taller)
## with an index: miniprogram/gallery/out/index.html. Scenes: miniprogram/gallery/scenes/<page-dir>.js.
gallery: $(MP_NPM) browser-packages
	cd miniprogram && node gallery/render.js

migrate: install
	FLASK_APP=wsgi $(VENV)/bin/flask db upgrade

plans: migrate
	FLASK_APP=wsgi $(VENV)/bin/flask plans load

clean:
	rm -rf $(VENV) instance .pytest_cache miniprogram/node_modules miniprogram/miniprogram/miniprogram_npm
