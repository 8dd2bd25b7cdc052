#!/usr/bin/env bash
# Load benchmark of the local hub (issue 14): `semaphore-hub serve` (dist profile) pinned to
# one core, and a load generator (crates/semaphore-hub/examples/bench_hub.rs) on another:
# AGENTS agents (default 500) syncing once a second for SECONDS (default 30) — syncs per
# second and latency percentiles — the hub's memory per registered agent, and log ingest
# (LOG_MB, default 200, in the agent's 2000-event batches). Figures only: nothing here fails
# on a number.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q --profile dist -p semaphore-hub --bin semaphore-hub
cargo build -q --release -p semaphore-hub --example bench_hub
target_dir=${CARGO_TARGET_DIR:-target}

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pin_hub=() pin_load=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_hub=(taskset -c 0) pin_load=(taskset -c 1)
fi
"${pin_hub[@]}" "$target_dir/dist/semaphore-hub" serve --listen "127.0.0.1:$port" --db "$work/hub.db" \
  --log-limit-bytes 100000000000 --agent-lost-after 600 2>"$work/serve.log" &
hub_pid=$!
trap 'kill "$hub_pid" 2>/dev/null || true; wait "$hub_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  [ -s "$work/hub.db.api-token" ] && break
  sleep 0.1
done
echo "hub_pinned_to_one_core $([ ${#pin_hub[@]} -gt 0 ] && echo yes || echo no)"
"${pin_load[@]}" "$target_dir/release/examples/bench_hub" "http://127.0.0.1:$port" "$work/hub.db.api-token" "$hub_pid"
echo "hub_peak_rss_kib $(grep VmHWM "/proc/$hub_pid/status" | awk '{print $2}')"
echo "hub_db_bytes $(du -cb "$work"/hub.db* | tail -1 | cut -f1)"
