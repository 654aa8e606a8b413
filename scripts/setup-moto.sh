#!/usr/bin/env bash
# Installs the AWS emulator the integration tests run against (moto's server, pinned) into the
# project-local virtualenv .venv. Idempotent: a second run only checks the installed version.
#
#   bash scripts/setup-moto.sh        # then: .venv/bin/moto_server -p 5000
#
# Env: PYTHON (interpreter used to create the venv; default python3), GREENPIPE_VENV (default .venv).
set -euo pipefail

MOTO_VERSION="5.2.5"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${GREENPIPE_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

installed_version() {
    "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true
}

if [[ -x "$VENV/bin/moto_server" && "$(installed_version)" == "$MOTO_VERSION" ]]; then
    echo "moto $MOTO_VERSION already installed in $VENV"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating virtualenv $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi

"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
echo "installed moto $(installed_version) in $VENV ($VENV/bin/moto_server)"
