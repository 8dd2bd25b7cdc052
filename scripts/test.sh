#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, golden, Jest-suite, parity, CLI; the agent's 1 GB
# streaming test on the agent built with the images' `image` profile), the EC2 lookup
# tests against moto_server, cfn-lint on every template the golden fixtures hold, checkov on
# them against the accepted findings (tests/checkov-accepted.txt), and the image checks
# (scripts/check-images.sh) when packer and shellcheck are installed.
# Python tools go into .venv, checkov into .venv-checkov (its pins clash with moto's; both
# created on first use); moto_server is started on a free loopback port and stopped by its
# PID when this script exits.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/venv.sh
. scripts/venv.sh
# The local fleet's tests start their own moto_server with this Python.
LOCAL_FLEET_PYTHON="$PWD/$VENV/bin/python"
export LOCAL_FLEET_PYTHON
CHECKOV_VENV=${CHECKOV_VENV:-.venv-checkov}
if [ ! -x "$CHECKOV_VENV/bin/checkov" ]; then
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-checkov.txt
fi

port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
# moto with CloudFormation's rule for Metadata/DependsOn-only changes (see the script).
"$VENV/bin/python" scripts/moto_server.py -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 50); do
  if "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
    break
  fi
  sleep 0.2
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN || true

echo "==> the agent built as the images build it (--profile image), for its 1 GB streaming test"
cargo build -q --profile image -p semaphore-agent
target_dir="$(cargo metadata --format-version 1 --no-deps | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
OPTIMIZED_AGENT_BINARY="$target_dir/image/semaphore-agent"
export OPTIMIZED_AGENT_BINARY

echo "==> cargo test (moto_server on 127.0.0.1:$port, pid $moto_pid)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  cargo test --workspace --doc
else
  cargo test --workspace
fi

# The CLI as the workspace's tests just built it (`cargo run -p agent-aws-stack` would build it
# again with the package's own feature set, minutes of AWS SDK compilation for nothing).
cli="$target_dir/debug/agent-aws-stack"

echo "==> cfn-lint on every golden template"
# W3010 (hard-coded availability zones) is ignored on purpose: like the original's, these
# templates are account- and region-specific, and their zones come from the account's lookup
# or from SEMAPHORE_AGENT_AZS.
example=$(mktemp --suffix=.json)
"$cli" synth --config examples/linux/config.json \
  --context examples/linux/cdk.context.json --github-keys examples/linux/gh_ssh_keys.json \
  --account 123456789012 --region us-east-1 --no-lookups > "$example"
"$VENV/bin/cfn-lint" --ignore-checks W3010 -- tests/fixtures/synth/*/template.json "$example"
echo "==> checkov on the example and every golden template, against tests/checkov-accepted.txt"
# One run over all templates (checkov's start-up is the slow part). --soft-fail: findings are
# judged by scripts/checkov_findings.py, so a non-zero exit means checkov itself failed.
# BC_SKIP_MAPPING and --skip-download keep it offline.
checkov_report=$(mktemp --suffix=.json)
BC_SKIP_MAPPING=TRUE "$CHECKOV_VENV/bin/checkov" --quiet --soft-fail --skip-download \
  --framework cloudformation --output json \
  --file "$example" tests/fixtures/synth/*/template.json > "$checkov_report"
"$VENV/bin/python" scripts/checkov_findings.py tests/checkov-accepted.txt "$checkov_report"
rm -f "$checkov_report"
echo "==> cfn-lint on the bootstrap template, with and without an execution role"
bootstrap_with=$(mktemp --suffix=.json)
bootstrap_without=$(mktemp --suffix=.json)
"$cli" bootstrap aws://123456789012/us-east-1 --show-template \
  --cloudformation-execution-policies arn:aws:iam::aws:policy/AdministratorAccess > "$bootstrap_with"
"$cli" bootstrap aws://123456789012/eu-west-1 --show-template > "$bootstrap_without"
"$VENV/bin/cfn-lint" -- "$bootstrap_with" "$bootstrap_without"
rm -f "$example" "$bootstrap_with" "$bootstrap_without"

if command -v packer >/dev/null && command -v shellcheck >/dev/null; then
  PYTHON="$VENV/bin/python" scripts/check-images.sh
elif [ -n "${REQUIRE_IMAGE_CHECKS:-}" ]; then
  echo "REQUIRE_IMAGE_CHECKS is set but packer or shellcheck is missing (apt-get install packer shellcheck)" >&2
  exit 1
else
  echo "==> skipped the image checks: install packer and shellcheck (apt-get install packer shellcheck)"
fi
echo "==> all tests passed"
