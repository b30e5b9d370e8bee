#!/usr/bin/env bash
# Trunk post-build hook (Trunk.toml): minifies the wasm-bindgen JS glue with esbuild in release
# builds. Trunk's own minifier gives up on this file ("Failed to minify JS") and ships it as is;
# minified it is 2.1 KB smaller over brotli. esbuild comes from scripts/setup.sh (.tools/).
set -euo pipefail
[ "${TRUNK_PROFILE:-}" = release ] || exit 0
bin="$(dirname "$0")/../.tools/node_modules/.bin/esbuild"
[ -x "$bin" ] || { echo "minify-glue: $bin is missing: run scripts/setup.sh (make setup)" >&2; exit 1; }
for f in "$TRUNK_STAGING_DIR"/lobby-widget-*.js; do
  "$bin" "$f" --minify --format=esm --target=es2020 --legal-comments=none --log-level=warning \
    --outfile="$f.min" --allow-overwrite
  mv "$f.min" "$f"
done
