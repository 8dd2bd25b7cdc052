#!/usr/bin/env bash
# Erlang from the RabbitMQ team's repository (the toolbox's `when` needs an OTP release).
set -euo pipefail

if [ "${INSTALL_ERLANG:-true}" != "true" ]; then
  echo "INSTALL_ERLANG=${INSTALL_ERLANG:-}: skipping Erlang"
  exit 0
fi

key_url="https://keys.openpgp.org/vks/v1/by-fingerprint/0A9AF2115F4687BD29803A206B73A36E6026DFCA"
key_sha256="b78771a394c747e0e72a26a558277edd6869d9cd8a963bdbc57efbe11b59f08d"
keyring=/usr/share/keyrings/com.rabbitmq.team.gpg

curl -fsSL "$key_url" -o "$keyring.asc"
echo "$key_sha256  $keyring.asc" | sha256sum -c -
gpg --dearmor --yes -o "$keyring" "$keyring.asc"

codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
arch=$(dpkg --print-architecture)
{
  echo "deb [arch=$arch signed-by=$keyring] https://deb1.rabbitmq.com/rabbitmq-erlang/ubuntu/$codename $codename main"
  echo "deb [arch=$arch signed-by=$keyring] https://deb2.rabbitmq.com/rabbitmq-erlang/ubuntu/$codename $codename main"
} > /etc/apt/sources.list.d/rabbitmq-erlang.list
apt-get update -q
apt-get install -y -q erlang-base=1:26.2.5.13-1
