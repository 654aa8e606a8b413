#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this):
#   1. install cargo-lambda (PyPI, pinned; it brings zig) into .tools/cargo-lambda, then start the arm64
#      Lambda artifacts in the background (scripts/lambda-artifacts.sh: cargo lambda build --release
#      --arm64, each bootstrap's size against the budget). That build is the longest step (seven fat-LTO
#      links of 2.5-4 CPU-minutes each after the release build of the dependencies); it runs under
#      target/aarch64-unknown-linux-gnu and target/release, so it takes no lock the debug builds need,
#      and the steps below fill the cores it leaves idle. The script waits for it, and prints its log,
#      before any test runs: the tests never share the machine with it (some assert on wall time).
#   2. install the AWS emulator (moto's server, pinned) into .venv   (scripts/setup-moto.sh),
#      asl-validator (npm, pinned) into tools/asl-validator             (scripts/setup-node.sh), and the
#      deployment tools (sam, cfn-lint, checkov) and a Jupyter server (pinned) into .tools/   (scripts/setup-tools.sh)
#   3. cargo fmt --check
#   4. cargo clippy on every target, warnings are errors (and on the library as fuzz/ builds it)
#   5. static checks of infra/template.yaml: sam validate --lint, cfn-lint + serverless rules, checkov
#   6. every test (cargo nextest if installed, else cargo test), against ONE moto server started here
#      and shared by all test processes (GREENPIPE_TEST_ENDPOINT), stopped on exit. The test binaries
#      are built before the wait for the artifacts.
# Any failure stops the script with a non-zero exit code.
#
# Env: CARGO_TARGET_DIR (default ~/.cache/greenpipe/target), GREENPIPE_TEST_ENDPOINT (use an already
# running emulator instead of starting one).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/greenpipe/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A full run builds the workspace's own crates from scratch or not at all: incremental compilation would
# only add the cost of writing its caches. (The `cargo lambda watch` test's build inherits this too, so it
# still finds the test build's artifacts.)
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n==> %s\n' "$*"; }

step "cargo-lambda (PyPI, pinned) in .tools/cargo-lambda"
bash scripts/setup-tools.sh --cargo-lambda-only

moto_pid=""
moto_log="$CARGO_TARGET_DIR/moto-test-server.log"
artifacts_pid=""
artifacts_log="$CARGO_TARGET_DIR/lambda-artifacts.log"
cleanup() {
    if [[ -n "$artifacts_pid" ]]; then
        # setsid made it a process group of its own: stop cargo and every rustc with it.
        kill -- "-$artifacts_pid" 2>/dev/null || true
        wait "$artifacts_pid" 2>/dev/null || true
    fi
    if [[ -n "$moto_pid" ]]; then
        kill "$moto_pid" 2>/dev/null || true
        wait "$moto_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

step "arm64 Lambda artifacts: cargo lambda build --release --arm64, sizes vs budget (in the background; log: $artifacts_log)"
mkdir -p "$CARGO_TARGET_DIR"
setsid bash scripts/lambda-artifacts.sh >"$artifacts_log" 2>&1 &
artifacts_pid=$!

step "emulator: moto[server] in .venv"
bash scripts/setup-moto.sh

step "asl-validator (npm, pinned) in tools/asl-validator"
bash scripts/setup-node.sh

step "deployment tools in .tools/"
bash scripts/setup-tools.sh

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# What fuzz/ builds (nightly, not run here): the library without its AWS half, and the fuzz bodies,
# whose corpora the tests replay. Kept compiling and lint-clean on stable.
step "cargo clippy -p greenpipe-shared --no-default-features --features fuzzing -- -D warnings"
cargo clippy -p greenpipe-shared --no-default-features --features fuzzing -- -D warnings

step "static checks of infra/template.yaml"
bash scripts/static-checks.sh

if [[ -z "${GREENPIPE_TEST_ENDPOINT:-}" ]]; then
    step "starting moto_server on 127.0.0.1 (log: $moto_log)"
    mkdir -p "$CARGO_TARGET_DIR"
    port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # MOTO_PORT: moto's Step Functions executor calls back to the server on this port.
    # scripts/moto_server.py: moto's server with its SigV4 check reading the body as sent (see there).
    MOTO_PORT="$port" .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
    moto_pid=$!
    export GREENPIPE_TEST_ENDPOINT="http://127.0.0.1:$port"
    .venv/bin/python - "$GREENPIPE_TEST_ENDPOINT" "$moto_pid" <<'PY'
import os, sys, time, urllib.request
url, pid = sys.argv[1] + "/moto-api/config", int(sys.argv[2])
deadline = time.time() + 90
while True:
    try:
        urllib.request.urlopen(url, timeout=2)
        break
    except Exception as e:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit(f"moto_server exited before answering (see its log)")
        if time.time() > deadline:
            sys.exit(f"moto_server did not answer at {url}: {e}")
        time.sleep(0.2)
print(f"moto_server answering at {sys.argv[1]}")
PY
fi

# Waits for the background artifact build and prints its log; a failure there fails the run.
artifacts() {
    local rc=0
    wait "$artifacts_pid" || rc=$?
    artifacts_pid=""
    step "arm64 Lambda artifacts: log of the background build (exit $rc)"
    cat "$artifacts_log"
    return "$rc"
}

status=0
if cargo nextest --version >/dev/null 2>&1; then
    # Doc tests first: nextest's summary line must close the run (CI reads the last runner's totals).
    step "cargo test --workspace --doc"
    cargo test --workspace --doc || status=$?
    step "cargo nextest run --workspace --no-run (build the tests while the artifacts finish)"
    cargo nextest run --workspace --no-run || status=$?
    artifacts || exit $?
    step "cargo nextest run --workspace"
    cargo nextest run --workspace --no-fail-fast || status=$?
else
    step "cargo test --workspace --no-run"
    cargo test --workspace --no-run || status=$?
    artifacts || exit $?
    step "cargo test --workspace"
    cargo test --workspace --no-fail-fast || status=$?
fi

if [[ $status -ne 0 && -f "$moto_log" ]]; then
    printf '\n==> tests failed; last lines of the moto log (%s):\n' "$moto_log"
    tail -n 40 "$moto_log" || true
fi
exit "$status"
