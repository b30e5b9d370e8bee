# Lobby — the two commands a newcomer needs:
#   make demo   set up what is missing, build the widget, run simulator + proxy + demo page
#   make test   set up what is missing, run every check and test (browser tests included)
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(CARGO_BIN):$(CURDIR)/.tools/node_modules/.bin:$(PATH)
export CHROMEDRIVER ?= /usr/bin/chromedriver
# Trunk must not try to download tools (no GitHub here); cargo is then offline too, hence `fetch`.
TRUNK_ENV := TRUNK_OFFLINE=true TRUNK_SKIP_VERSION_CHECK=true

.PHONY: demo test setup fetch widget check lint unit widget-test e2e budget clean

demo: setup widget
	cargo run -q -p lobby-e2e --bin lobby-demo

test: setup widget lint unit widget-test
	@echo "make test: all green"

setup:
	./scripts/setup.sh

fetch:
	cargo fetch --locked -q

# Release build of the widget with the size profile; the proxy embeds dist/ at compile time.
widget: fetch
	$(TRUNK_ENV) trunk build --release --cargo-profile wasm-release 2>&1 | grep -vE '^\s*$$' | tail -n 3

# Clippy runs once, for the host: the widget has no target-specific code, and the wasm build
# and the widget's wasm tests compile it for wasm32 anyway.
lint:
	cargo fmt --all -- --check
	cargo clippy -q --workspace --all-targets -- -D warnings
	./public/build-loader.sh --check

# Unit, integration, conformance and end-to-end browser tests (cargo test runs them all).
unit:
	cargo test -q --workspace --no-fail-fast

# The widget's own tests, in headless Chromium through wasm-bindgen-test-runner (which rejects -q).
widget-test:
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  cargo test -p lobby-widget --target wasm32-unknown-unknown

clean:
	cargo clean
	rm -rf dist
