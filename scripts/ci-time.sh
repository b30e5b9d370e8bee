#!/usr/bin/env bash
# Times `make test` the way CI and a newcomer meet it, phase by phase (`make test-phases`):
#   cold   a fresh clone of HEAD, an empty target/, an empty CARGO_HOME (so the registry is fetched
#          and wasm-bindgen-cli is built) and no .tools/ (npm tools installed);
#   warm   the same clone, nothing changed, everything run again;
#   edit   one line changed in proxy/ (a comment appended to proxy/src/lib.rs), run again.
# What it cannot take away, and says so: the rustup toolchain and its wasm32 target (RUSTUP_HOME is
# shared; `rustup target add` took 2 s here) and the Debian packages (apt: 31 s here, measured on
# this machine's first set-up). Both are installed by scripts/setup.sh when missing.
#
# Usage: scripts/ci-time.sh [cold|warm|edit]...   (no argument: cold warm edit)
# The clone lives in ${CI_TIME_DIR:-/tmp/lobby-ci-time}; a cold run deletes it first.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${CI_TIME_DIR:-/tmp/lobby-ci-time}"
runs=("$@")
((${#runs[@]})) || runs=(cold warm edit)

# Only the toolchain from the machine: cargo, rustc and rustup through a folder of links, so
# nothing a developer installed in ~/.cargo/bin (wasm-bindgen, trunk, …) is found.
rust_bin="$(dirname "$(command -v cargo)")"
export CARGO_HOME="$dir/cargo-home"
links="$dir/rust-bin"
clean_path="$CARGO_HOME/bin:$links:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

fmt() { printf '%dm %02ds' $(($1 / 60)) $(($1 % 60)); }

run() { # run NAME: every phase of `make test` in the clone, timed; then the total
  local name="$1" total=0 t0 dt status=ok
  printf '\n== %s ==\n' "$name"
  for phase in $(cd "$dir/lobby" && make -s test-phases); do
    t0=$(date +%s)
    if ! (cd "$dir/lobby" && PATH="$clean_path" make -s "$phase") >"$dir/$name-$phase.log" 2>&1; then
      status="FAILED in $phase (log: $dir/$name-$phase.log)"
    fi
    dt=$(($(date +%s) - t0)) total=$((total + dt))
    printf '%-8s %-12s %s\n' "$name" "$phase" "$(fmt $dt)"
    [ "$status" = ok ] || break
  done
  printf '%-8s %-12s %s  %s\n' "$name" TOTAL "$(fmt $total)" "$status"
  [ "$status" = ok ]
}

for r in "${runs[@]}"; do
  case "$r" in
    cold)
      rm -rf "$dir" && mkdir -p "$dir" "$links"
      for t in cargo rustc rustdoc rustup rustfmt cargo-fmt cargo-clippy clippy-driver; do
        ln -s "$rust_bin/$t" "$links/$t"
      done
      git clone -q "$repo" "$dir/lobby"
      echo "cold: fresh clone of $(git -C "$dir/lobby" rev-parse --short HEAD) in $dir/lobby, CARGO_HOME=$CARGO_HOME (empty)"
      ;;
    warm) [ -d "$dir/lobby" ] || { echo "no clone in $dir: run '$0 cold' first" >&2; exit 2; } ;;
    edit)
      [ -d "$dir/lobby" ] || { echo "no clone in $dir: run '$0 cold' first" >&2; exit 2; }
      echo "// ci-time: one changed line" >>"$dir/lobby/proxy/src/lib.rs"
      ;;
    *) echo "usage: $0 [cold|warm|edit]..." >&2; exit 2 ;;
  esac
  rc=0; run "$r" || rc=$?
  [ "$r" != edit ] || git -C "$dir/lobby" checkout -q proxy/src/lib.rs
  [ "$rc" = 0 ] || exit "$rc"
done
