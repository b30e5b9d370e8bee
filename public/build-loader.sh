#!/usr/bin/env bash
# Builds the served loader public/lobby.js from its readable source public/src/lobby.js
# (esbuild minify, ES2017 syntax kept) and checks the proxy's substitution token survived.
# esbuild comes from scripts/setup.sh (`make setup`), which pins its version, into .tools/.
# `--check` (run by `make lint`) only verifies that the committed public/lobby.js is the build of
# the committed source.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.tools/node_modules/.bin/esbuild
[ -x "$BIN" ] || { echo "build-loader: $BIN is missing: run scripts/setup.sh (make setup)" >&2; exit 1; }
build() { "$BIN" public/src/lobby.js --minify --target=es2017 --legal-comments=none --log-level=warning "$@"; }
if [ "${1:-}" = --check ]; then
  build | cmp -s - public/lobby.js ||
    { echo "public/lobby.js is not the build of public/src/lobby.js: run public/build-loader.sh" >&2; exit 1; }
  exit 0
fi
build --outfile=public/lobby.js
n=$(grep -o '"__LOBBY_ASSETS__"' public/lobby.js | wc -l)
[ "$n" = 1 ] || { echo "build-loader: the token \"__LOBBY_ASSETS__\" must appear exactly once (found $n)" >&2; exit 1; }
printf 'public/lobby.js: %d bytes, %d brotli\n' "$(wc -c <public/lobby.js)" "$(brotli -c -q 11 public/lobby.js | wc -c)"
