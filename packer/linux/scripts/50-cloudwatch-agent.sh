#!/usr/bin/env bash
# The CloudWatch agent, shipping the agent's, the health check's and the boot's logs.
set -euo pipefail

arch=$(dpkg --print-architecture)
work=$(mktemp -d)
curl -fsSL "https://s3.amazonaws.com/amazoncloudwatch-agent/ubuntu/$arch/latest/amazon-cloudwatch-agent.deb" \
  -o "$work/amazon-cloudwatch-agent.deb"
dpkg -i -E "$work/amazon-cloudwatch-agent.deb"
rm -rf "$work"
install -m 0644 "${FILES:?}/amazon-cloudwatch-agent.json" \
  /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
systemctl enable amazon-cloudwatch-agent
