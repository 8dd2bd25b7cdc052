#!/usr/bin/env bash
# Benchmarks of the Rust Semaphore agent (issue 13), built as the images build it (`image`
# profile, this machine's architecture): binary size; idle RSS after registration and the time from the
# hub's run-job answer to the job (listener mode against the tests' fake hub); log throughput
# and peak RSS of `run FILE` while a job prints as fast as it can (MB=<megabytes>, default
# 1024). Figures only: nothing here fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."

# As `make instance.build` builds it for Linux images: static musl, with cargo-zigbuild (from
# .venv, scripts/requirements-package.txt); without it, the glibc build (about 2 MB more idle
# memory: the shared C library's pages).
PATH="$PWD/.venv/bin:$PATH"
target_dir=${CARGO_TARGET_DIR:-target}
if command -v cargo-zigbuild >/dev/null; then
  triple="$(uname -m)-unknown-linux-musl"
  if command -v rustup >/dev/null; then rustup target add "$triple" >/dev/null 2>&1; fi
  cargo zigbuild -q --profile image -p semaphore-agent --target "$triple"
  bin=$target_dir/$triple/image/semaphore-agent
else
  echo "cargo-zigbuild not found: measuring the glibc build" >&2
  cargo build -q --profile image -p semaphore-agent
  bin=$target_dir/image/semaphore-agent
fi
echo "binary_bytes $(stat -c %s "$bin")"

cargo run -q --example bench_listener -p semaphore-agent -- "$bin"

mb=${MB:-1024}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '{"job_id":"bench","executor":"shell","commands":[{"directive":"yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c %dM"}]}\n' "$mb" \
  > "$work/job.json"
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/rss" env HOME="$work" "$bin" run "$work/job.json" > "$work/events"
end=$(date +%s.%N)
seconds=$(echo "$end - $start" | bc -l)
events=$(grep -c '"cmd_output"' "$work/events")
printf 'stream_mb %d\nstream_seconds %.1f\nstream_mb_per_s %.1f\nstream_cmd_output_events_per_s %.0f\nstream_peak_rss_kib %d\n' \
  "$mb" "$seconds" "$(echo "$mb / $seconds" | bc -l)" "$(echo "$events / $seconds" | bc -l)" "$(cat "$work/rss")"
