#!/usr/bin/env bash
# Benchmarks `agent-aws-stack synth` on the bundled example as a user runs it: wall time over
# repeated runs (hyperfine when installed, else a shell loop) and peak memory (GNU time).
# The in-process figures come from `cargo bench -p stack-template`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p agent-aws-stack
bin=target/release/agent-aws-stack
args=(synth --config examples/linux/config.json --context examples/linux/cdk.context.json
      --github-keys examples/linux/gh_ssh_keys.json --account 123456789012 --region us-east-1 --no-lookups)
"$bin" "${args[@]}" >/dev/null 2>&1   # warm the page cache
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 5 --runs 200 -N --output=null "$bin ${args[*]}"
else
  runs=200
  start=$(date +%s%N)
  for _ in $(seq $runs); do "$bin" "${args[@]}" >/dev/null 2>&1; done
  end=$(date +%s%N)
  echo "mean wall time: $(( (end - start) / runs / 1000 )) µs over $runs runs"
fi
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "peak RSS: %M KiB" "$bin" "${args[@]}" 2>&1 >/dev/null | grep "peak RSS"
else
  echo "install GNU time (apt-get install time) for the peak-memory figure"
fi
echo "binary size: $(stat -c %s "$bin") bytes"
