#!/usr/bin/env bash
# Builds every function in functions/ as a Lambda artifact with cargo-lambda (release profile: fat LTO,
# one codegen unit, stripped), prints each bootstrap's size and fails when one exceeds the budget.
# scripts/test.sh (and so CI) runs it.
#
#   bash scripts/lambda-artifacts.sh     # artifacts in $CARGO_TARGET_DIR/lambda/<function>/bootstrap
#
# Architecture: arm64, as deployed (infra/template.yaml). cargo-lambda brings zig as the cross linker
# (PyPI), but the Rust standard library for aarch64 comes from rustup. When rustup cannot fetch it (a
# machine with no route to static.rust-lang.org), the script says so and measures x86_64 artifacts
# against the same budget instead (the same code; the two differ by a few percent in size), rather than
# measuring nothing.
#
# Budget: one per function, just above what it measured (arm64, 2026-12-07, after the switch to rustls
# on ring, SSO left to the CLI and opt-level "z" for the control-plane functions; README "Deploy" has
# the table and bench/README.md "Build profiles" the history). A function that grows past its budget fails
# the check: raise the budget only with a reason. GREENPIPE_BOOTSTRAP_BUDGET_BYTES overrides them all.
# Raised: cleanup-idle 11.5 -> 12.7 MB (2026-12-07), for the studio-settings area (11.25 -> 11.90 MB:
# Studio domains, user profiles and spaces, with their settings types) and the grace period's notices
# (11.90 -> 12.55 MB: the SNS and EventBridge clients). report-run 8.05 -> 8.6 MB (2026-12-08): the
# CloudWatch client for the training job's utilisation (GetMetricData) and the storage listing
# (7.87 -> 8.03 -> 8.46 MB). plan-training 9.9 -> 10.05 MB (2026-12-08): sizing from that utilisation
# reads the footprint table (9.75 -> 9.90 MB). plan-training 10.05 -> 10.25 MB and plan-transform
# 9.25 -> 9.55 MB (2026-12-08): a contract's schedule asks a carbon-intensity forecast API over HTTPS
# (greenpipe::aws::http1::get: its own connection and TLS stream types) and estimates the job's energy
# from the footprint table, which plan-transform did not link before (9.91 -> 10.15 MB, 9.10 -> 9.48 MB).
# plan-training 10.25 -> 10.5 MB, plan-transform 9.55 -> 9.6 MB (2026-12-08): hyperparameter tuning
# (DescribeHyperParameterTuningJob, the existence check that keeps a re-run from starting a second
# tuning job, and the tuning request types) and the Debugger request types (10.15 -> 10.45 MB; 9.48 ->
# 9.54 MB).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/greenpipe/target}"
declare -A budgets=(
    [cleanup-idle]=12700000
    [plan-training]=10500000
    [plan-transform]=9600000
    [register-catalog]=9900000
    [report-run]=8600000
    [validate-dataset]=12400000
    [write-features]=13150000
)

# cargo-lambda and its zig (the ziglang wheel) live in .tools/cargo-lambda.
bash scripts/setup-tools.sh --cargo-lambda-only >/dev/null
export PATH="$PWD/.tools/cargo-lambda/bin:$PATH"

arch_flag=--arm64
arch=arm64
if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    if ! rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
        echo "WARNING: rustup could not install the aarch64-unknown-linux-gnu standard library;" >&2
        echo "         measuring x86_64 artifacts instead, against budgets 50 % higher (x86_64" >&2
        echo "         builds of the same code measured about 40 % larger)." >&2
        arch_flag=--x86-64
        arch=x86_64
    fi
fi

packages=()
for dir in functions/*/; do
    packages+=(--package "$(basename "$dir")")
done
cargo lambda build --release "$arch_flag" "${packages[@]}"

status=0
printf '%-20s %7s %12s %12s\n' function arch bytes budget
for dir in functions/*/; do
    name="$(basename "$dir")"
    file="$CARGO_TARGET_DIR/lambda/$name/bootstrap"
    if [[ ! -f "$file" ]]; then
        echo "missing artifact: $file" >&2
        status=1
        continue
    fi
    size="$(stat -c %s "$file")"
    if [[ -z "${budgets[$name]:-}" && -z "${GREENPIPE_BOOTSTRAP_BUDGET_BYTES:-}" ]]; then
        echo "$name has no size budget: add one to scripts/lambda-artifacts.sh" >&2
        status=1
        continue
    fi
    budget="${GREENPIPE_BOOTSTRAP_BUDGET_BYTES:-${budgets[$name]:-0}}"
    if [[ "$arch" == x86_64 && -z "${GREENPIPE_BOOTSTRAP_BUDGET_BYTES:-}" ]]; then
        budget=$(( budget * 3 / 2 ))
    fi
    flag=""
    if (( size > budget )); then flag="  OVER BUDGET"; status=1; fi
    printf '%-20s %7s %12d %12d%s\n' "$name" "$arch" "$size" "$budget" "$flag"
done
exit "$status"
