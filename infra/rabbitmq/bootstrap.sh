#!/usr/bin/env bash
# Idempotent RabbitMQ bootstrap for a local node: the pipeline vhost user and the operator users
# whose names the approval allow-list refers to. In docker compose the same users come from
# infra/rabbitmq/definitions.json.
set -euo pipefail
node="${1:-rabbit@localhost}"
ctl() { rabbitmqctl -n "$node" -q "$@"; }
add_user() {
  local user=$1 pass=$2
  ctl list_users | awk '{print $1}' | grep -qx "$user" || ctl add_user "$user" "$pass"
  ctl set_permissions -p / "$user" '.*' '.*' '.*'
}
add_user pipeline pipeline
add_user alice alice
add_user mallory mallory
