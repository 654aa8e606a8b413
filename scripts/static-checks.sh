#!/usr/bin/env bash
# Static checks of the deliverables, all offline:
#   sam validate --lint, cfn-lint with the serverless rules, checkov on infra/template.yaml.
# (asl-validator on the state machine definitions runs as a test: tests/tests/asl_validator.rs.)
# Tools come from scripts/setup-tools.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
template=infra/template.yaml
# Offline: nothing here may call AWS. SAM and cfn-lint only need a region name.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" SAM_CLI_TELEMETRY=0

echo "--> sam validate --lint"
.tools/sam/bin/sam validate --lint --template "$template" --region "$AWS_DEFAULT_REGION"

echo "--> cfn-lint (with cfn-lint-serverless rules)"
.tools/cfnlint/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- "$template"

echo "--> checkov (skips are in the template, each with its reason)"
.tools/checkov/bin/checkov --quiet --compact --skip-download --framework cloudformation --file "$template"
