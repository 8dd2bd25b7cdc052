#!/usr/bin/env bash
# Holds the packages matching APT_HOLD_PATTERNS, then upgrades the base image.
# APT_HOLD_PATTERNS: shell globs of installed package names, comma or space separated, or a
# JSON array of strings. Held packages stay held in the image.
set -euo pipefail

apt-get update -q

patterns=()
raw="${APT_HOLD_PATTERNS:-}"
if [[ "$raw" =~ ^[[:space:]]*\[ ]]; then
  mapfile -t patterns < <(python3 -c 'import json,sys; [print(p.strip()) for p in json.loads(sys.argv[1]) if p.strip()]' "$raw")
else
  read -r -a patterns <<< "${raw//,/ }"
fi

if [ "${#patterns[@]}" -gt 0 ]; then
  mapfile -t installed < <(dpkg-query -W -f '${Package}\n')
  held=()
  for pattern in "${patterns[@]}"; do
    for package in "${installed[@]}"; do
      # shellcheck disable=SC2053 # the pattern is a glob on purpose
      if [[ "$package" == $pattern ]] && [[ ! " ${held[*]} " == *" $package "* ]]; then
        held+=("$package")
      fi
    done
  done
  echo "apt hold patterns: ${patterns[*]}"
  if [ "${#held[@]}" -gt 0 ]; then
    echo "holding: ${held[*]}"
    apt-mark hold "${held[@]}"
  else
    echo "no installed package matches"
  fi
fi

apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  --fix-broken dist-upgrade
apt-get -y -q autoremove
