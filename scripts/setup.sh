#!/usr/bin/env bash
# Installs what `make demo` and `make test` need and is missing. Idempotent: every step checks the
# installed version first, so a warm machine spends well under a second here.
# Pinned versions and why: ../shared/notes/toolchain.md (Debian's binaryen 108 produces broken wasm;
# wasm-bindgen-cli must match the wasm-bindgen crate exactly). No Trunk: widget/build.sh does its
# work with the tools below, and Trunk alone took 13 min 20 s to install on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130
BINARYEN_VERSION=132.0.0
ESBUILD_VERSION=0.25.12
AXE_VERSION=4.14.1
TOOLS_DIR="$PWD/.tools"           # npm-installed wasm-opt lives here (git-ignored)
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
installed=()

# 1. The wasm target, and clippy (make test lints through clippy-driver) and rustfmt.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rustup target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
  installed+=("wasm32-unknown-unknown")
fi
# rust-src: the widget's size build rebuilds the standard library for wasm32 (widget/build.sh).
for c in clippy rustfmt rust-src; do
  if ! rustup component list --installed | grep -q "^$c-"; then
    say "adding rustup component $c"
    rustup component add "$c"
    installed+=("$c")
  fi
done

# 2. Debian packages: the browser for tests, its driver, an emoji font for stable screenshots,
#    brotli for the size budget script, redis-server for the Redis store's tests (each test runs
#    its own on a free port with a temporary directory: lobby-test-redis).
need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || need_apt+=(fonts-noto-color-emoji)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need_apt+=(fonts-noto-cjk) # the ja/zh/ko screens and screenshots
command -v brotli >/dev/null || need_apt+=(brotli)
command -v redis-server >/dev/null || need_apt+=(redis-server)
if ((${#need_apt[@]})); then
  say "apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  installed+=("${need_apt[@]}")
  # The package starts a Redis on 6379 where an init system runs; tests start their own, so a
  # Redis we installed is stopped and not started at boot (one already there is left alone).
  if [[ " ${need_apt[*]} " == *" redis-server "* ]]; then
    if command -v systemctl >/dev/null && systemctl is-enabled --quiet redis-server 2>/dev/null; then
      $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
    fi
    $SUDO service redis-server stop >/dev/null 2>&1 || true
  fi
fi

# wasm-bindgen-cli is a build tool, not shipped code: compiled without LTO, with parallel codegen
# and light optimisation (settings that took Trunk's install from over 21 min to 13 min 20 s when
# we still used it), it installs in about 2 min on 2 cores (121 s measured, crates already fetched).
fast_install() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install -q "$@"
}

# 3. wasm-bindgen-cli, exactly the version of the wasm-bindgen crate in Cargo.lock.
if [ "$("$CARGO_BIN/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # No --locked: the registry mirror here lacks a crate the lock file names (toolchain.md).
  fast_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  installed+=("wasm-bindgen-cli $WASM_BINDGEN_VERSION")
fi

# 4. npm packages into .tools/ (git-ignored, never shipped), in one npm call: wasm-opt from
#    binaryen (never Debian's binaryen 108, whose output fails at start-up), esbuild (minifies the
#    loader, the widget's JS glue and its stylesheet), axe-core (the accessibility check in the browser tests).
npm_need=()
[ "$("$TOOLS_DIR/node_modules/.bin/wasm-opt" --version 2>/dev/null | awk '{print $3}')" = "${BINARYEN_VERSION%%.*}" ] ||
  npm_need+=("binaryen@$BINARYEN_VERSION")
[ "$("$TOOLS_DIR/node_modules/.bin/esbuild" --version 2>/dev/null)" = "$ESBUILD_VERSION" ] ||
  npm_need+=("esbuild@$ESBUILD_VERSION")
[ "$(node -p "require('$TOOLS_DIR/node_modules/axe-core/package.json').version" 2>/dev/null)" = "$AXE_VERSION" ] ||
  npm_need+=("axe-core@$AXE_VERSION")
if ((${#npm_need[@]})); then
  say "npm install ${npm_need[*]} into .tools/"
  mkdir -p "$TOOLS_DIR"
  npm install --silent --no-audit --no-fund --save-exact --prefix "$TOOLS_DIR" "${npm_need[@]}" >/dev/null
  installed+=("${npm_need[@]}")
fi

if ((${#installed[@]})); then
  say "installed: ${installed[*]}"
else
  say "everything already installed"
fi
