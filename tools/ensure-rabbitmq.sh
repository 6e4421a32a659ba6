#!/usr/bin/env bash
# Make sure a local RabbitMQ is up with its management API (the tests make a vhost per test
# through it). Installs the Debian package if the machine has none; starts the node if down.
set -euo pipefail
if ! command -v rabbitmqctl >/dev/null 2>&1; then
  echo "rabbitmq: not installed; installing Debian's rabbitmq-server" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi
if ! rabbitmqctl -q status >/dev/null 2>&1; then
  echo "rabbitmq: not running; starting it" >&2
  rabbitmq-server -detached
  rabbitmqctl -q await_startup --timeout 60
fi
if ! rabbitmq-plugins -q is_enabled rabbitmq_management >/dev/null 2>&1; then
  echo "rabbitmq: enabling the management plugin" >&2
  rabbitmq-plugins -q enable rabbitmq_management >/dev/null
fi
for _ in $(seq 1 100); do
  if curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1; then exit 0; fi
  sleep 0.2
done
echo "rabbitmq: management API did not come up on 127.0.0.1:15672" >&2
exit 1
