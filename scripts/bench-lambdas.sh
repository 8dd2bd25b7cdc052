#!/usr/bin/env bash
# Benchmarks of the Lambdas (figures for the notes, not a test):
# - the scaler binary as Lambda runs it (release build, native): cold start to its first
#   request and to its first Semaphore request, a one-tick invocation against moto_server
#   and local fakes, and peak memory, over 20 cold starts (lambdas/scaler/examples/cold_start.rs);
# - the size of each Lambda zip, when `agent-aws-stack package` has built them into dist/lambdas.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/moto_server" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
cargo build --profile dist -p scaler
cargo build -p scaler --example cold_start

port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null && break
  sleep 0.2
done

AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
  target/debug/examples/cold_start target/dist/scaler "${RUNS:-20}"
echo "native release binary: $(stat -c %s target/dist/scaler) bytes"

if ls dist/lambdas/*.zip >/dev/null 2>&1; then
  for zip in dist/lambdas/*.zip; do
    echo "$(basename "$zip"): $(stat -c %s "$zip") bytes"
  done
else
  echo "no zips in dist/lambdas (run: agent-aws-stack package)"
fi
