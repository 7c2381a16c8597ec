#!/usr/bin/env bash
# The main job on this machine: set-up (idempotent), then the LUKE pipeline run locally on a
# real Wikipedia sample with a tiny model (`--s3` keeps every artifact in a SeaweedFS server
# started for the run). Arguments go to `luke-pipeline demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${LUKE_TEST_DATA:-}" ] && [ -d ../shared/data ]; then
  export LUKE_TEST_DATA="$(cd ../shared/data && pwd)"
fi
exec .venv/bin/luke-pipeline demo "$@"
