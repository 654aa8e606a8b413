#!/usr/bin/env bash
# Builds every function in functions/ as an arm64 Lambda artifact with cargo-lambda (release profile:
# fat LTO, one codegen unit, stripped), prints each bootstrap's size and fails when one exceeds the budget.
#
#   bash scripts/lambda-artifacts.sh            # artifacts in $CARGO_TARGET_DIR/lambda/<function>/bootstrap
#
# Env: GREENPIPE_BOOTSTRAP_BUDGET_BYTES (default below, set from measurement: README, "Deploy").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/greenpipe/target}"
budget="${GREENPIPE_BOOTSTRAP_BUDGET_BYTES:-5000000}"

# cargo-lambda and its zig (the ziglang wheel) live in .tools/cargo-lambda.
bash scripts/setup-tools.sh --cargo-lambda
export PATH="$PWD/.tools/cargo-lambda/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >/dev/null

packages=()
for dir in functions/*/; do
    packages+=(--package "$(basename "$dir")")
done
cargo lambda build --release --arm64 "${packages[@]}"

status=0
printf '%-20s %12s %12s\n' function bytes budget
for dir in functions/*/; do
    name="$(basename "$dir")"
    file="$CARGO_TARGET_DIR/lambda/$name/bootstrap"
    if [[ ! -f "$file" ]]; then
        echo "missing artifact: $file" >&2
        status=1
        continue
    fi
    size="$(stat -c %s "$file")"
    flag=""
    if (( size > budget )); then flag="  OVER BUDGET"; status=1; fi
    printf '%-20s %12d %12d%s\n' "$name" "$size" "$budget" "$flag"
done
exit "$status"
