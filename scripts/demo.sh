#!/usr/bin/env bash
# The main job on this machine: set-up (idempotent), then the demo. Arguments go to it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${LUKE_TEST_DATA:-}" ] && [ -d ../shared/data ]; then
  export LUKE_TEST_DATA="$(cd ../shared/data && pwd)"
fi
exec .venv/bin/python -m luke_core.demo "$@"
