#!/usr/bin/env bash
# The macOS image's contents, checked at the end of the build (the counterpart of goss).
set -uo pipefail

failed=0
check() {
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    echo "ok: $what"
  else
    echo "FAILED: $what"
    failed=1
  fi
}

dir=/opt/semaphore/agent
check "agent binary" test -x "$dir/agent"
check "agent-instance" test -x "$dir/agent-instance"
check "agent-instance runs" "$dir/agent-instance" --version
check "start.sh" test -x "$dir/start.sh"
check "shutdown hook" test -x "$dir/hooks/shutdown"
check "config.yaml owned by semaphore" test "$(stat -f %Su "$dir/config.yaml")" = semaphore
check "config.yaml mode 600" test "$(stat -f %Lp "$dir/config.yaml")" = 600
check "agent launch daemon" test -f /Library/LaunchDaemons/com.semaphoreci.agent.plist
check "health check daemon outside LaunchDaemons" test -f "$dir/launchd/com.semaphoreci.health-check.plist"
check "user semaphore" id semaphore
check "passwordless sudo" sudo -n -u semaphore sudo -n true
check "toolbox" test -d /Users/semaphore/.toolbox
check "artifact CLI" test -L /usr/local/bin/artifact
check "CloudWatch agent config" test -f /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
exit "$failed"
