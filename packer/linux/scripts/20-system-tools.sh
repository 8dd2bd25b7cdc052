#!/usr/bin/env bash
# Tools jobs expect, and no unattended upgrades: they restart services mid-job and kill the
# agent (the original's #192).
set -euo pipefail

apt-get install -y -q apt-transport-https apt-utils ca-certificates git curl \
  software-properties-common zip unzip jq make gnupg tree wget python3 python3-pip \
  python-is-python3 cron
apt-get remove -y -q --purge unattended-upgrades || true
systemctl disable --now apt-daily.timer apt-daily-upgrade.timer || true
