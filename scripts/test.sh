#!/usr/bin/env bash
# The test suite: set-up (idempotent), lint, then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${LUKE_TEST_DATA:-}" ] && [ -d ../shared/data ]; then
  export LUKE_TEST_DATA="$(cd ../shared/data && pwd)"
fi
.venv/bin/ruff format --check .
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
