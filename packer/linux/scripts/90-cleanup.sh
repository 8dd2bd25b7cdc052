#!/usr/bin/env bash
# Smaller image, nothing from the build left behind.
set -euo pipefail

apt-get remove -y -q --purge man-db || true
apt-get -y -q autoremove
apt-get clean
rm -rf /tmp/files /tmp/agent-instance /tmp/semaphore-agent /var/lib/apt/lists/*
cloud-init clean --logs
