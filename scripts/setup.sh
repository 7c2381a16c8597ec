#!/usr/bin/env bash
# Set up this checkout on a fresh Debian/Ubuntu machine, idempotently and quickly when done:
# system packages (Java, OpenNLP, ICU), a virtual environment in .venv with PyTorch first
# (2.13.0 unless LUKE_TORCH_SPEC says otherwise; LUKE_TORCH_INDEX=https://download.pytorch.org/whl/cpu
# takes the CPU build from PyTorch's index where pip has none at hand, instead of PyPI's CUDA
# build), the project with all extras, and its test support (testsupport/: not shipped).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: needs Python 3.11 or later as \$PYTHON (now: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi

APT_PACKAGES=(libapache-opennlp-java libicu-dev pkg-config bzip2)
command -v java >/dev/null 2>&1 || APT_PACKAGES+=(openjdk-17-jdk-headless)
# Debian's Python makes virtual environments only with its venv package
[ -x .venv/bin/python ] || "$PYTHON" -c "import ensurepip" 2>/dev/null \
  || APT_PACKAGES+=("python3-venv")
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.luke-setup-stamp
want=$(cat pyproject.toml testsupport/pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" >&2 || true
  .venv/bin/python -c "import torch" 2>/dev/null \
    || .venv/bin/python -m pip install -q "${LUKE_TORCH_SPEC:-torch==2.13.0}" \
      ${LUKE_TORCH_INDEX:+--index-url "$LUKE_TORCH_INDEX"}
  .venv/bin/python -m pip install -q -e ".[dev]" -e ./testsupport 2>&1 | grep -v "is ignored" >&2 || true
  .venv/bin/python -c "import luke_core, luke_k8s, luke_testing, torch, deepspeed, kfp" >/dev/null
  echo "$want" > "$stamp"
fi
