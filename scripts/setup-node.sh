#!/usr/bin/env bash
# Installs the pinned Node.js tools the tests use into a project-local node_modules:
#   tools/asl-validator/node_modules/.bin/asl-validator   (npm asl-validator 4.0.0, package-lock.json)
# Needs node and npm (Debian: apt-get install nodejs npm). Idempotent: npm ci only when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../tools/asl-validator"
if ! command -v npm >/dev/null; then
    echo "setup-node.sh: npm not found (Debian: apt-get install -y nodejs npm)" >&2
    exit 1
fi
if [[ -x node_modules/.bin/asl-validator ]] && node_modules/.bin/asl-validator --version >/dev/null 2>&1; then
    exit 0
fi
if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi
