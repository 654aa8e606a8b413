#!/usr/bin/env bash
# Installs the deployment tools CI checks the templates and artifacts with, each pinned and in its own
# virtualenv under .tools/ (their dependency pins clash with each other and with moto's):
#   .tools/sam           aws-sam-cli      (sam validate --lint)
#   .tools/cfnlint       cfn-lint + cfn-lint-serverless (the serverless rules)
#   .tools/checkov       checkov
#   .tools/jupyter       jupyter_server + ipykernel: the real Jupyter server the notebook lifecycle
#                        configuration's activity recorder is tested against
#   .tools/cargo-lambda  cargo-lambda (brings zig for cross-compiling to arm64), only with --cargo-lambda
#                        (or --cargo-lambda-only: that one alone, for scripts/lambda-artifacts.sh)
# Idempotent: a tool already at its pinned version is left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"

install() { # name, pip requirement...
    local name="$1"; shift
    local venv=".tools/$name" stamp=".tools/$name/.greenpipe-pins"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$*" ]]; then
        echo "$name: $* already installed"
        return
    fi
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    echo "$*" >"$stamp"
    echo "$name: installed $*"
}

# One at a time: venv creation (ensurepip) is not safe to run concurrently.
if [[ "${1:-}" != "--cargo-lambda-only" ]]; then
    install sam aws-sam-cli==1.170.0
    install cfnlint cfn-lint==1.58.0 cfn-lint-serverless==0.3.6
    install checkov checkov==3.3.30
    install jupyter jupyter_server==2.21.1 ipykernel==7.4.0
fi
if [[ "${1:-}" == "--cargo-lambda" || "${1:-}" == "--cargo-lambda-only" ]]; then
    install cargo-lambda cargo-lambda==1.9.2
fi
