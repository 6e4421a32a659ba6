#!/usr/bin/env bash
# axe-core, the accessibility rules the pages' browser tests run on every page (labels, contrast,
# names, roles, focus order), from the npm registry, pinned by version and integrity.
set -euo pipefail
VERSION=4.14.1
INTEGRITY="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
DEST=.tools/axe
[ -f "$DEST/axe-$VERSION.min.js" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "axe-core@$VERSION" >/dev/null)
actual="sha512-$(openssl dgst -sha512 -binary "$work/axe-core-$VERSION.tgz" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "axe-core $VERSION: the package's integrity is $actual, not the pinned $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$work/axe-core-$VERSION.tgz" -C "$work" package/axe.min.js
mkdir -p "$DEST"
mv "$work/package/axe.min.js" "$DEST/axe-$VERSION.min.js"
