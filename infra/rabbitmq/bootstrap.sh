#!/usr/bin/env bash
# Idempotent RabbitMQ bootstrap for a local development and test node: the Prometheus exporter
# (rabbitmq_prometheus, :15692) and the operator users the
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
# intact, which RabbitMQ allows only to users tagged impersonator. Operators are not. guest keeps no
# administrator tag (no management login); RabbitMQ lets it connect from loopback only (loopback_users).
ctl set_user_tags guest impersonator >/dev/null
# The message size limit of compose and Kubernetes (rabbitmq.conf), for new channels of this node.
max_message_size=$(awk -F' *= *' '$1 == "max_message_size" {print $2}' "$(dirname "$0")/rabbitmq.conf")
ctl eval "application:set_env(rabbit, max_message_size, ${max_message_size:?missing in rabbitmq.conf})." >/dev/null
# RabbitMQ's own Prometheus exporter on :15692 (queue depths, error queues included; scraped as in
# infra/prometheus/prometheus.yml). Enabling an enabled plugin changes nothing.
rabbitmq-plugins -n "$node" -q enable rabbitmq_prometheus >/dev/null \
  || echo "bootstrap: could not enable rabbitmq_prometheus (run as the broker's owner or root)" >&2
# The consistent-hash exchange partitions DriftDetection's models over its replicas' queues
# (DriftDetection:Partitions, docs/drift.md). It ships with RabbitMQ; enabling it restarts nothing.
rabbitmq-plugins -n "$node" -q enable rabbitmq_consistent_hash_exchange >/dev/null \
  || echo "bootstrap: could not enable rabbitmq_consistent_hash_exchange (run as the broker's owner or root)" >&2
