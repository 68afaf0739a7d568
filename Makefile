# The two commands: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
STAMP  := $(VENV)/.installed
# Development mode (the local token issuer, open CORS): without APP_ENV=development the app is in production
# mode and refuses to start without its production settings.
FLASK  := APP_ENV=development $(BIN)/flask --app app

.PHONY: run test lint install clean settings bench bench-quick bench-compare fuzz auth0 auth0-tenant postman

# Reinstalls only when a requirements file changed since the last install. Says what it does: the first run
# takes a minute or two, most of it pip.
$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is needed (set PYTHON=...)")'
	@test -x $(BIN)/python || { echo "==> creating the virtual environment $(VENV) with $$($(PYTHON) --version)"; \
	  $(PYTHON) -m venv $(VENV); }
	@echo "==> installing requirements.txt and requirements-dev.txt into $(VENV) (a minute or two the first time)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

install: $(STAMP)

# The banner's commands are meant to be pasted as they are, in another terminal, in this folder.
run: $(STAMP)
	@echo "==> migrating the database ($(if $(DATABASE_URL),DATABASE_URL,SQLite: instance/casting.db))"
	@$(FLASK) db upgrade
	@echo "==> adding the demo movies and actors that are missing"
	@$(FLASK) seed
	@echo
	@echo "Casting Agency API on http://127.0.0.1:$(PORT) (Ctrl+C stops it)"
	@echo "  Dashboard: http://127.0.0.1:$(PORT)/ (pick a role to sign in as)"
	@echo "  Swagger UI: http://127.0.0.1:$(PORT)/docs"
	@echo "In another terminal, in this folder, a token for one role (the last one pasted wins):"
	@echo '  TOKEN=$$(APP_ENV=development $(BIN)/flask --app app token casting-assistant)'
	@echo '  TOKEN=$$(APP_ENV=development $(BIN)/flask --app app token casting-director)'
	@echo '  TOKEN=$$(APP_ENV=development $(BIN)/flask --app app token executive-producer)'
	@echo "then:"
	@echo '  curl -H "Authorization: Bearer $$TOKEN" http://127.0.0.1:$(PORT)/movies'
	@echo
	@$(FLASK) run --host 127.0.0.1 --port $(PORT)

# The whole suite in parallel (pytest-xdist, docs/testing.md): TEST_WORKERS processes, each with a database of its own
# (TEST_DATABASE_URL's name with _gw0, _gw1... appended) and a Redis database of its own, each taking a whole test file
# at a time, so that a file's module-scoped servers and browser start once. PYTEST_ARGS adds options or picks a part:
# make test PYTEST_ARGS="-x tests/web". `.venv/bin/python -m pytest` runs the same tests one at a time.
TEST_WORKERS ?= 4
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The Postman collection with newman (docs/clients.md), against a server and a database of its own: the app on
# 127.0.0.1:$(POSTMAN_PORT) on a scratch SQLite file, stopped and removed afterwards (scripts/postman.sh), so that
# the development database never sees the run. Needs node_modules (npm ci). NEWMAN_ARGS passes options to newman,
# e.g. make postman NEWMAN_ARGS='--folder Setup --folder "Casting Director" --folder Cleanup'.
POSTMAN_PORT ?= 5055
postman: $(STAMP)
	POSTMAN_PORT=$(POSTMAN_PORT) bash scripts/postman.sh $(NEWMAN_ARGS)

# The benchmark (bench/README.md): needs PostgreSQL (BENCH_DATABASE_URL, or a scratch database made
# through .ci/postgres.sh), wrk and pgbench. Writes bench/results.md, .png and .json.
# BENCH_ARGS passes options to bench/run.py, e.g. make bench BENCH_ARGS="--sizes 1000,10000 --duration 5".
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@touch $@

bench: $(BENCH_STAMP)
	bash bench/run.sh $(BENCH_ARGS)

bench-quick: $(STAMP)
	bash bench/run.sh --quick

# Chosen scenarios at another commit and here, in alternating rounds:
# make bench-compare BASE=<commit> [ONLY="write mix"] [SIZES=10000] [ROUNDS=3] [BENCH_ARGS=...]
bench-compare: $(STAMP)
	@test -n "$(BASE)" || { echo 'usage: make bench-compare BASE=<commit> [ONLY="write mix"] [SIZES=10000] [ROUNDS=3]'; exit 2; }
	ONLY="$(or $(ONLY),write mix)" SIZES="$(or $(SIZES),10000)" ROUNDS="$(or $(ROUNDS),3)" \
	  bash bench/compare.sh $(BASE) $(BENCH_ARGS)

# The live API checks of CI (.ci/api-checks.sh) on random seeds and more examples: hunts for new failures.
fuzz: $(STAMP)
	bash .ci/postgres.sh
	set -a && . .ci/postgres.env && set +a && \
	  FUZZ_SEED=$${FUZZ_SEED:-random} FUZZ_SCALE=$${FUZZ_SCALE:-8} bash .ci/api-checks.sh

# Auth0 as code (docs/auth0.md): auth0/tenant.yaml is made from casting.tokens.roles.ROLE_PERMISSIONS by auth0-tenant and
# applied to the tenant in AUTH0_DOMAIN by `make auth0`, with Auth0's Deploy CLI (npm, package-lock.json).
auth0-tenant: $(STAMP)
	$(BIN)/python scripts/auth0_tenant.py

auth0: $(STAMP) node_modules/.package-lock.json
	@$(BIN)/python scripts/auth0_tenant.py --check
	node auth0/deploy.js

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# docs/configuration.md's table, setup.sh and app.json's "env", written from config.SETTINGS (docs/configuration.md).
settings: $(STAMP)
	$(BIN)/python scripts/settings.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
