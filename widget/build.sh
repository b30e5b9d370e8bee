#!/usr/bin/env bash
# Builds the widget into dist/ (what `make widget` runs; the proxy embeds dist/ at compile time):
#   dist/lobby-widget.js       wasm-bindgen `--target web` glue, minified by esbuild
#   dist/lobby-widget_bg.wasm  profile `wasm-release` (size-tuned, Cargo.toml), then wasm-opt -Oz
#   dist/lobby.css             widget/style/lobby.css, minified by esbuild
#   dist/locale.<code>.json    widget/locales/<code>.json without whitespace (fetched on demand)
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
# The size build (widget/README.md, "Size"): the standard library rebuilt for size with panics
# that abort at once (no panic messages, no formatting machinery, no file/line strings). These
# flags are unstable; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them, for this one build
# only (the proxy, the tests and the widget's own tests use plain stable). Needs `rust-src`
# (scripts/setup.sh). Saves 12-14 KB brotli; LOBBY_WIDGET_STABLE=1 builds without them.
if [ "${LOBBY_WIDGET_STABLE:-0}" = 1 ]; then
  cargo build -q --locked -p lobby-widget --lib --target wasm32-unknown-unknown --profile wasm-release
else
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none" \
    cargo build -q --locked -p lobby-widget --lib --target wasm32-unknown-unknown --profile wasm-release \
    -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
fi
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/lobby_widget.wasm"
locales=(widget/locales/*.json)
files=(lobby-widget.js lobby-widget_bg.wasm lobby.css)
for l in "${locales[@]}"; do files+=("locale.$(basename "$l")"); done

# wasm-bindgen and wasm-opt take ~8 s: skipped when cargo's output, the stylesheet and this script
# are what the last build in $stage was made from.
stage="$target_dir/widget-dist"
inputs="$(cat "$wasm" widget/style/lobby.css widget/build.sh "${locales[@]}" | sha256sum)"
if [ "$(cat "$stage/inputs.sha256" 2>/dev/null)" != "$inputs" ]; then
  rm -rf "$stage" && mkdir -p "$stage"
  "$cargo_bin/wasm-bindgen" --target web --no-typescript --out-dir "$stage" --out-name lobby-widget "$wasm"
  # The shake: the loader uses only `default` (init) and `mount` (and the Handle it returns).
  # Drop the side effects that keep unused classes alive (a dependency's stream classes), bundle
  # from an entry exporting those two so esbuild drops the rest, then let wasm-metadce remove every
  # wasm export the remaining glue never calls (and the code only they reached).
  sed -i -E '/^if \(Symbol\.dispose\) IntoUnderlying/d' "$stage/lobby-widget.js"
  perl -0pi -e 's/const IntoUnderlying\w+Finalization = \(typeof FinalizationRegistry[^;]*;\n//g' "$stage/lobby-widget.js"
  printf "export { default, mount } from './lobby-widget.js';\n" >"$stage/entry.js"
  "$tools/esbuild" "$stage/entry.js" --bundle --format=esm --target=es2020 --legal-comments=none \
    --log-level=warning --outfile="$stage/bundle.js"
  grep -oE '\bwasm\.[A-Za-z0-9_$]+' "$stage/bundle.js" | sort -u | sed 's/^wasm\.//' |
    awk 'BEGIN { printf "[" } { printf "%s{\"name\":\"e%d\",\"root\":true,\"export\":\"%s\"}", (NR > 1 ? "," : ""), NR, $0 } END { print "]" }' \
    >"$stage/roots.json"
  "$tools/wasm-metadce" "$stage/lobby-widget_bg.wasm" --graph-file "$stage/roots.json" \
    -o "$stage/lobby-widget_bg.wasm" >/dev/null
  # No -g: wasm-opt drops the name section. Features are read from the target_features section
  # (why the profile must not strip, Cargo.toml). -Os --converge measured 1.3 KB smaller than -Oz
  # on this module (the size notes, item a).
  "$tools/wasm-opt" -Os --converge --low-memory-unused --strip-producers "$stage/lobby-widget_bg.wasm" \
    -o "$stage/lobby-widget_bg.wasm"
  "$tools/esbuild" "$stage/bundle.js" --minify --format=esm --target=es2020 --legal-comments=none \
    --log-level=warning --outfile="$stage/lobby-widget.js"
  rm "$stage/entry.js" "$stage/bundle.js" "$stage/roots.json"
  "$tools/esbuild" widget/style/lobby.css --minify --legal-comments=none --log-level=warning \
    --outfile="$stage/lobby.css"
  for l in "${locales[@]}"; do
    node -e 'const fs = require("fs"); process.stdout.write(JSON.stringify(JSON.parse(fs.readFileSync(process.argv[1], "utf8"))))' \
      "$l" >"$stage/locale.$(basename "$l")"
  done
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
  case " ${files[*]} " in *" ${f#dist/} "*) ;; *) rm -rf "$f" ;; esac
done
echo "widget: dist/$(for f in "${files[@]::3}"; do printf ' %s %s B' "$f" "$(stat -c %s "dist/$f")"; done), ${#locales[@]} locale files"
