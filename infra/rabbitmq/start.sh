#!/usr/bin/env bash
# RabbitMQ container entry point: start the broker, give every pipeline service its own user
# (permissions.sh) and the operators theirs, then remove guest. Passwords come from the
# environment (docker compose reads them from .env, which is not committed).
set -euo pipefail
docker-entrypoint.sh rabbitmq-server &
server=$!
node="rabbit@$(hostname)"
until rabbitmq-diagnostics -q ping >/dev/null 2>&1; do sleep 1; done
rabbitmqctl -q await_startup
for op in ${PIPELINE_AMQP_OPERATORS:-}; do
  var="PIPELINE_AMQP_PASSWORD_$(echo "$op" | tr 'a-z-' 'A-Z_')"
  password="${!var:?$var is required for operator $op}"
  rabbitmqctl -q add_user "$op" "$password" >/dev/null 2>&1 || rabbitmqctl -q change_password "$op" "$password" >/dev/null
done
bash /etc/rabbitmq/permissions.sh "$node" / ${PIPELINE_AMQP_OPERATORS:-}
rabbitmqctl -q delete_user guest >/dev/null 2>&1 || true
touch /tmp/pipeline-users-ready
wait "$server"
