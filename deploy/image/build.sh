#!/usr/bin/env bash
# make image: build leitai's image with buildah, here, without a registry or a Docker engine.
#   deploy/image/build.sh            wheels, base (once), image localhost/leitai:<version>
#   deploy/image/build.sh --wheels   only the wheels (for docker build elsewhere)
# buildah runs with the vfs driver and chroot isolation: what this sandbox allows.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3.11}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE=${LEITAI_IMAGE:-localhost/leitai:$VERSION}
BASE=${LEITAI_IMAGE_BASE:-localhost/leitai-base:bookworm}
BUILDAH=(buildah --storage-driver vfs)

rm -rf var/image/wheels && mkdir -p var/image/wheels
"$PYTHON" -m pip download -q --disable-pip-version-check --only-binary=:all: -r requirements.lock -d var/image/wheels
"$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps . -w var/image/wheels
rm -rf build ./*.egg-info
[ "${1:-}" = "--wheels" ] && { echo "wheels: var/image/wheels"; exit 0; }

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap; }
done

if ! "${BUILDAH[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
  # no registry: a minimal Debian with Python 3.11, made from Debian's own mirror
  mirror=$(sed -n 's/^URIs: \(.*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  mirror=${mirror:-http://deb.debian.org/debian}
  container=$("${BUILDAH[@]}" from scratch)
  root=$("${BUILDAH[@]}" mount "$container")
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror" >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  "${BUILDAH[@]}" umount "$container"
  "${BUILDAH[@]}" commit -q "$container" "$BASE"
  "${BUILDAH[@]}" rm "$container" >/dev/null
fi

"${BUILDAH[@]}" bud -q --isolation chroot --layers=false --build-arg "BASE=$BASE" -f deploy/image/Dockerfile -t "$IMAGE" .
echo "image: $IMAGE"
