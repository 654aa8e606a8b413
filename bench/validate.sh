#!/usr/bin/env bash
# The validation benchmark: greenpipe vs pandas+pandera, pyarrow and polars on the same CSV and rules,
# one core each. See bench/README.md.
#
#   bash bench/validate.sh [SIZE_MB]            # default 1000 (~1 GB)
#   bash bench/validate.sh --sizes 100,1000     # the flat-memory claim: two sizes in one run
#   bash bench/validate.sh 20 --tools pyarrow,polars
#
# Sets up bench/.venv (pinned versions from bench/requirements.txt) on first use, builds the release
# greenpipe binary (CARGO_TARGET_DIR, default ~/.cache/greenpipe/target), generates bench/out/data_<N>mb.csv
# (seeded; reused when unchanged), runs every tool and prints MB/s, peak RSS and bad rows. Exits 1 when
# the tools disagree on the number of bad rows.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3

if ! command -v taskset >/dev/null 2>&1; then
    echo "taskset not found (package util-linux); tools will not be pinned to one core" >&2
fi

stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "setting up $venv ..." >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    echo "$want" >"$stamp"
fi

export PYTHONDONTWRITEBYTECODE=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/greenpipe/target}"
mkdir -p "$here/out"
cd "$here"
exec "$venv/bin/python" "$here/run.py" "$@"
