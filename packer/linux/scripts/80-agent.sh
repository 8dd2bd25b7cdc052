#!/usr/bin/env bash
# The Semaphore agent and toolbox (the agent's installer, not started), our agent-instance
# program behind the stack's user data (`/opt/semaphore/agent/start.sh <stack>-config`), the
# shutdown hook, and the health check timer.
set -euo pipefail

dir=/opt/semaphore/agent
case "$(uname -m)" in
  x86_64) arch=x86_64 ;;
  aarch64) arch=arm64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac

install -d -m 0755 -o semaphore -g semaphore "$dir" "$dir/hooks"
curl -fsSL "https://github.com/semaphoreci/agent/releases/download/${AGENT_VERSION:?}/agent_Linux_$arch.tar.gz" \
  | tar -xz -C "$dir"
chown -R semaphore:semaphore "$dir"

install -m 0755 -o root -g root /tmp/agent-instance "$dir/agent-instance"
install -m 0755 -o semaphore -g semaphore "${FILES:?}/start.sh" "$dir/start.sh"
install -m 0755 -o semaphore -g semaphore "$FILES/shutdown" "$dir/hooks/shutdown"

(
  cd "$dir"
  SEMAPHORE_AGENT_INSTALLATION_USER=semaphore \
  SEMAPHORE_AGENT_SHUTDOWN_HOOK="$dir/hooks/shutdown" \
  SEMAPHORE_TOOLBOX_VERSION="${TOOLBOX_VERSION:?}" \
  SEMAPHORE_AGENT_START=false \
  SEMAPHORE_REGISTRATION_TOKEN=DUMMY \
  SEMAPHORE_ORGANIZATION=DUMMY \
  SEMAPHORE_AGENT_SYSTEMD_RESTART_SEC="${SYSTEMD_RESTART_SECONDS:-1800}" \
    ./install.sh
)
# The installer's placeholder holds a dummy token; boot rewrites it readable by the agent only.
chmod 0600 "$dir/config.yaml"

install -m 0644 "$FILES/semaphore-agent-health.service" /etc/systemd/system/
install -m 0644 "$FILES/semaphore-agent-health.timer" /etc/systemd/system/
systemctl daemon-reload
# Started by boot, never at OS start: a rebooted instance has no agent and powers off.
systemctl disable semaphore-agent.service semaphore-agent-health.timer
