#!/usr/bin/env bash
# Measures the cold build of the README's first command: a fresh clone of HEAD into a temporary
# folder, an empty target directory, then `cargo run --release` of the bundled example (the
# README's first command, verbatim). Prints wall and CPU time. With FRESH_CARGO_HOME=1 the
# crates are downloaded too, as on a new machine.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/repo"
if [ -n "${FRESH_CARGO_HOME:-}" ]; then
  export CARGO_HOME="$work/cargo-home"
  mkdir -p "$CARGO_HOME"
  cp "${HOME}/.cargo/bin/cargo" "$CARGO_HOME/" 2>/dev/null || true
fi
export CARGO_TARGET_DIR="$work/target"
cd "$work/repo"
first_command=$(sed -n '/^```sh$/{n;p;q}' README.md)
echo "==> $first_command"
start=$(date +%s.%N)
status=0
/usr/bin/time -f "cpu: %U s user, %S s system; peak RSS %M KB" bash -c "$first_command > /dev/null" || status=$?
end=$(date +%s.%N)
printf 'wall: %.0f s (%d cores)\n' "$(echo "$end - $start" | bc)" "$(nproc)"
exit "$status"
