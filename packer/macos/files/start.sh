#!/usr/bin/env bash
# What the stack's user data runs, as root, once per instance (ec2-macos-init):
#   /opt/semaphore/agent/start.sh <stack>-config
exec /opt/semaphore/agent/agent-instance boot "$@"
