#!/usr/bin/env bash
# What the stack's user data runs, as root, once per instance:
#   /opt/semaphore/agent/start.sh <stack>-config
# agent-instance reads the parameters, writes the agent's configuration and starts the agent
# and its health check; on failure it marks the instance unhealthy (or powers it off).
exec /opt/semaphore/agent/agent-instance boot "$@"
