#!/usr/bin/env bash
# The `semaphore` user runs the agent and its jobs: bash, Docker, passwordless sudo.
set -euo pipefail

if ! id semaphore >/dev/null 2>&1; then
  useradd --create-home --home-dir /home/semaphore --shell /bin/bash semaphore
fi
usermod -aG docker semaphore
echo "semaphore ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/90-semaphore
chmod 0440 /etc/sudoers.d/90-semaphore
visudo -cf /etc/sudoers.d/90-semaphore
