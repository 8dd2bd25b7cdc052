#!/usr/bin/env bash
# AWS CLI v2 for jobs (the agent's own programs do not need it).
set -euo pipefail

case "$(uname -m)" in
  x86_64) arch=x86_64 ;;
  aarch64) arch=aarch64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
work=$(mktemp -d)
curl -fsSL "https://awscli.amazonaws.com/awscli-exe-linux-$arch-${AWSCLI_VERSION:?}.zip" -o "$work/awscli.zip"
unzip -q "$work/awscli.zip" -d "$work"
"$work/aws/install" --install-dir /usr/local/aws --bin-dir /usr/local/bin --update
rm -rf "$work"
aws --version
