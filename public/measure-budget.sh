#!/usr/bin/env bash
# Prints Lobby's front-end byte budgets: the loader (what every page view of the hotel's site
# pays) and the widget files fetched when the guest shows interest (from dist/, built by
# `make widget`), raw / gzip -9 / brotli -q 11, against the issue's budgets. Exit status 1 when a
# budget is exceeded and LOBBY_BUDGET_STRICT=1.
set -euo pipefail
cd "$(dirname "$0")/.."
LOADER_BUDGET=2048   # 2 KB brotli
WIDGET_BUDGET=81920  # 80 KB (81,920 B) brotli: wasm + js + css (issue 14)
br() { brotli -c -q 11 "$1" | wc -c; }
gz() { gzip -9 -c "$1" | wc -c; }
row() { printf '%-46s %8d %8d %8d\n' "$1" "$(wc -c <"$2")" "$(gz "$2")" "$(br "$2")"; }
over=0
printf '%-46s %8s %8s %8s\n' file raw gzip brotli
row "public/lobby.js (loader)" public/lobby.js
loader=$(br public/lobby.js)
shopt -s nullglob
files=(dist/lobby-widget_bg.wasm dist/lobby-widget.js dist/lobby.css)
[ ${#files[@]} -ge 2 ] || { echo "dist/ has no widget build; run make widget" >&2; exit 2; }
widget=0
for f in "${files[@]}"; do row "$f" "$f"; widget=$((widget + $(br "$f"))); done
echo
printf 'loader, brotli:                         %6d B  (budget %d B)  %s\n' "$loader" $LOADER_BUDGET \
  "$([ "$loader" -le $LOADER_BUDGET ] && echo ok || { over=1; echo "OVER by $((loader - LOADER_BUDGET)) B"; })"
printf 'fetched before interest (default load): %6d B  (the loader only; no widget byte)\n' "$loader"
printf 'widget on open (wasm+js+css), brotli:   %6d B  (budget %d B)  %s\n' "$widget" $WIDGET_BUDGET \
  "$([ "$widget" -le $WIDGET_BUDGET ] && echo ok || { over=1; echo "OVER by $((widget - WIDGET_BUDGET)) B"; })"
if [ "$over" = 1 ] && [ "${LOBBY_BUDGET_STRICT:-0}" = 1 ]; then exit 1; fi
