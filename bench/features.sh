#!/usr/bin/env bash
# The Feature Store write benchmark: greenpipe vs boto3 put_record in a thread pool vs the SageMaker Python
# SDK v2's FeatureGroup.ingest, writing the same records at the same in-flight concurrency to the loopback
# Feature Store runtime with an injected latency. See bench/README.md.
#
#   bash bench/features.sh                                   # N=20000 records, C=32, L=0,10,30 ms
#   bash bench/features.sh --records 5000 --concurrency 16 --latencies 10
#   bash bench/features.sh --tools greenpipe,boto3
#
# Sets up bench/.venv-features (pinned versions from bench/requirements-features.txt) on first use, builds
# the release greenpipe and featurestore-loopback binaries (CARGO_TARGET_DIR, default
# ~/.cache/greenpipe/target), generates bench/out/features_<N>.csv (seeded), runs every tool against a fresh
# server per latency and prints records/s, the fraction of the C/L ceiling and CPU-ms per 1,000 records.
# Exits 1 when a tool did not write exactly N records, once each.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-features"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3

stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements-features.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "setting up $venv ..." >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements-features.txt"
    echo "$want" >"$stamp"
fi

export PYTHONDONTWRITEBYTECODE=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/greenpipe/target}"
mkdir -p "$here/out"
cd "$here"
exec "$venv/bin/python" "$here/features.py" "$@"
