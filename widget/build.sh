#!/usr/bin/env bash
# Builds the widget into dist/ (what `make widget` runs; the proxy embeds dist/ at compile time):
#   dist/lobby-widget.js       wasm-bindgen `--target web` glue, minified by esbuild
#   dist/lobby-widget_bg.wasm  profile `wasm-release` (size-tuned, Cargo.toml), then wasm-opt -Oz
#   dist/lobby.css             widget/style/lobby.css, minified by esbuild
# Four commands we already need anyway (cargo, wasm-bindgen-cli, wasm-opt from npm binaryen, esbuild)
# instead of Trunk: Trunk took 13 min 20 s of a cold `make test` to install on 2 cores and did
# nothing here that these four don't (its JS minifier gave up on the glue; its file hashes are
# replaced by the proxy's own stem, proxy/build.rs). Tools come from scripts/setup.sh.
#
# dist/ is only rewritten when a file's bytes change: the proxy's build script watches dist/, and a
# rewrite with the same bytes would otherwise rebuild the proxy and relink every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="$PWD/.tools/node_modules/.bin"
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
for t in "$cargo_bin/wasm-bindgen" "$tools/wasm-opt" "$tools/esbuild"; do
  [ -x "$t" ] || { echo "widget/build.sh: $t is missing: run scripts/setup.sh (make setup)" >&2; exit 1; }
done

target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
cargo build -q --locked -p lobby-widget --lib --target wasm32-unknown-unknown --profile wasm-release
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/lobby_widget.wasm"
files=(lobby-widget.js lobby-widget_bg.wasm lobby.css)

# wasm-bindgen and wasm-opt take ~8 s: skipped when cargo's output, the stylesheet and this script
# are what the last build in $stage was made from.
stage="$target_dir/widget-dist"
inputs="$(cat "$wasm" widget/style/lobby.css widget/build.sh | sha256sum)"
if [ "$(cat "$stage/inputs.sha256" 2>/dev/null)" != "$inputs" ]; then
  rm -rf "$stage" && mkdir -p "$stage"
  "$cargo_bin/wasm-bindgen" --target web --no-typescript --out-dir "$stage" --out-name lobby-widget "$wasm"
  # No -g: wasm-opt drops the name section. Features are read from the target_features section
  # (why the profile must not strip, Cargo.toml).
  "$tools/wasm-opt" -Oz "$stage/lobby-widget_bg.wasm" -o "$stage/lobby-widget_bg.wasm"
  "$tools/esbuild" "$stage/lobby-widget.js" --minify --format=esm --target=es2020 --legal-comments=none \
    --log-level=warning --outfile="$stage/lobby-widget.min.js"
  mv "$stage/lobby-widget.min.js" "$stage/lobby-widget.js"
  "$tools/esbuild" widget/style/lobby.css --minify --legal-comments=none --log-level=warning \
    --outfile="$stage/lobby.css"
  # A dependency's inline JS would land in snippets/ and need serving beside the glue.
  [ ! -e "$stage/snippets" ] || { echo "widget/build.sh: wasm-bindgen wrote snippets/, which the proxy does not serve" >&2; exit 1; }
  echo "$inputs" >"$stage/inputs.sha256"
fi

mkdir -p dist
for f in "${files[@]}"; do
  cmp -s "$stage/$f" "dist/$f" || cp "$stage/$f" "dist/$f"
done
# Anything else in dist/ (say, an older build's hashed names) would be embedded too.
for f in dist/*; do
  case "${f#dist/}" in lobby-widget.js | lobby-widget_bg.wasm | lobby.css) ;; *) rm -rf "$f" ;; esac
done
echo "widget: dist/$(for f in "${files[@]}"; do printf ' %s %s B' "$f" "$(stat -c %s "dist/$f")"; done)"
