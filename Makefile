# The two commands a newcomer needs: `make up` and `make test`. See README.md.
.PHONY: up down test lint services bench install national-demo national-down

up:
	@bash scripts/up.sh

down:
	@bash scripts/down.sh

# The federation on one machine: a national instance and three provinces (docs/federation.md).
national-demo:
	@bash scripts/bootstrap.sh && bash scripts/test-deps.sh && .venv/bin/python scripts/national_demo.py up

national-down:
	@.venv/bin/python scripts/national_demo.py down

test:
	@bash scripts/test.sh

install:
	@bash scripts/bootstrap.sh

services:
	@bash scripts/services.sh

# ruff, mypy (strict for the packages) and the import contracts in pyproject.toml (import-linter).
lint:
	@bash scripts/bootstrap.sh && .venv/bin/ruff check . && .venv/bin/mypy && .venv/bin/lint-imports --no-logo

bench:
# Every benchmark (bench/_*.py are their shared parts; ingest_ceiling.py is a subprocess that bench/ingest.py runs).
	@bash scripts/bootstrap.sh && for b in bench/*.py; do \
	  case $$b in bench/_*|bench/ingest_ceiling.py) continue;; esac; \
	  echo "== $$b"; .venv/bin/python $$b || exit 1; done
