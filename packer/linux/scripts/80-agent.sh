#!/usr/bin/env bash
# The Semaphore agent and toolbox, our agent-instance program behind the stack's user data
# (`/opt/semaphore/agent/start.sh <stack>-config`), the shutdown hook, and the health check
# timer. The agent is this repository's Rust agent (built by `make instance.build`, like
# agent-instance), unless INSTALL_GO_AGENT=true installs the Go agent release AGENT_VERSION
# instead (for its Kubernetes executor). Either way the agent is installed, not started.
set -euo pipefail

dir=/opt/semaphore/agent
case "$(uname -m)" in
  x86_64) arch=x86_64 toolbox=self-hosted-linux.tar ;;
  aarch64) arch=arm64 toolbox=self-hosted-linux-arm.tar ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac

install -d -m 0755 -o semaphore -g semaphore "$dir" "$dir/hooks"
install -m 0755 -o root -g root /tmp/agent-instance "$dir/agent-instance"
install -m 0755 -o semaphore -g semaphore "${FILES:?}/start.sh" "$dir/start.sh"
install -m 0755 -o semaphore -g semaphore "$FILES/shutdown" "$dir/hooks/shutdown"

if [ "${INSTALL_GO_AGENT:-false}" = true ]; then
  curl -fsSL "https://github.com/semaphoreci/agent/releases/download/${AGENT_VERSION:?}/agent_Linux_$arch.tar.gz" \
    | tar -xz -C "$dir"
  chown -R semaphore:semaphore "$dir"
  chown root:root "$dir/agent-instance"
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
else
  install -m 0755 -o root -g root /tmp/semaphore-agent "$dir/agent"
  # The toolbox, as the Go agent's installer sets it up: ~/.toolbox, its install-toolbox run as
  # the user (symlinks in /usr/local/bin, `when` and `spc`), sourced from ~/.bash_profile.
  home=$(getent passwd semaphore | cut -d: -f6)
  work=$(mktemp -d)
  curl -fsSL "https://github.com/semaphoreci/toolbox/releases/download/${TOOLBOX_VERSION:?}/$toolbox" \
    | tar -x -C "$work"
  rm -rf "$home/.toolbox"
  mv "$work/toolbox" "$home/.toolbox"
  rm -rf "$work"
  chown -R semaphore:semaphore "$home/.toolbox"
  sudo -u semaphore -H bash "$home/.toolbox/install-toolbox"
  grep -qxF 'source ~/.toolbox/toolbox' "$home/.bash_profile" 2>/dev/null \
    || echo 'source ~/.toolbox/toolbox' | sudo -u semaphore tee -a "$home/.bash_profile" >/dev/null
  sed "s/RESTART_SECONDS/${SYSTEMD_RESTART_SECONDS:-1800}/" "$FILES/semaphore-agent.service" \
    > /etc/systemd/system/semaphore-agent.service
  chmod 0644 /etc/systemd/system/semaphore-agent.service
  # A placeholder: boot writes the real one (endpoint, token) through the agent's own schema.
  install -m 0600 -o semaphore -g semaphore /dev/null "$dir/config.yaml"
fi
# The installer's placeholder holds a dummy token; boot rewrites it readable by the agent only.
chmod 0600 "$dir/config.yaml"

install -m 0644 "$FILES/semaphore-agent-health.service" /etc/systemd/system/
install -m 0644 "$FILES/semaphore-agent-health.timer" /etc/systemd/system/
systemctl daemon-reload
# Started by boot, never at OS start: a rebooted instance has no agent and powers off.
systemctl disable semaphore-agent.service semaphore-agent-health.timer
