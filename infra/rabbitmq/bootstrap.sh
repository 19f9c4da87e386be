#!/usr/bin/env bash
# Idempotent RabbitMQ bootstrap for a local development and test node: the operator users the
# tests log in as (alice, an approver; mallory, nobody). Services run as guest here; in docker
# compose each service has its own least-privilege user (infra/rabbitmq/start.sh, permissions.sh)
# and guest is removed.
set -euo pipefail
node="${1:-rabbit@localhost}"
ctl() { rabbitmqctl -n "$node" -q "$@"; }
users=$(ctl list_users | awk 'NR > 1 {print $1}')
add_user() {
  local user=$1 pass=$2
  grep -qx "$user" <<<"$users" || ctl add_user "$user" "$pass" >/dev/null
  ctl set_permissions -p / "$user" '.*' '.*' '.*'
}
add_user alice alice
add_user mallory mallory
# Service accounts forward operators' messages (error queues, faults) with the sender's user_id
# intact, which RabbitMQ allows only to users tagged impersonator. Operators are not.
ctl set_user_tags guest administrator impersonator >/dev/null
# The message size limit of compose and Kubernetes (rabbitmq.conf), for new channels of this node.
max_message_size=$(awk -F' *= *' '$1 == "max_message_size" {print $2}' "$(dirname "$0")/rabbitmq.conf")
ctl eval "application:set_env(rabbit, max_message_size, ${max_message_size:?missing in rabbitmq.conf})." >/dev/null
