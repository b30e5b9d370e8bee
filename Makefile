# Lobby — the two commands a newcomer needs:
#   make demo   set up what is missing, build the widget, run simulator + proxy + demo page
#   make test   set up what is missing, run every check and test (browser tests included)
# and, for the long runs the README quotes:
#   make bench  the long runs: cost matrix, 5-minute load, restart, reply latencies, idle streams, cluster
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(CARGO_BIN):$(CURDIR)/.tools/node_modules/.bin:$(PATH)
export CHROMEDRIVER ?= /usr/bin/chromedriver

# Clippy rides on the test build instead of compiling everything a second time: cargo runs
# clippy-driver as the compiler of our own crates (what `cargo clippy` does, but with code
# generation), so every workspace target built by the tests is linted with -D warnings, and the
# dependencies are compiled once, for the tests. The widget is linted by its wasm32 test build.
# demo and bench use the same setting, so they reuse the test build's artifacts. The widget's
# release build (widget/build.sh) does not: clippy-driver turns off MIR optimisations of our
# crates, which would change the shipped wasm. Without clippy-driver the build fails loudly
# (cargo cannot run the wrapper) instead of skipping lints.
LINTED := RUSTC_WORKSPACE_WRAPPER="$$(command -v clippy-driver || echo clippy-driver-not-installed)" \
  CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

# What `make test` runs, in this order (scripts/ci-time.sh times each phase).
TEST_PHASES := setup check widget unit timed widget-test

.PHONY: demo test bench setup check lint widget unit timed widget-test ci-time test-phases clean

demo: setup widget
	$(LINTED) cargo run -q -p lobby-e2e --bin lobby-demo

test: $(TEST_PHASES)
	@echo "make test: all green"

bench: setup widget
	cargo build -q --release -p lobby-proxy --bin lobby
	$(LINTED) LOBBY_RELEASE_BIN=$(CURDIR)/target/release/lobby cargo run -q -p lobby-e2e --bin lobby-bench

setup:
	./scripts/setup.sh

# Formatting, and the committed loader being the build of its source. (Clippy: see LINTED.)
check:
	cargo fmt --all -- --check
	./public/build-loader.sh --check

# Clippy on its own, for a quick look while editing (make test lints through the builds).
lint:
	cargo fmt --all -- --check
	cargo clippy -q --workspace --all-targets -- -D warnings

# Release build of the widget with the size profile into dist/; the proxy embeds dist/.
widget:
	./widget/build.sh

# Unit, integration, conformance and end-to-end browser tests, but for the timed ones. Four at a
# time: the browser tests mostly wait (measured: 20 s of CPU in 85 s with two), and four bring
# the end-to-end run from 85 s to 64 s; six gain nothing more (the longest test alone is 38 s).
unit:
	$(LINTED) cargo test -q --workspace --exclude lobby-widget --no-fail-fast -- --skip timed:: --test-threads=4

# The tests that measure time (tests/tests/main.rs), one at a time, figures printed.
# The same packages as `unit` (not `-p lobby-e2e`), so features unify the same way and nothing is
# compiled again for this phase. The ones in TIMED_ASIDE assert counts and outcomes with wide
# bounds (Mews requests per window; nothing lost or doubled around a frozen Redis; slots freed a
# window after a burst) and mostly wait for the clock: they run one at a time beside the others,
# whose latency bounds keep a core to themselves, and their output follows. Measured on 2 cores:
# the phase takes 3 min instead of 5 min 45 s.
TIMED_ASIDE := timed::proxy_cost:: timed::proxy_cluster::redis_unreachable timed::proxy_cluster::after_a_burst
TIMED_RUN := $(LINTED) cargo test -q --workspace --exclude lobby-widget --test e2e --
timed:
	$(LINTED) cargo test -q --workspace --exclude lobby-widget --test e2e --no-run
	aside_log=$$(mktemp)
	$(TIMED_RUN) $(TIMED_ASIDE) --test-threads=1 --nocapture >"$$aside_log" 2>&1 &
	aside=$$!
	main=0
	$(TIMED_RUN) timed:: $(addprefix --skip ,$(TIMED_ASIDE)) --test-threads=1 --nocapture || main=$$?
	beside=0
	wait $$aside || beside=$$?
	echo "-- run beside them: $(TIMED_ASIDE) --"
	cat "$$aside_log"
	rm -f "$$aside_log"
	[ "$$main" = 0 ] && [ "$$beside" = 0 ]

# The widget's own tests, in headless Chromium through wasm-bindgen-test-runner (which rejects -q),
# built with the profile `wasm-test` (Cargo.toml: no debug info; cold, 73 s instead of 189 s).
widget-test:
	$(LINTED) CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  cargo test -p lobby-widget --target wasm32-unknown-unknown --profile wasm-test

test-phases:
	@echo $(TEST_PHASES)

# The cold case timed honestly: fresh clone, empty target/, tools not installed (see the script).
ci-time:
	./scripts/ci-time.sh

clean:
	cargo clean
	rm -rf dist
