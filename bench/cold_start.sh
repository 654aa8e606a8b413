#!/usr/bin/env bash
# The cold-start benchmark: every greenpipe Lambda binary against a Python peer that imports boto3 and
# builds the same clients, both started with the deployed environment against a loopback Lambda Runtime
# API. Measures spawn -> first GET /runtime/invocation/next and the RSS then. See bench/README.md.
#
#   bash bench/cold_start.sh                        # 20 starts per function and side, all seven functions
#   bash bench/cold_start.sh --repeat 3             # quick look
#   bash bench/cold_start.sh --no-build             # the binaries in $CARGO_TARGET_DIR/release as they are
#   bash bench/cold_start.sh --bin-dir DIR --functions report-run,plan-training
#
# Sets up bench/.venv-cold-start (pinned versions from bench/requirements-cold-start.txt, byte-compiled as
# Lambda's Python runtime ships boto3) on first use, builds the release function binaries (CARGO_TARGET_DIR,
# default ~/.cache/greenpipe/target) unless --no-build or --bin-dir, prints the table and writes
# bench/out/cold_start.json. Exits 1 when a start fails or a boto3/greenpipe ratio is below --min-ratio
# (default 20), 2 for a usage error or a missing binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-cold-start"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3

stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements-cold-start.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "setting up $venv ..." >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements-cold-start.txt"
    # The peer must not pay for compiling boto3's sources: Lambda's runtime has them byte-compiled. pip
    # usually does this already; make sure (PYTHONDONTWRITEBYTECODE, set below, would stop it at run time).
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    "$venv/bin/python" -m compileall -q -j 0 "$site" >/dev/null
    echo "$want" >"$stamp"
fi

export PYTHONDONTWRITEBYTECODE=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/greenpipe/target}"
mkdir -p "$here/out"
cd "$here"
exec "$venv/bin/python" "$here/cold_start.py" "$@"
