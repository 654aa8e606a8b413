#!/usr/bin/env bash
# How much slower does the same work run on this machine when it comes in bursts between idle gaps, as a
# client waiting on a server does? Builds bench/cold_cache.c with gcc and prints the CPU per random read
# for three memory footprints and three idle gaps (median of 3 runs, each 300 bursts of 100,000 reads,
# pinned to one core). See bench/README.md, "Why the CPU per record grows with L".
#
#   bash bench/cold_cache.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
exe="$tmp/cold_cache"
gcc -O2 -o "$exe" "$here/cold_cache.c"
pin=(); command -v taskset >/dev/null && pin=(taskset -c "${CPU:-0}")
median() { sort -n | sed -n 2p; }
printf '%-10s %12s %12s %12s\n' footprint "gap 0" "gap 1 ms" "gap 10 ms"
for kb in 16 512 4096; do
    row=()
    for gap in 0 1000 10000; do
        row+=("$(for _ in 1 2 3; do "${pin[@]}" "$exe" 100000 "$gap" "$kb" 300 2>/dev/null; done | median)")
    done
    printf '%-10s %9s ns %9s ns %9s ns\n' "${kb} KB" "${row[@]}"
done
