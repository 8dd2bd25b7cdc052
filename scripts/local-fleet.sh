#!/usr/bin/env bash
# The whole fleet on this machine (crates/local-fleet): creates .venv with moto on first use,
# builds local-fleet and the programs it runs (agent-aws-stack, semaphore-hub, agent-instance,
# semaphore-agent; debug builds, a few minutes the first time), then runs
# `local-fleet <arguments>`, by default `run`: moto_server and the hub started on free loopback
# ports, the example stack deployed to moto with agent-aws-stack, instances booted as local
# processes, examples/jobs run, a report printed, everything stopped by PID.
#
#   scripts/local-fleet.sh                  # = run
#   scripts/local-fleet.sh up               # keep a fleet up (Ctrl-C or `down` to stop)
#   scripts/local-fleet.sh submit examples/jobs/3-tests.yml --wait
#   scripts/local-fleet.sh status
#   scripts/local-fleet.sh down
#   scripts/local-fleet.sh run --help       # every flag
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/venv.sh
. scripts/venv.sh
export LOCAL_FLEET_PYTHON="$PWD/$VENV/bin/python"

cargo build --quiet --bins -p local-fleet -p agent-aws-stack -p semaphore-hub -p agent-instance -p semaphore-agent
target_dir=${CARGO_TARGET_DIR:-target}
if [ "$#" -eq 0 ]; then
  set -- run
fi
exec "$target_dir/debug/local-fleet" "$@"
