#!/usr/bin/env bash
# Provisions the macOS agent image (runs as ec2-user, sudo where needed): the whole EBS volume,
# tools, the CloudWatch agent, the `semaphore` user, the Semaphore agent and toolbox, and the
# agent-instance program behind the stack's user data.
set -euo pipefail

files=${FILES:?}
dir=/opt/semaphore/agent

# The APFS container grows to the volume's size (the base image's is small).
disk=$(diskutil list physical external | awk '/^\/dev\/disk/ { print $1; exit }')
container=$(diskutil list "$disk" | awk '/Apple_APFS/ { print $NF; exit }')
yes | sudo diskutil repairDisk "$disk" || true
sudo diskutil apfs resizeContainer "$container" 0 || true

# First-boot init (and user data) runs again on instances launched from this image.
sudo /usr/local/bin/ec2-macos-init clean --all

case "$(uname -m)" in
  arm64) brew_prefix=/opt/homebrew; arch=arm64 ;;
  x86_64) brew_prefix=/usr/local; arch=x86_64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
eval "$("$brew_prefix/bin/brew" shellenv)"
brew update
brew install jq yq
brew cleanup

# CloudWatch agent (x86_64 build only: Rosetta 2 on arm64).
if [ "$arch" = arm64 ]; then
  sudo softwareupdate --install-rosetta --agree-to-license
fi
curl -fsSL https://s3.amazonaws.com/amazoncloudwatch-agent/darwin/amd64/latest/amazon-cloudwatch-agent.pkg \
  -o /tmp/amazon-cloudwatch-agent.pkg
sudo installer -pkg /tmp/amazon-cloudwatch-agent.pkg -target /
rm /tmp/amazon-cloudwatch-agent.pkg
sudo install -m 0644 "$files/amazon-cloudwatch-agent.json" \
  /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
sudo /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
  -c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json

# The `semaphore` user: staff group, bash, passwordless sudo.
if ! id semaphore >/dev/null 2>&1; then
  uid=$(( $(dscl . -list /Users UniqueID | awk '{ print $2 }' | sort -n | tail -n 1) + 1 ))
  sudo dscl . -create /Users/semaphore
  sudo dscl . -create /Users/semaphore UserShell /bin/bash
  sudo dscl . -create /Users/semaphore RealName Semaphore
  sudo dscl . -create /Users/semaphore UniqueID "$uid"
  sudo dscl . -create /Users/semaphore PrimaryGroupID 20
  sudo dscl . -create /Users/semaphore NFSHomeDirectory /Users/semaphore
  sudo createhomedir -c -u semaphore
fi
echo "semaphore ALL=(ALL) NOPASSWD: ALL" | sudo tee /etc/sudoers.d/semaphore >/dev/null
sudo chmod 0440 /etc/sudoers.d/semaphore
sudo visudo -cf /etc/sudoers.d/semaphore

# The Semaphore agent and toolbox. The agent is this repository's Rust agent (built by `make
# instance.build`, like agent-instance), unless INSTALL_GO_AGENT=true installs the Go agent
# release AGENT_VERSION (whose installer writes the launch daemon). Either way it is not started.
sudo mkdir -p "$dir/hooks" "$dir/launchd"
sudo install -m 0755 /tmp/agent-instance "$dir/agent-instance"
sudo install -m 0755 "$files/start.sh" "$dir/start.sh"
sudo install -m 0755 "$files/shutdown" "$dir/hooks/shutdown"
sudo install -m 0644 -o root -g wheel "$files/com.semaphoreci.health-check.plist" \
  "$dir/launchd/com.semaphoreci.health-check.plist"
if [ "${INSTALL_GO_AGENT:-false}" = true ]; then
  curl -fsSL "https://github.com/semaphoreci/agent/releases/download/${AGENT_VERSION:?}/agent_Darwin_$arch.tar.gz" \
    | sudo tar -xz -C "$dir"
  sudo chown -R semaphore:staff "$dir"
  sudo chown root:wheel "$dir/agent-instance" "$dir/launchd" "$dir/launchd/com.semaphoreci.health-check.plist"
  (
    cd "$dir"
    sudo SEMAPHORE_AGENT_INSTALLATION_USER=semaphore \
      SEMAPHORE_TOOLBOX_VERSION="${TOOLBOX_VERSION:?}" \
      SEMAPHORE_AGENT_START=false \
      SEMAPHORE_REGISTRATION_TOKEN=DUMMY \
      SEMAPHORE_ORGANIZATION=DUMMY \
      SEMAPHORE_AGENT_SHUTDOWN_HOOK="$dir/hooks/shutdown" \
      ./install.sh
  )
else
  sudo install -m 0755 /tmp/semaphore-agent "$dir/agent"
  sudo chown -R semaphore:staff "$dir"
  sudo chown root:wheel "$dir/agent-instance" "$dir/agent" "$dir/launchd" \
    "$dir/launchd/com.semaphoreci.health-check.plist"
  # The toolbox, as the Go agent's installer sets it up (no Erlang here, so no `when`).
  case "$arch" in
    arm64) toolbox=self-hosted-darwin-arm.tar ;;
    *) toolbox=self-hosted-darwin.tar ;;
  esac
  work=$(mktemp -d)
  curl -fsSL "https://github.com/semaphoreci/toolbox/releases/download/${TOOLBOX_VERSION:?}/$toolbox" \
    | tar -x -C "$work"
  sudo rm -rf /Users/semaphore/.toolbox
  sudo mv "$work/toolbox" /Users/semaphore/.toolbox
  rm -rf "$work"
  sudo chown -R semaphore:staff /Users/semaphore/.toolbox
  sudo -u semaphore -H bash /Users/semaphore/.toolbox/install-toolbox
  if ! sudo grep -qxF 'source ~/.toolbox/toolbox' /Users/semaphore/.bash_profile 2>/dev/null; then
    echo 'source ~/.toolbox/toolbox' | sudo -u semaphore tee -a /Users/semaphore/.bash_profile >/dev/null
  fi
  sudo install -m 0644 -o root -g wheel "$files/com.semaphoreci.agent.plist" \
    /Library/LaunchDaemons/com.semaphoreci.agent.plist
  # A placeholder: boot writes the real one (endpoint, token) through the agent's own schema.
  sudo install -m 0600 -o semaphore -g staff /dev/null "$dir/config.yaml"
fi
sudo chmod 0600 "$dir/config.yaml"
rm -rf "$files" /tmp/agent-instance /tmp/semaphore-agent
