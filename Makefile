# Two commands for a newcomer: `make run` and `make test`.
# Both create .venv from the lock files when it is missing or older than them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mamori-installed
# Two pytest-xdist workers by default (CI's 2-CPU machine); `make test PYTEST_ARGS=` runs serially.
PYTEST_ARGS ?= -n 2

.PHONY: run test lint fmt bench clean-venv messages screenshots sso-idp

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/mamori serve $(ARGS)

test: $(STAMP) sso-idp
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The real OpenID Provider the SSO tests start (npm oidc-provider); skipped without Node.js.
SSO_IDP := tests/sso/oidc_provider
sso-idp:
	@if command -v npm >/dev/null 2>&1; then \
	  if [ ! -f $(SSO_IDP)/node_modules/.package-lock.json ] || \
	     [ $(SSO_IDP)/package-lock.json -nt $(SSO_IDP)/node_modules/.package-lock.json ]; then \
	    cd $(SSO_IDP) && npm ci --no-audit --no-fund --silent; \
	  fi; \
	else echo "npm not found: the OIDC tests will be skipped"; fi

# What CI enforces. The code is not kept in ruff's format (lines up to 120 characters in places);
# `make fmt` is there for new files.
lint: $(STAMP)
	$(BIN)/ruff check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-run the browser tests and keep their screenshots for the docs (look at them before committing).
screenshots: $(STAMP)
	MAMORI_REQUIRE_BROWSER=1 MAMORI_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q tests/e2e

bench: $(STAMP)
	$(BIN)/python bench/run

messages: $(STAMP)
	cd mamori && ../$(BIN)/mamori makemessages -l ja -l en --no-obsolete && ../$(BIN)/mamori compilemessages

clean-venv:
	rm -rf $(VENV)
