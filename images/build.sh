#!/usr/bin/env bash
# Build the project's container images, and push them with --push. Names, tags and Dockerfiles
# come from luke_k8s/images.py (the place components and the launcher read them from), so a
# pipeline compiled with the same LUKE_IMAGE_REGISTRY / LUKE_IMAGE_TAG names these images.
#
#   images/build.sh [--push] [--lint] [KEY...]     KEY: preprocess, training (default: all)
#
# Environment: LUKE_IMAGE_REGISTRY, LUKE_IMAGE_TAG (see luke_k8s/images.py), DOCKER (default
# docker; podman works), DOCKER_BUILD_ARGS (extra `docker build` arguments, e.g.
# "--platform linux/amd64 --build-arg TORCH_CUDA_ARCH_LIST=9.0").
set -euo pipefail
cd "$(dirname "$0")/.."

push=false lint=false keys=()
for arg in "$@"; do
  case "$arg" in
    --push) push=true ;;
    --lint) lint=true ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
    *) keys+=("$arg") ;;
  esac
done
docker=${DOCKER:-docker}
python=${PYTHON:-python3}
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

# `python -m luke_k8s.images` prints "KEY DOCKERFILE IMAGE" lines (standard library only).
listing=$(PYTHONPATH=. "$python" -m luke_k8s.images)
while read -r key dockerfile image; do
  if ((${#keys[@]})) && [[ " ${keys[*]} " != *" $key "* ]]; then
    continue
  fi
  if $lint; then
    hadolint --config images/hadolint.yaml "$dockerfile"
  fi
  echo "build.sh: building $key as $image ($dockerfile)" >&2
  # shellcheck disable=SC2086 # DOCKER_BUILD_ARGS is a list of arguments on purpose
  "$docker" build --file "$dockerfile" --tag "$image" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.source=luke-pipeline" \
    ${DOCKER_BUILD_ARGS:-} .
  if $push; then
    "$docker" push "$image"
  fi
done <<< "$listing"
